#!/usr/bin/python3
"""Test receivers, on free loopback ports: an HTTP server that records every POST (one JSON
line per request: method, path, headers and body) and an SMTP sink writing a Maildir. Prints the ports on
stdout as "http PORT" and "smtp PORT", then serves until killed.
usage: sinks.py DIR"""
import asyncio
import http.server
import json
import os
import socket
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

out = sys.argv[1]


class Recorder(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with open(os.path.join(out, "posts.jsonl"), "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path, "body": body,
                                "headers": dict(self.headers.items())}) + "\n")
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
threading.Thread(target=httpd.serve_forever, daemon=True).start()

s = socket.socket()
s.bind(("127.0.0.1", 0))
smtp_port = s.getsockname()[1]
s.close()
controller = Controller(Mailbox(os.path.join(out, "Maildir")), hostname="127.0.0.1", port=smtp_port)
controller.start()
print(f"http {httpd.server_address[1]}", flush=True)
print(f"smtp {smtp_port}", flush=True)
threading.Event().wait()
