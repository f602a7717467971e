"""The lab's fake "outside world" HTTPS server.

Serves every name the lab DNS hands out, with a certificate from the lab's
"public" CA, on each port given (443 and 8443 in the lab). It records every
metering call (``POST .../metering/...``) so tests can ask whether metering got
through and when: ``GET /_lab/metering`` returns the records as JSON, newest
last, and ``DELETE /_lab/metering`` forgets them. Any other request is answered
with a small JSON echo of what arrived (host, SNI, port), which lets a test see
which name and port a connection really reached.

Records never hold the ApiKey, only a short hash of it.
"""

import argparse
import hashlib
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class MeteringLog:
    """An append-only JSON-lines file of metering calls, safe across threads."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def append(self, record):
        with self.lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    def read(self):
        with self.lock:
            if not os.path.exists(self.path):
                return []
            with open(self.path, encoding="utf-8") as handle:
                return [json.loads(line) for line in handle if line.strip()]

    def clear(self):
        with self.lock:
            open(self.path, "w", encoding="utf-8").close()


def key_fingerprint(key):
    return hashlib.sha256(key.encode()).hexdigest()[:12] if key else None


def make_handler(log, port):
    class Handler(BaseHTTPRequestHandler):
        server_version = "LabInternet/1.0"
        protocol_version = "HTTP/1.1"

        def _reply(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _arrival(self):
            return {
                "host": (self.headers.get("Host") or "").split(":")[0],
                "sni": getattr(self.connection, "lab_sni", None),
                "port": port,
                "client": self.client_address[0],
                "path": self.path,
            }

        def do_GET(self):
            if self.path.startswith("/_lab/metering"):
                self._reply(200, log.read())
            else:
                self._reply(200, self._arrival())

        def do_DELETE(self):
            if self.path.startswith("/_lab/metering"):
                log.clear()
                self._reply(200, [])
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            arrival = self._arrival()
            if "/license/" in self.path:
                key = key_fingerprint(self.headers.get("Ocp-Apim-Subscription-Key"))
                self._reply(200, {"issued": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "key_sha256": key})
                return
            if "/metering/" not in self.path:
                self._reply(200, arrival)
                return
            try:
                usage = json.loads(raw or b"{}")
            except ValueError:
                usage = {"unparsed": raw[:200].decode("utf-8", "replace")}
            record = dict(
                arrival,
                time=time.time(),
                iso_time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                key_sha256=key_fingerprint(self.headers.get("Ocp-Apim-Subscription-Key")),
                usage=usage,
            )
            log.append(record)
            self._reply(200, {"accepted": True})

    return Handler


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def remember_sni(sock, server_name, _context):
        sock.lab_sni = server_name

    context.sni_callback = remember_sni
    return context


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, context):
        super().__init__(address, handler)
        self.context = context

    def get_request(self):
        sock, address = self.socket.accept()
        # The handshake runs on first read, in the request's own thread, so one
        # slow or failing client cannot stall the accept loop.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--log", default="/var/lib/labnet/metering.jsonl")
    parser.add_argument("--port", type=int, action="append", default=[])
    args = parser.parse_args()
    log = MeteringLog(args.log)
    context = tls_context(args.cert, args.key)
    servers = [TLSServer(("", port), make_handler(log, port), context) for port in args.port or [443]]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
