"""What a transfer costs without the client's disk: an HTTP GET read in 1 MB pieces and thrown
away (the server's side of a download), or raw loopback TCP (the bound for any download here).

usage: tcp_read.py get URL TOKEN   |   tcp_read.py raw MEGABYTES     (prints milliseconds)
"""
import socket
import sys
import threading
import time
import urllib.parse


def drain(sock):
    buf = bytearray(1 << 20)
    got = 0
    while True:
        n = sock.recv_into(buf)
        if not n:
            return got
        got += n


def get(url, token):
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nAuthorization: Bearer {token}\r\n"
              "Connection: close\r\n\r\n".encode())
    t = time.monotonic()
    drain(s)
    return time.monotonic() - t


def raw(megabytes):
    size = megabytes << 20
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def send():
        c, _ = srv.accept()
        buf = b"\0" * (1 << 20)
        left = size
        while left > 0:
            left -= c.send(buf[: min(left, len(buf))])
        c.close()

    threading.Thread(target=send).start()
    s = socket.create_connection(srv.getsockname())
    t = time.monotonic()
    drain(s)
    return time.monotonic() - t


if __name__ == "__main__":
    secs = get(sys.argv[2], sys.argv[3]) if sys.argv[1] == "get" else raw(int(sys.argv[2]))
    print(int(secs * 1000))
