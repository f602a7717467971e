"""Try TLS connections the way a metering client would, and say what happened.

usage: python3 probe.py [--source-port N] NAME:PORT [NAME:PORT ...]   (NAME may be an IP address)
       python3 probe.py [--ca FILE] --proxy HOST:PORT NAME:PORT[/SNI] ...  (CONNECT through a proxy;
                                                                   /SNI sends another server name)

Prints one JSON object per target: {"target", "result"} where result is
"ok" (TCP and TLS handshake done), "refused", "timeout", "unreachable",
"dns-error" or "tls-error: ...". The lab CA is not needed: the question is
whether the network lets the connection through, not who answers. With
--ca, the chain must also lead to that CA ("tls-error:
CERTIFICATE_VERIFY_FAILED" when a proxy re-signed it): who answers, too.
"""

import json
import socket
import ssl
import sys

TIMEOUT = 3


def through_proxy(proxy, target):
    """Connect to ``proxy`` and ask for a tunnel to ``target``; the open socket, or a result string."""
    proxy_host, proxy_port = proxy.rsplit(":", 1)
    raw = socket.create_connection((proxy_host, int(proxy_port)), timeout=TIMEOUT)
    raw.sendall("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\n\r\n".format(target).encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = raw.recv(4096)
        if not chunk:
            raw.close()
            return "refused"
        answer += chunk
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    if " 200 " not in status + " ":
        raw.close()
        return "proxy-refused: {0}".format(status)
    return raw


def handshake(connect, server_name, ca_file=None):
    """TLS over the socket ``connect()`` returns (or the result string it returns instead)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED if ca_file else ssl.CERT_NONE
    try:
        raw = connect()
        if isinstance(raw, str):
            return raw
        with raw, context.wrap_socket(raw, server_hostname=server_name):
            return "ok"
    except (ConnectionResetError, ConnectionRefusedError):
        return "refused"
    except TimeoutError:
        return "timeout"
    except ssl.SSLError as error:
        return "tls-error: {0}".format(error.reason)
    except OSError as error:
        return "unreachable: {0}".format(error.strerror)


def probe_via_proxy(proxy, argument, ca_file=None):
    target, sni = [*argument.split("/", 1), ""][:2]
    return handshake(lambda: through_proxy(proxy, target), sni or target.rsplit(":", 1)[0], ca_file)


def probe(target, source_port=0):
    host, port = target.rsplit(":", 1)
    try:
        address = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0][4]
    except socket.gaierror:
        return "dns-error"
    # A chosen source port stands in for a process that binds a management
    # port (22) to send a new connection "as if" it were an SSH reply.
    source = ("", source_port) if source_port else None
    server_name = None if host.replace(".", "").isdigit() else host
    return handshake(lambda: socket.create_connection(address[:2], timeout=TIMEOUT, source_address=source), server_name)


arguments = sys.argv[1:]
options = {"--source-port": 0, "--proxy": None, "--ca": None}
while arguments[:1] and arguments[0] in options:
    options[arguments[0]], arguments = arguments[1], arguments[2:]
port, via, ca = int(options["--source-port"]), options["--proxy"], options["--ca"]
if ca and not via:
    sys.exit("probe.py: --ca checks the chain through a proxy; give --proxy too")
for argument in arguments:
    result = probe_via_proxy(via, argument, ca) if via else probe(argument, port)
    print(json.dumps({"target": argument, "result": result}), flush=True)
