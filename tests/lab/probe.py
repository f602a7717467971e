"""Try TLS connections the way a metering client would, and say what happened.

usage: python3 probe.py [--source-port N] NAME:PORT [NAME:PORT ...]   (NAME may be an IP address)

Prints one JSON object per target: {"target", "result"} where result is
"ok" (TCP and TLS handshake done), "refused", "timeout", "unreachable",
"dns-error" or "tls-error: ...". The lab CA is not needed: the question is
whether the network lets the connection through, not who answers.
"""

import json
import socket
import ssl
import sys

TIMEOUT = 3


def probe(target, source_port=0):
    host, port = target.rsplit(":", 1)
    try:
        address = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0][4]
    except socket.gaierror:
        return "dns-error"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        # A chosen source port stands in for a process that binds a management
        # port (22) to send a new connection "as if" it were an SSH reply.
        source = ("", source_port) if source_port else None
        with socket.create_connection(address[:2], timeout=TIMEOUT, source_address=source) as raw:
            server_name = None if host.replace(".", "").isdigit() else host
            with context.wrap_socket(raw, server_hostname=server_name):
                return "ok"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except ssl.SSLError as error:
        return "tls-error: {0}".format(error.reason)
    except OSError as error:
        return "unreachable: {0}".format(error.strerror)


arguments = sys.argv[1:]
port = 0
if arguments[:1] == ["--source-port"]:
    port, arguments = int(arguments[1]), arguments[2:]
for argument in arguments:
    print(json.dumps({"target": argument, "result": probe(argument, port)}), flush=True)
