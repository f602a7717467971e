"""tls_inspect: read the chain real local TLS servers present and tell genuine from re-signed.

The lab in this file, all on 127.0.0.1:

* a "genuine" server sending leaf + intermediate, the intermediate from
  organization "Microsoft Corporation" under a private root;
* an "intercepting" server whose leaf is re-signed by "Lab DPI CA";
* HTTP CONNECT proxies: one forwards every tunnel to the genuine server
  (so endpoint names need not resolve), one answers 403;
* a closed port, and a listener that never answers the TLS handshake
  (what the lab's inline IPS does).
"""

import base64
import datetime
import hashlib
import ipaddress
import socket
import socketserver
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.aicontainers.hardening.plugins.module_utils import tls_inspect
from ansible_collections.aicontainers.hardening.plugins.module_utils.tls_inspect import (
    TlsCheckError,
    build_settings,
    check_endpoints,
    describe_certificate,
    judge,
    normalise_endpoints,
    presented_chain,
)
from ansible_collections.aicontainers.hardening.tests.unit.plugins import certificates

DEFAULT_ISSUERS = ["Microsoft Corporation", "DigiCert Inc"]
LOCALHOST_SANS = (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")))


# --------------------------------------------------------------------------
# Certificates (EC keys: RSA generation would eat the time budget)
# --------------------------------------------------------------------------


_name = certificates.name


def _issue(subject, key, issuer=None, issuer_key=None, *, ca, sans=(), not_after=None):
    """A certificate for key; self-signed when no issuer is given (a TLS server's: no client-only usage)."""
    issuer_name = issuer.subject if issuer else subject
    return certificates.build(
        subject, issuer_name, key.public_key(), issuer_key or key, ca=ca, sans=sans, not_after=not_after, usage=None
    )


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem(*certificates):
    return b"".join(certificate.public_bytes(serialization.Encoding.PEM) for certificate in certificates)


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _spki_pin(certificate):
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """The genuine and the intercepting PKI, as objects and as PEM files."""
    directory = tmp_path_factory.mktemp("tls-inspect")
    keys = {name: _key() for name in ("root", "intermediate", "leaf", "dpi_ca", "dpi_leaf")}
    root = _issue(_name("Unit Test Root CA", "Unit Test Roots"), keys["root"], ca=True)
    intermediate = _issue(
        _name("Microsoft Azure Test TLS Issuing CA", "Microsoft Corporation"),
        keys["intermediate"],
        root,
        keys["root"],
        ca=True,
    )
    leaf = _issue(_name("localhost"), keys["leaf"], intermediate, keys["intermediate"], ca=False, sans=LOCALHOST_SANS)
    dpi_ca = _issue(_name("Lab DPI CA", "Lab DPI"), keys["dpi_ca"], ca=True)
    # A DPI proxy copies the subject of the real leaf and signs its own key.
    dpi_leaf = _issue(_name("localhost"), keys["dpi_leaf"], dpi_ca, keys["dpi_ca"], ca=False, sans=LOCALHOST_SANS)

    files = {
        "genuine_chain": _pem(leaf, intermediate),
        "genuine_key": _key_pem(keys["leaf"]),
        "dpi_chain": _pem(dpi_leaf),
        "dpi_key": _key_pem(keys["dpi_leaf"]),
        "root": _pem(root),
        "not_pem": b"this is not a certificate\n",
    }
    paths = {}
    for name, content in files.items():
        paths[name] = directory / (name + ".pem")
        paths[name].write_bytes(content)
    return {
        "root": root,
        "intermediate": intermediate,
        "leaf": leaf,
        "dpi_ca": dpi_ca,
        "dpi_leaf": dpi_leaf,
        "paths": {name: str(path) for name, path in paths.items()},
    }


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------


class _LocalServer(socketserver.ThreadingTCPServer):
    """A threaded TCP server on 127.0.0.1 with a free port, serving in the background."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, handler):
        super().__init__(("127.0.0.1", 0), handler)
        self.port = self.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.shutdown()
        self.server_close()


class _TlsHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(5)
        try:
            with self.server.tls_context.wrap_socket(self.request, server_side=True) as tls:
                tls.recv(1)  # hold the connection until the client closes it
        except OSError:  # a client that rejects our chain aborts the handshake
            pass


def _tls_server(chain_path, key_path):
    server = _LocalServer(_TlsHandler)
    server.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.tls_context.load_cert_chain(chain_path, key_path)
    return server


def _pump(source, sink):
    """Copy bytes one way until source closes, then pass the close on."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class _ConnectHandler(socketserver.BaseRequestHandler):
    """An HTTP CONNECT proxy that sends every tunnel to one upstream port, or refuses."""

    def handle(self):
        self.request.settimeout(5)
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            byte = self.request.recv(1)
            if not byte:
                return
            head += byte
        self.server.requests.append(head.decode("latin-1"))
        if self.server.refuse_with:
            self.request.sendall("HTTP/1.1 {0}\r\n\r\n".format(self.server.refuse_with).encode())
            return
        with socket.create_connection(("127.0.0.1", self.server.upstream_port), timeout=5) as upstream:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            backwards = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
            backwards.start()
            _pump(self.request, upstream)
            backwards.join(2)


def _connect_proxy(upstream_port=None, refuse_with=None):
    server = _LocalServer(_ConnectHandler)
    server.upstream_port, server.refuse_with, server.requests = upstream_port, refuse_with, []
    return server


@pytest.fixture(scope="module")
def genuine(certs):
    with _tls_server(certs["paths"]["genuine_chain"], certs["paths"]["genuine_key"]) as server:
        yield server


@pytest.fixture(scope="module")
def intercepting(certs):
    with _tls_server(certs["paths"]["dpi_chain"], certs["paths"]["dpi_key"]) as server:
        yield server


@pytest.fixture
def forwarding_proxy(genuine):
    with _connect_proxy(upstream_port=genuine.port) as proxy:
        yield proxy


@pytest.fixture
def refusing_proxy():
    with _connect_proxy(refuse_with="403 Forbidden") as proxy:
        yield proxy


@pytest.fixture
def closed_port():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    return port


@pytest.fixture
def silent_port():
    """Accepts TCP (in the kernel's backlog) but never answers: TLS handshakes time out."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def _check(*endpoints, **options):
    options.setdefault("expected_issuers", DEFAULT_ISSUERS)
    options.setdefault("timeout", 3)
    return check_endpoints(list(endpoints), build_settings(**options))


def _local(server_or_port, **endpoint):
    port = getattr(server_or_port, "port", server_or_port)
    return {"host": "127.0.0.1", "port": port, **endpoint}


# --------------------------------------------------------------------------
# DER parsing against cryptography's own view
# --------------------------------------------------------------------------


def _awkward_certificate():
    """Names with characters RFC 4514 escapes, non-ASCII, an OID without a short name, a 2051 expiry."""
    key = _key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CH"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Zürich"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'Contoso, Ltd. <+;"\\>'),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "#hash and trailing space "),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "pki@example.com"),
            x509.NameAttribute(NameOID.COMMON_NAME, " leading space"),
        ]
    )
    return _issue(subject, key, ca=True, not_after=datetime.datetime(2051, 1, 2, 3, 4, 5, tzinfo=datetime.UTC))


@pytest.mark.parametrize("which", ["root", "intermediate", "leaf", "dpi_leaf", "awkward"])
def test_der_parsing_matches_cryptography(certs, which):
    certificate = _awkward_certificate() if which == "awkward" else certs[which]
    der = certificate.public_bytes(serialization.Encoding.DER)

    described = describe_certificate(der)

    def first(name, oid):
        values = [attribute.value for attribute in name.get_attributes_for_oid(oid)]
        return ", ".join(values) or None

    assert described == {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "organization": first(certificate.subject, NameOID.ORGANIZATION_NAME),
        "common_name": first(certificate.subject, NameOID.COMMON_NAME),
        "issuer_organization": first(certificate.issuer, NameOID.ORGANIZATION_NAME),
        "issuer_common_name": first(certificate.issuer, NameOID.COMMON_NAME),
        "not_before": certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "spki_sha256": _spki_pin(certificate),
        "sha256": certificate.fingerprint(hashes.SHA256()).hex(),
    }


def test_unreadable_certificate_keeps_its_fingerprint_and_is_not_genuine():
    described = describe_certificate(b"\x30\x03\x02\x01\x01")
    assert described["sha256"] == hashlib.sha256(b"\x30\x03\x02\x01\x01").hexdigest()
    assert described["subject"] is None and described["spki_sha256"] is None
    intercepted, reason = judge([described], build_settings(expected_issuers=DEFAULT_ISSUERS))
    assert intercepted and "an unreadable issuer" in reason


# --------------------------------------------------------------------------
# Genuine and intercepted chains
# --------------------------------------------------------------------------


def test_genuine_chain_is_not_intercepted(certs, genuine):
    result = _check(_local(genuine))
    (report,) = result["endpoints"]
    assert report["reachable"] and report["error"] is None
    assert [entry["common_name"] for entry in report["chain"]] == ["localhost", "Microsoft Azure Test TLS Issuing CA"]
    assert report["chain"][0]["issuer_organization"] == "Microsoft Corporation"
    assert report["intercepted"] is False
    assert report["reason"] == (
        "the chain is issued by 'Microsoft Azure Test TLS Issuing CA' (organization 'Microsoft Corporation'), "
        "which matches the expected issuer 'Microsoft Corporation'"
    )
    assert report["verified"] is None and report["verify_error"] is None
    assert result["intercepted"] is False and result["unreachable_endpoints"] == []
    assert result["msg"] == "Not intercepted: 127.0.0.1:{0}.".format(genuine.port)


def test_resigned_chain_is_intercepted(intercepting):
    result = _check(_local(intercepting))
    (report,) = result["endpoints"]
    assert report["reachable"] and report["intercepted"] is True
    assert [entry["issuer_common_name"] for entry in report["chain"]] == ["Lab DPI CA"]
    assert report["reason"] == (
        "the chain is issued by 'Lab DPI CA' (organization 'Lab DPI'), "
        "not by any of the expected issuers: Microsoft Corporation, DigiCert Inc"
    )
    assert result["intercepted"] is True
    assert result["msg"] == "TLS interception on 127.0.0.1:{0}: {1}.".format(intercepting.port, report["reason"])


def test_expected_issuers_match_case_insensitively_and_by_part(genuine):
    (report,) = _check(_local(genuine), expected_issuers=["microsoft"])["endpoints"]
    assert report["intercepted"] is False


def test_presented_chain_falls_back_to_the_leaf_without_the_private_api(certs):
    leaf_der = certs["leaf"].public_bytes(serialization.Encoding.DER)

    class OldPythonSocket:  # what an SSLSocket looks like before CPython 3.10
        def getpeercert(self, binary_form=False):
            return leaf_der

    assert presented_chain(OldPythonSocket()) == [leaf_der]


# --------------------------------------------------------------------------
# Pins
# --------------------------------------------------------------------------


def test_pins_recognise_the_genuine_chain(certs, genuine, intercepting):
    pin = _spki_pin(certs["intermediate"])
    result = _check(_local(genuine), _local(intercepting), pins=[pin])
    genuine_report, intercepted_report = result["endpoints"]
    assert genuine_report["intercepted"] is False
    assert genuine_report["reason"] == "the SPKI of the certificate {0!r} matches the pin {1}".format(
        certs["intermediate"].subject.rfc4514_string(), pin
    )
    assert intercepted_report["intercepted"] is True
    assert intercepted_report["reason"].startswith("no presented certificate's SPKI matches any of the 1 pins")


def test_pins_take_precedence_over_expected_issuers(certs, intercepting):
    (report,) = _check(_local(intercepting), expected_issuers=["Lab DPI"], pins=[_spki_pin(certs["leaf"])])["endpoints"]
    assert report["intercepted"] is True


# --------------------------------------------------------------------------
# Verification against a CA bundle
# --------------------------------------------------------------------------


def test_ca_bundle_verifies_the_genuine_chain(certs, genuine):
    (report,) = _check(_local(genuine, sni="localhost"), ca_bundle=certs["paths"]["root"])["endpoints"]
    assert report["verified"] is True and report["verify_error"] is None


def test_ca_bundle_rejects_the_resigned_chain(certs, intercepting):
    result = _check(_local(intercepting, sni="localhost"), ca_bundle=certs["paths"]["root"])
    (report,) = result["endpoints"]
    assert report["verified"] is False
    assert report["verify_error"] == "unable to get local issuer certificate"
    assert report["intercepted"] is True  # verification is reported beside the verdict, not instead of it


def test_ca_bundle_checks_the_host_name(certs, genuine):
    result = _check(_local(genuine, sni="other.example"), ca_bundle=certs["paths"]["root"])
    (report,) = result["endpoints"]
    assert report["verified"] is False and "Hostname mismatch" in report["verify_error"]
    assert report["intercepted"] is False
    assert "does not verify against ca_bundle: Hostname mismatch" in result["msg"]


# --------------------------------------------------------------------------
# Proxies
# --------------------------------------------------------------------------


def test_connect_proxy_tunnels_to_the_endpoint(forwarding_proxy):
    endpoint = {"host": "westus.api.cognitive.microsoft.com", "port": 443}  # only the proxy needs to know it
    result = _check(
        endpoint,
        proxy="127.0.0.1:{0}".format(forwarding_proxy.port),
        proxy_headers={"Proxy-Authorization": "Basic dXNlcjpwYXNz"},
    )
    (report,) = result["endpoints"]
    assert report["reachable"] and report["intercepted"] is False and len(report["chain"]) == 2
    (request,) = forwarding_proxy.requests
    assert request.startswith("CONNECT westus.api.cognitive.microsoft.com:443 HTTP/1.1\r\n")
    assert "Host: westus.api.cognitive.microsoft.com:443\r\n" in request
    assert "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n" in request


def test_proxy_that_refuses_makes_the_endpoint_unreachable(refusing_proxy):
    proxy = "127.0.0.1:{0}".format(refusing_proxy.port)
    result = _check({"host": "westus.api.cognitive.microsoft.com"}, proxy=proxy)
    (report,) = result["endpoints"]
    assert not report["reachable"] and report["intercepted"] is None and report["chain"] == []
    assert report["error"] == (
        "the proxy {0} refused CONNECT westus.api.cognitive.microsoft.com:443: HTTP/1.1 403 Forbidden".format(proxy)
    )
    assert report["reason"] == "could not connect: " + report["error"]
    assert result["intercepted"] is False
    assert result["unreachable_endpoints"] == ["westus.api.cognitive.microsoft.com:443"]


def test_unreachable_proxy(closed_port):
    (report,) = _check({"host": "example.com"}, proxy="127.0.0.1:{0}".format(closed_port))["endpoints"]
    assert report["error"] == "cannot reach the proxy 127.0.0.1:{0}: connection refused by 127.0.0.1:{0}".format(
        closed_port
    )


# --------------------------------------------------------------------------
# Unreachable endpoints
# --------------------------------------------------------------------------


def test_closed_port_is_unreachable_not_intercepted(closed_port):
    result = _check(_local(closed_port))
    (report,) = result["endpoints"]
    assert report["reachable"] is False and report["intercepted"] is None
    assert report["error"] == "connection refused by 127.0.0.1:{0}".format(closed_port)
    assert result["intercepted"] is False
    assert result["msg"] == (
        "Unreachable, so not checked for interception: 127.0.0.1:{0} (connection refused by 127.0.0.1:{0}).".format(
            closed_port
        )
    )


def test_tls_handshake_that_gets_no_answer(silent_port):
    (report,) = _check(_local(silent_port), timeout=0.3)["endpoints"]
    assert report["reachable"] is False
    assert report["error"] == (
        "127.0.0.1:{0} accepted the connection but the TLS handshake got no answer within 0.3 s; "
        "something on the path may be dropping TLS (an inline IPS)".format(silent_port)
    )


def test_name_that_does_not_resolve(monkeypatch):
    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    (report,) = _check({"host": "metering.invalid"})["endpoints"]
    assert report["error"] == "cannot resolve the host name metering.invalid: Name or service not known"


def test_summary_keeps_intercepted_genuine_and_unreachable_apart(genuine, intercepting, closed_port):
    result = _check(_local(intercepting), _local(genuine), _local(closed_port))
    assert result["intercepted"] is True
    assert result["unreachable_endpoints"] == ["127.0.0.1:{0}".format(closed_port)]
    sentences = result["msg"].split(". ")
    assert sentences[0].startswith("TLS interception on 127.0.0.1:{0}: ".format(intercepting.port))
    assert sentences[1] == "Not intercepted: 127.0.0.1:{0}".format(genuine.port)
    assert sentences[2].startswith("Unreachable, so not checked for interception: 127.0.0.1:{0}".format(closed_port))


# --------------------------------------------------------------------------
# Invalid options: one sentence that names the option
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"proxy": "proxy.example.com"}, "proxy: 'proxy.example.com' is not host:port"),
        ({"proxy": "https://proxy:3128"}, "proxy: 'https://proxy:3128' is not host:port"),
        ({"proxy": "proxy:99999"}, "proxy: 'proxy:99999' is not host:port"),
        ({"proxy_headers": {"X-Evil": "a\r\nb"}}, "proxy_headers: 'X-Evil' is not a valid header name"),
        ({"pins": ["not base64!"]}, "pins: 'not base64!' is not a base64 SHA-256 hash"),
        ({"pins": ["AAAA"]}, "pins: 'AAAA' is not a base64 SHA-256 hash"),
        (
            {"ca_bundle": "/nonexistent/ca.pem"},
            "ca_bundle: cannot read /nonexistent/ca.pem: No such file or directory.",
        ),
        ({"ca_bundle": "not_pem"}, "holds no usable PEM certificates"),
        ({"timeout": 0}, "timeout: give a number of seconds greater than 0"),
        ({"expected_issuers": []}, "expected_issuers: give at least one issuer name, or give pins."),
    ],
)
def test_invalid_options_name_the_option(certs, options, message):
    if options.get("ca_bundle") == "not_pem":
        options = {"ca_bundle": certs["paths"]["not_pem"]}
    options.setdefault("expected_issuers", DEFAULT_ISSUERS)
    with pytest.raises(TlsCheckError) as raised:
        build_settings(**options)
    assert message in str(raised.value)
    assert str(raised.value).startswith(next(iter(options)) + ":")


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ([], "endpoints: list at least one"),
        ([{"host": ""}], "endpoints[0].host: give the host name"),
        ([{"host": "a"}, {"host": "b", "port": 70000}], "endpoints[1].port: 70000 is not a TCP port"),
        ([{"host": "a", "sni": "a..b"}], "endpoints[0].sni: 'a..b' is not a valid server name."),
    ],
)
def test_invalid_endpoints_name_the_option(endpoints, message):
    with pytest.raises(TlsCheckError, match=message.replace("[", r"\[").replace(".", r"\.")):
        normalise_endpoints(endpoints)


def test_endpoint_defaults():
    assert normalise_endpoints([{"host": "x.example"}]) == [{"host": "x.example", "port": 443, "sni": "x.example"}]


def test_proxy_forms():
    assert tls_inspect.parse_proxy("proxy:3128") == ("proxy", 3128)
    assert tls_inspect.parse_proxy("http://proxy:3128/") == ("proxy", 3128)
    assert tls_inspect.parse_proxy("[fd00::1]:3128") == ("fd00::1", 3128)
