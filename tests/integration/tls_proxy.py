#!/usr/bin/env python3
"""A TLS-terminating proxy in front of one or more boucle servers, as a team runs them: it
serves HTTPS with CERT and KEY on 127.0.0.1 (a free port, printed as "https PORT") and hands
each connection to the next backend in turn (round robin), bytes both ways, unbuffered, so
long polls, followed logs and live events pass as they would through nginx or HAProxy with
buffering off. The backends (HOST:PORT, one a line) are read from BACKENDS at each
connection: the servers may start after the proxy, knowing its address.

usage: tls_proxy.py CERT KEY BACKENDS
"""
import asyncio
import itertools
import ssl
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    cert, key, backends = sys.argv[1], sys.argv[2], sys.argv[3]
    turn = itertools.count()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def serve(client_reader, client_writer):
        with open(backends) as f:
            names = [line.strip() for line in f if line.strip()]
        if not names:
            client_writer.close()
            return
        host, port = names[next(turn) % len(names)].rsplit(":", 1)
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    print("https", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
