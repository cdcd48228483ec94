#!/usr/bin/env python3
"""The S3-compatible server the OpsLogS3 tests run against, with a fault-injecting proxy.

Starts moto's server in this process on a free loopback port (127.0.0.1 only), creates the
test bucket, and puts a proxy in front of it on a second free port. Prints one JSON line,
{"server": PORT, "proxy": PORT, "bucket": NAME}, then serves until standard input closes (the
test process exits or is killed), so no server outlives its tests.

The proxy forwards every request to moto and adds two things the tests need:

- Atomic conditions. moto 5 checks If-None-Match and If-Match on PUT and If-Match on DELETE,
  but a check and its write are not one step under its threaded server; the proxy lets one
  mutating request per key through at a time, so a race between two writers is decided as S3
  decides it, by exactly one winner.
- Faults, set by the tests: POST /__opslog/faults with a JSON list of rules, each
  {"method": "PUT", "keyContains": "ops/", "action": A, "times": N, "every": K,
   "status": 503, "code": "SlowDown", "delayMs": 100}
  where A is "status" (answer with that status and error code, forward nothing), "reset"
  (close the connection before forwarding), "land-then-reset" (forward, let the write land,
  then close the connection without an answer) or "delay" (wait, then forward). A rule applies
  to every K-th matching request, N times in all. DELETE /__opslog/faults clears them;
  GET /__opslog/stats gives {"requests": {METHOD: count}, "faults": count}.

Usage: python3 Tests/S3Support/s3-test-server.py [--bucket NAME] [--port PORT]
(--port fixes the proxy's port, for the README's example; by default both are free ports.)
"""

import argparse
import http.client
import http.server
import json
import logging
import socket
import sys
import threading
import time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.requests = {}
        self.injected = 0

    def set(self, rules):
        with self.lock:
            self.rules = [dict(rule, seen=0, used=0) for rule in rules]

    def clear(self):
        with self.lock:
            self.rules = []

    def pick(self, method, path):
        with self.lock:
            self.requests[method] = self.requests.get(method, 0) + 1
            for rule in self.rules:
                if rule.get("method", method) != method:
                    continue
                if rule.get("keyContains", "") not in path:
                    continue
                if rule["used"] >= rule.get("times", 1):
                    continue
                rule["seen"] += 1
                if rule["seen"] % max(1, rule.get("every", 1)) != 0:
                    continue
                rule["used"] += 1
                self.injected += 1
                return rule
            return None

    def stats(self):
        with self.lock:
            return {"requests": dict(self.requests), "faults": self.injected}


class KeyLocks:
    """One lock per object key: writes to one key go one at a time, others are not held up."""

    def __init__(self):
        self.lock = threading.Lock()
        self.locks = {}

    def for_key(self, key):
        with self.lock:
            return self.locks.setdefault(key, threading.Lock())


def make_handler(upstream_port, faults, write_lock):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def control(self, body):
            if self.command == "POST" and self.path.startswith("/__opslog/faults"):
                faults.set(json.loads(body or b"[]"))
                return self.reply(204)
            if self.command == "DELETE" and self.path.startswith("/__opslog/faults"):
                faults.clear()
                return self.reply(204)
            if self.command == "GET" and self.path.startswith("/__opslog/stats"):
                return self.reply(200, json.dumps(faults.stats()).encode(), [("Content-Type", "application/json")])
            return self.reply(404)

        def drop(self):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def forward(self, body):
            connection = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            headers = {name: value for name, value in self.headers.items() if name.lower() != "connection"}
            connection.request(self.command, self.path, body=body if body else None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            result = (response.status, data, [
                (name, value) for name, value in response.getheaders()
                if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date")
            ])
            connection.close()
            return result

        def handle_any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith("/__opslog/"):
                return self.control(body)
            rule = faults.pick(self.command, self.path)
            if rule is not None:
                action = rule.get("action", "status")
                if action == "status":
                    code = rule.get("code", "InternalError")
                    document = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                                f'<Message>injected by the test proxy</Message></Error>').encode()
                    return self.reply(rule.get("status", 503), document, [("Content-Type", "application/xml")])
                if action == "reset":
                    return self.drop()
                if action == "delay":
                    time.sleep(rule.get("delayMs", 100) / 1000)
            mutating = self.command in ("PUT", "POST", "DELETE")
            if mutating:
                with write_lock.for_key(self.path.split("?", 1)[0]):
                    status, data, headers = self.forward(body)
            else:
                status, data, headers = self.forward(body)
            if rule is not None and rule.get("action") == "land-then-reset":
                return self.drop()
            self.reply(status, data, headers)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bucket", default="opslog-tests")
    parser.add_argument("--port", type=int, default=0, help="the proxy's port (default: a free one)")
    arguments = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    server_port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=server_port, verbose=False)
    server.start()
    for _ in range(100):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server_port, timeout=5)
            connection.request("PUT", "/" + arguments.bucket, headers={"Content-Length": "0"})
            status = connection.getresponse().status
            connection.close()
            if status in (200, 409):
                break
        except OSError:
            time.sleep(0.05)
    else:
        print("the S3 server did not start", file=sys.stderr)
        sys.exit(1)

    faults = Faults()
    proxy = http.server.ThreadingHTTPServer(
        ("127.0.0.1", arguments.port or free_port()), make_handler(server_port, faults, KeyLocks()))
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    print(json.dumps({"server": server_port, "proxy": proxy.server_address[1], "bucket": arguments.bucket}),
          flush=True)

    if sys.stdin.isatty():
        print(f"S3 test server: endpoint http://127.0.0.1:{proxy.server_address[1]}, bucket {arguments.bucket}; "
              "Ctrl-C stops it", file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    else:
        sys.stdin.read()
    proxy.shutdown()
    server.stop()


if __name__ == "__main__":
    main()
