"""Asking the host's resolver: the query we send and how its answer is read,
against a DNS server on this machine's loopback that answers with a chosen code."""

import socket
import struct
import threading

import pytest

from ansible_collections.aicontainers.hardening.plugins.module_utils.resolver_probe import (
    DENIED_NAMES,
    ask,
    denied_name,
    query,
    rcode_of,
    resolver_answers,
)


def test_the_query_asks_one_recursive_a_question_for_the_name():
    ident, packet = query("westus.api.cognitive.microsoft.com.")
    assert struct.unpack("!HHHHHH", packet[:12]) == (ident, 0x0100, 1, 0, 0, 0)
    assert packet[12:] == b"\x06westus\x03api\x09cognitive\x09microsoft\x03com\x00\x00\x01\x00\x01"


@pytest.mark.parametrize(
    "packet, read",
    [
        (struct.pack("!HH", 7, 0x8185) + bytes(8), "REFUSED"),
        (struct.pack("!HH", 7, 0x8183) + bytes(8), "NXDOMAIN"),
        (struct.pack("!HH", 7, 0x8180) + bytes(8), "NOERROR"),
        (struct.pack("!HH", 8, 0x8180) + bytes(8), "malformed answer"),
        (struct.pack("!HH", 7, 0x0100) + bytes(8), "malformed answer"),
        (b"\x00\x07", "malformed answer"),
    ],
    ids=["refused", "nxdomain", "noerror", "another question's id", "a query, not an answer", "short"],
)
def test_the_answer_code_is_read_only_from_an_answer_to_our_question(packet, read):
    assert rcode_of(7, packet) == read


@pytest.fixture(name="resolver")
def fixture_resolver():
    """A UDP server on loopback: REFUSED for DENIED_NAME, NOERROR for every other name."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                packet, peer = sock.recvfrom(4096)
            except OSError:
                return
            code = 5 if DENIED_NAMES[0].split(".", maxsplit=1)[0].encode() in packet else 0
            sock.sendto(packet[:2] + struct.pack("!H", 0x8180 | code) + packet[4:], peer)

    threading.Thread(target=serve, daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


def test_resolver_answers_asks_an_allowed_and_a_denied_name(resolver, monkeypatch):
    monkeypatch.setattr(
        "ansible_collections.aicontainers.hardening.plugins.module_utils.resolver_probe.ask",
        lambda server, name: ask(server, name, port=resolver),
    )
    assert resolver_answers("127.0.0.1", "westus.api.cognitive.microsoft.com") == [
        {"name": "westus.api.cognitive.microsoft.com", "expect": "answered", "answer": "NOERROR"},
        {"name": DENIED_NAMES[0], "expect": "refused", "answer": "REFUSED"},
    ]


def test_the_denied_name_is_one_no_allowed_domain_covers():
    assert denied_name(["cognitive.microsoft.com"]) == "aicontainers-audit.example.com"
    assert denied_name(["example.com", "EXAMPLE.NET."]) == "aicontainers-audit.invalid"


def test_a_name_that_is_no_dns_name_is_not_asked():
    assert ask("127.0.0.1", "a" * 64 + ".example").startswith("not asked")


def test_a_closed_port_answers_at_once_as_no_answer():
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    assert ask("127.0.0.1", "a.example", port=port, timeout=2).startswith("no answer")


def test_a_resolver_that_does_not_answer_is_no_answer():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        assert ask("127.0.0.1", "a.example", port=silent.getsockname()[1], timeout=0.3).startswith("no answer")
    finally:
        silent.close()
