# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask the host's resolver one question and read the answer's code.

The audit's resolver row (AIC-EGRESS-04) judges the resolver by its answers,
not only by its file: an allowed name must get an answer from upstream
(NOERROR or NXDOMAIN), a name outside the allowlist must be REFUSED, and a
resolver that does not answer at all fails the row.
"""

from __future__ import annotations

import secrets
import socket
import struct

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
# An answer from upstream, whatever it says about the name.
ANSWERED = ("NOERROR", "NXDOMAIN")
# Names no allowlist should hold (RFC 2606), asked to show the refusal; the
# first that no allowed domain covers is asked.
DENIED_NAMES = ("aicontainers-audit.example.com", "aicontainers-audit.example.net", "aicontainers-audit.invalid")


def query(name, qtype=1):
    """A DNS query packet for ``name`` (type A by default), with a random ID."""
    ident = secrets.randbelow(1 << 16)
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(label)]) + label for label in name.rstrip(".").encode("idna").split(b"."))
    return ident, header + labels + b"\0" + struct.pack("!HH", qtype, 1)


def rcode_of(ident, packet):
    """The answer's code name, or why the packet is no answer to our question."""
    if len(packet) < 12:
        return "malformed answer"
    answer_id, flags = struct.unpack("!HH", packet[:4])
    if answer_id != ident or not flags & 0x8000:
        return "malformed answer"
    return RCODES.get(flags & 0x000F, "rcode {0}".format(flags & 0x000F))


def ask(server, name, port=53, timeout=3.0):
    """The resolver's answer code for ``name``, or why there is none."""
    try:
        ident, packet = query(name)
    except (UnicodeError, ValueError) as error:
        return "not asked ({0} is no DNS name: {1})".format(name, error)
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            # Connected: only the resolver's own answer counts, and a closed port shows at once.
            sock.connect((server, port))
            sock.send(packet)
            return rcode_of(ident, sock.recv(4096))
        except OSError as error:
            return "no answer ({0})".format(error.strerror or "timed out")


def denied_name(allowed_domains):
    """The first of DENIED_NAMES under none of ``allowed_domains``."""
    def covered(name):
        return any(name == d or name.endswith("." + d) for d in (str(d).lower().strip(".") for d in allowed_domains))

    return next(name for name in DENIED_NAMES if not covered(name))


def resolver_answers(server, allowed_name, allowed_domains=()):
    """[{name, expect, answer}] for an allowed name (when given) and a denied one, asked of ``server``."""
    refused = denied_name(allowed_domains)
    asked = [(allowed_name, "answered"), (refused, "refused")] if allowed_name else [(refused, "refused")]
    return [{"name": name, "expect": expect, "answer": ask(server, name)} for name, expect in asked]
