# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Detect TLS interception: read the chain an endpoint presents and judge whether it is genuine.

A DPI proxy that inspects TLS ends the client's handshake itself and presents
a certificate it made on the fly, signed by its own CA. The Azure AI
containers refuse such a chain, so metering breaks. Looking at who issued the
presented chain (or, more strictly, at the keys in it) tells the two apart.

Stdlib only: the managed hosts may not have python3-cryptography, so a tiny
DER walker below reads the few certificate fields we need.

The steps for one endpoint, each a function below:

1. TCP connect, directly or through an HTTP CONNECT proxy.
2. TLS handshake with SNI and without verification, to see any chain at all.
3. Describe each presented certificate (subject, issuer, key hash, ...).
4. Optionally repeat the handshake verifying against a CA bundle.
5. Judge: genuine if a certificate matches a pin, or else an expected issuer.
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import socket
import ssl


class TlsCheckError(ValueError):
    """An option is unusable; the message names it and says what to fix."""


class Unreachable(Exception):
    """The endpoint's chain could not be read; the message says why in plain words."""


class DerError(ValueError):
    """A certificate is not DER as we expect it."""


# --------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------

# verify_context is None without a ca_bundle; pins are canonical base64.
Settings = collections.namedtuple("Settings", "proxy proxy_headers verify_context expected_issuers pins timeout")


def build_settings(*, proxy=None, proxy_headers=None, ca_bundle=None, expected_issuers=(), pins=(), timeout=10.0):
    """Validate the options shared by every endpoint; raise TlsCheckError naming the bad one."""
    if timeout is None or timeout <= 0:
        raise TlsCheckError("timeout: give a number of seconds greater than 0, not {0!r}.".format(timeout))
    pins = parse_pins(pins or [])
    expected_issuers = [issuer for issuer in (expected_issuers or []) if issuer and issuer.strip()]
    if not pins and not expected_issuers:
        raise TlsCheckError("expected_issuers: give at least one issuer name, or give pins.")
    return Settings(
        proxy=parse_proxy(proxy) if proxy else None,
        proxy_headers=check_proxy_headers(proxy_headers or {}),
        verify_context=load_ca_bundle(ca_bundle) if ca_bundle else None,
        expected_issuers=expected_issuers,
        pins=pins,
        timeout=float(timeout),
    )


def normalise_endpoints(endpoints):
    """Return the endpoints as dicts with host, port and sni (which defaults to host)."""
    if not endpoints:
        raise TlsCheckError("endpoints: list at least one, for example {host: westus.api.cognitive.microsoft.com}.")
    return [normalise_endpoint(index, endpoint) for index, endpoint in enumerate(endpoints)]


def normalise_endpoint(index, endpoint):
    host = str(endpoint.get("host") or "").strip()
    if not host:
        raise TlsCheckError("endpoints[{0}].host: give the host name to connect to.".format(index))
    port = endpoint.get("port")
    port = 443 if port is None else port
    if not str(port).isdigit() or not 0 < int(port) < 65536:
        raise TlsCheckError("endpoints[{0}].port: {1!r} is not a TCP port (1-65535).".format(index, port))
    sni = str(endpoint.get("sni") or host).strip()
    try:
        sni.encode("idna")  # what the ssl module will do with it
    except UnicodeError:
        raise TlsCheckError("endpoints[{0}].sni: {1!r} is not a valid server name.".format(index, sni)) from None
    return {"host": host, "port": int(port), "sni": sni}


def parse_proxy(text):
    """Split 'host:port' (or '[v6]:port', optionally after 'http://') into (host, port)."""
    value = text.strip()
    if value.startswith("http://"):
        value = value[len("http://") :].rstrip("/")
    host, colon, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or "/" in value or not port.isdigit() or not 0 < int(port) < 65536:
        raise TlsCheckError(
            "proxy: {0!r} is not host:port of an HTTP CONNECT proxy, for example proxy.example.com:3128.".format(text)
        )
    return host, int(port)


def check_proxy_headers(headers):
    """Return the headers as strings; refuse line breaks, which would inject lines into CONNECT."""
    checked = {}
    for raw_name, raw_value in headers.items():
        name, value = str(raw_name), str(raw_value)
        if not name or ":" in name or any(character in name + value for character in "\r\n"):
            raise TlsCheckError("proxy_headers: {0!r} is not a valid header name with a one-line value.".format(name))
        checked[name] = value
    return checked


def parse_pins(pins):
    """Return the pins in canonical base64; each must decode to a 32-byte SHA-256 hash."""
    canonical = []
    for pin in pins:
        try:
            digest = base64.b64decode(str(pin).strip(), validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) != hashlib.sha256().digest_size:
            raise TlsCheckError(
                "pins: {0!r} is not a base64 SHA-256 hash of a SubjectPublicKeyInfo "
                "(44 characters, like an HPKP pin-sha256).".format(pin)
            )
        canonical.append(base64.b64encode(digest).decode("ascii"))
    return canonical


def load_ca_bundle(path):
    """Return an SSL context that verifies the chain and host name against the PEM bundle at path."""
    try:
        return ssl.create_default_context(cafile=path)
    except ssl.SSLError as error:  # before OSError: SSLError is one
        raise TlsCheckError(
            "ca_bundle: {0} holds no usable PEM certificates ({1}).".format(path, error.reason or error)
        ) from None
    except OSError as error:
        raise TlsCheckError("ca_bundle: cannot read {0}: {1}.".format(path, error.strerror or error)) from None


# --------------------------------------------------------------------------
# A tiny DER walker: just enough of X.509 to name a certificate
# --------------------------------------------------------------------------

# One DER element: its tag byte, its contents, and the whole encoding (tag,
# length and contents), which is what the SPKI hash is taken over.
Element = collections.namedtuple("Element", "tag contents encoded")

SEQUENCE, SET, CONTEXT_0 = 0x30, 0x31, 0xA0
UTC_TIME, GENERALIZED_TIME = 0x17, 0x18

# How each ASN.1 string type encodes its text.
STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x12: "ascii",  # NumericString
    0x13: "ascii",  # PrintableString
    0x14: "latin-1",  # TeletexString (in practice)
    0x16: "ascii",  # IA5String
    0x1A: "ascii",  # VisibleString
    0x1C: "utf-32-be",  # UniversalString
    0x1E: "utf-16-be",  # BMPString
}

# The attribute names RFC 4514 section 3 defines; others print as dotted OIDs.
RFC4514_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.6": "C",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}


def der_elements(data):
    """Split a run of concatenated DER elements into a list of Element."""
    elements = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 2:
            raise DerError("truncated element header")
        tag, length = data[offset], data[offset + 1]
        start = offset + 2
        if tag & 0x1F == 0x1F:
            raise DerError("multi-byte tags do not occur in certificates")
        if length & 0x80:  # long form: the low bits count the length bytes that follow
            count = length & 0x7F
            if not 0 < count <= 4:
                raise DerError("unsupported length of {0} bytes".format(count))
            length = int.from_bytes(data[start : start + count], "big")
            start += count
        end = start + length
        if end > len(data):
            raise DerError("element runs past the end of the data")
        elements.append(Element(tag, data[start:end], data[offset:end]))
        offset = end
    return elements


def decode_oid(contents):
    """Dotted text of an OBJECT IDENTIFIER: base-128 numbers, the first packing two arcs."""
    numbers, value = [], 0
    for byte in contents:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            numbers.append(value)
            value = 0
    if not numbers:
        raise DerError("empty object identifier")
    first_arc = min(numbers[0] // 40, 2)
    return ".".join(str(number) for number in [first_arc, numbers[0] - 40 * first_arc, *numbers[1:]])


def decode_string(element):
    codec = STRING_CODECS.get(element.tag)
    if codec is None:  # not a string type: show the encoding, as RFC 4514 does
        return "#" + binascii.hexlify(element.encoded).decode("ascii")
    return element.contents.decode(codec, errors="replace")


def decode_time(element):
    """ISO 8601 text (UTC) of a UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ)."""
    text = element.contents.decode("ascii")
    if element.tag == UTC_TIME:  # RFC 5280: YY below 50 means 20YY
        text = ("19" if int(text[:2]) >= 50 else "20") + text
    elif element.tag != GENERALIZED_TIME:
        raise DerError("validity is not a time")
    return "{0}-{1}-{2}T{3}:{4}:{5}Z".format(text[0:4], text[4:6], text[6:8], text[8:10], text[10:12], text[12:14])


def decode_name(element):
    """A Name as a list of RDNs in DER order, each a list of (attribute name, value)."""
    rdns = []
    for rdn in der_elements(element.contents):  # SET OF AttributeTypeAndValue
        attributes = []
        for pair in der_elements(rdn.contents):  # SEQUENCE {type OID, value}
            oid, value = der_elements(pair.contents)[:2]
            dotted = decode_oid(oid.contents)
            attributes.append((RFC4514_NAMES.get(dotted, dotted), decode_string(value)))
        rdns.append(attributes)
    return rdns


def escape_rfc4514(value):
    """Escape a value as RFC 4514 section 2.4 asks (the same way the cryptography library does)."""
    escaped = "".join("\\00" if char == "\0" else "\\" + char if char in '\\"+,;<>' else char for char in value)
    if escaped[:1] in ("#", " "):
        escaped = "\\" + escaped
    if len(value) > 1 and value.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def rfc4514_string(rdns):
    """RFC 4514 puts the last RDN first."""
    return ",".join(
        "+".join("{0}={1}".format(name, escape_rfc4514(value)) for name, value in rdn) for rdn in reversed(rdns)
    )


def attribute(rdns, name):
    """The values of one attribute (for example O) joined by ', ', or None when absent."""
    values = [value for rdn in rdns for attribute_name, value in rdn if attribute_name == name]
    return ", ".join(values) or None


def parse_certificate(der):
    """Read the fields we report from a DER X.509 certificate."""
    certificate = der_elements(der)[0]
    tbs_certificate = der_elements(certificate.contents)[0]
    fields = der_elements(tbs_certificate.contents)
    if fields and fields[0].tag == CONTEXT_0:  # the optional [0] version
        fields = fields[1:]
    # serialNumber, signature algorithm, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < 6 or any(fields[index].tag != SEQUENCE for index in (2, 3, 4, 5)):
        raise DerError("not an X.509 certificate")
    issuer, validity, subject, spki = fields[2], fields[3], fields[4], fields[5]
    not_before, not_after = der_elements(validity.contents)[:2]
    return {
        "subject": decode_name(subject),
        "issuer": decode_name(issuer),
        "not_before": decode_time(not_before),
        "not_after": decode_time(not_after),
        "spki": spki.encoded,
    }


def describe_certificate(der):
    """The report of one presented certificate; fields we cannot read stay None."""
    description = {
        "subject": None,
        "issuer": None,
        "organization": None,
        "common_name": None,
        "issuer_organization": None,
        "issuer_common_name": None,
        "not_before": None,
        "not_after": None,
        "spki_sha256": None,
        "sha256": hashlib.sha256(der).hexdigest(),
    }
    try:
        fields = parse_certificate(der)
    except (DerError, IndexError, ValueError):  # a chain we cannot read is judged as not genuine
        return description
    description.update(
        subject=rfc4514_string(fields["subject"]),
        issuer=rfc4514_string(fields["issuer"]),
        organization=attribute(fields["subject"], "O"),
        common_name=attribute(fields["subject"], "CN"),
        issuer_organization=attribute(fields["issuer"], "O"),
        issuer_common_name=attribute(fields["issuer"], "CN"),
        not_before=fields["not_before"],
        not_after=fields["not_after"],
        spki_sha256=base64.b64encode(hashlib.sha256(fields["spki"]).digest()).decode("ascii"),
    )
    return description


# --------------------------------------------------------------------------
# Connecting
# --------------------------------------------------------------------------


def authority(host, port):
    """'host:port', with brackets around an IPv6 address."""
    return "[{0}]:{1}".format(host, port) if ":" in host else "{0}:{1}".format(host, port)


def describe_socket_error(error, host, port, timeout):
    """A socket error in plain words."""
    where = authority(host, port)
    if isinstance(error, socket.gaierror):
        return "cannot resolve the host name {0}: {1}".format(host, error.strerror or error)
    if isinstance(error, ConnectionRefusedError):
        return "connection refused by {0}".format(where)
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer from {0} within {1:g} s".format(where, timeout)
    if isinstance(error, ConnectionResetError):
        return "{0} reset the connection".format(where)
    return "cannot connect to {0}: {1}".format(where, error.strerror or error)


def open_tcp(host, port, timeout):
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        raise Unreachable(describe_socket_error(error, host, port, timeout)) from None


def read_proxy_answer(sock):
    """Read the proxy's answer to CONNECT up to the blank line, and not a byte further.

    One byte at a time, because whatever follows the blank line belongs to the
    TLS handshake; the answer is a few lines, so this is cheap.
    """
    answer = b""
    while not answer.endswith(b"\r\n\r\n") and len(answer) < 65536:
        byte = sock.recv(1)
        if not byte:
            break
        answer += byte
    return answer


def open_tunnel(endpoint, settings):
    """Connect to the proxy and ask it (CONNECT) for a tunnel to the endpoint."""
    proxy_host, proxy_port = settings.proxy
    proxy = authority(proxy_host, proxy_port)
    target = authority(endpoint["host"], endpoint["port"])
    try:
        sock = open_tcp(proxy_host, proxy_port, settings.timeout)
    except Unreachable as error:
        raise Unreachable("cannot reach the proxy {0}: {1}".format(proxy, error)) from None
    lines = ["CONNECT {0} HTTP/1.1".format(target), "Host: {0}".format(target)]
    lines += ["{0}: {1}".format(name, value) for name, value in settings.proxy_headers.items()]
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        answer = read_proxy_answer(sock)
    except OSError as error:
        sock.close()
        raise Unreachable(
            "the proxy {0} did not answer CONNECT {1}: {2}".format(
                proxy, target, describe_socket_error(error, proxy_host, proxy_port, settings.timeout)
            )
        ) from None
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1").strip()
    parts = status_line.split(" ", 2)
    # Any 2xx opens the tunnel (RFC 9110 section 9.3.6); in practice it is 200.
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].startswith("2"):
        return sock
    sock.close()
    if not status_line:
        raise Unreachable("the proxy {0} closed the connection without answering CONNECT {1}".format(proxy, target))
    raise Unreachable("the proxy {0} refused CONNECT {1}: {2}".format(proxy, target, status_line))


def open_connection(endpoint, settings):
    """A TCP connection to the endpoint, through the proxy when there is one."""
    if settings.proxy:
        return open_tunnel(endpoint, settings)
    return open_tcp(endpoint["host"], endpoint["port"], settings.timeout)


def reading_context():
    """A client context that accepts any chain: we want to see it, not trust it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        # An old DPI appliance may re-sign with a short key or SHA-1; we send no
        # data, so accept those too rather than report the endpoint unreachable.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    return context


def handshake(sock, endpoint, context, settings):
    """Run the TLS handshake on sock; network and TLS failures become Unreachable.

    A failed certificate verification is not one of those: it propagates as
    ssl.SSLCertVerificationError for the caller that asked for verification.
    """
    where = authority(endpoint["host"], endpoint["port"])
    if settings.proxy:
        where += " (through the proxy {0})".format(authority(*settings.proxy))
    try:
        return context.wrap_socket(sock, server_hostname=endpoint["sni"])
    except ssl.SSLCertVerificationError:
        sock.close()
        raise
    except (socket.timeout, TimeoutError):  # noqa: UP041 - distinct classes before Python 3.10
        sock.close()
        message = "{0} accepted the connection but the TLS handshake got no answer within {1:g} s; "
        message += "something on the path may be dropping TLS (an inline IPS)"
        raise Unreachable(message.format(where, settings.timeout)) from None
    except ssl.SSLEOFError:
        sock.close()
        raise Unreachable("{0} closed the connection during the TLS handshake".format(where)) from None
    except ssl.SSLError as error:
        sock.close()
        raise Unreachable("the TLS handshake with {0} failed: {1}".format(where, error.reason or error)) from None
    except OSError as error:
        sock.close()
        message = describe_socket_error(error, endpoint["host"], endpoint["port"], settings.timeout)
        raise Unreachable("during the TLS handshake, {0}".format(message)) from None


def presented_chain(tls):
    """DER of every certificate the server sent, leaf first.

    The ssl module has no public call for this before Python 3.13, but its C
    part (_ssl, CPython 3.10 and later) has get_unverified_chain(). Where it is
    missing, the leaf is all we can read.
    """
    get_unverified_chain = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
    if get_unverified_chain is not None:
        try:
            return [certificate.public_bytes(ssl._ssl.ENCODING_DER) for certificate in get_unverified_chain() or []]
        except (AttributeError, TypeError, ValueError):
            pass
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def read_chain(endpoint, settings):
    """Connect, shake hands without verifying, and return the presented chain as DER."""
    sock = open_connection(endpoint, settings)
    with handshake(sock, endpoint, reading_context(), settings) as tls:
        return presented_chain(tls)


def verify_chain(endpoint, settings):
    """Shake hands again, verifying chain and host name against ca_bundle: (verified, error)."""
    try:
        sock = open_connection(endpoint, settings)
        with handshake(sock, endpoint, settings.verify_context, settings):
            return True, None
    except ssl.SSLCertVerificationError as error:
        return False, error.verify_message or str(error)
    except Unreachable as error:
        return False, "could not repeat the handshake to verify the chain: {0}".format(error)


# --------------------------------------------------------------------------
# Judging
# --------------------------------------------------------------------------


def issuer_phrase(certificate):
    """'CN' (organization 'O') of the certificate's issuer, for reasons."""
    name = certificate["issuer_common_name"] or certificate["issuer"] or "an unreadable issuer"
    if certificate["issuer_organization"]:
        return "{0!r} (organization {1!r})".format(name, certificate["issuer_organization"])
    return repr(name)


def expected_issuer_of(certificate, expected_issuers):
    """The first expected issuer that the issuer's organization or common name contains, if any.

    A self-signed root has its own subject as issuer, so looking at issuers
    covers roots too.
    """
    names = [certificate["issuer_organization"] or "", certificate["issuer_common_name"] or ""]
    for expected in expected_issuers:
        if any(expected.strip().lower() in name.lower() for name in names):
            return expected
    return None


def judge_by_pins(chain, pins):
    for certificate in chain:
        if certificate["spki_sha256"] in pins:
            return False, "the SPKI of the certificate {0!r} matches the pin {1}".format(
                certificate["subject"], certificate["spki_sha256"]
            )
    return True, "no presented certificate's SPKI matches any of the {0} pins; the chain is issued by {1}".format(
        len(pins), issuer_phrase(chain[0])
    )


def judge_by_issuers(chain, expected_issuers):
    for certificate in chain:
        expected = expected_issuer_of(certificate, expected_issuers)
        if expected:
            return False, "the chain is issued by {0}, which matches the expected issuer {1!r}".format(
                issuer_phrase(certificate), expected
            )
    return True, "the chain is issued by {0}, not by any of the expected issuers: {1}".format(
        issuer_phrase(chain[0]), ", ".join(expected_issuers)
    )


def judge(chain, settings):
    """(intercepted, reason) for a presented chain; pins, when given, decide alone."""
    if not chain:
        return True, "the server presented no certificate"
    if settings.pins:
        return judge_by_pins(chain, settings.pins)
    return judge_by_issuers(chain, settings.expected_issuers)


# --------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------


def check_endpoint(endpoint, settings):
    """The report of one endpoint; never raises for network trouble."""
    report = {
        "host": endpoint["host"],
        "port": endpoint["port"],
        "sni": endpoint["sni"],
        "reachable": False,
        "error": None,
        "chain": [],
        "verified": None,
        "verify_error": None,
        "intercepted": None,
        "reason": None,
    }
    try:
        chain = read_chain(endpoint, settings)
    except Unreachable as error:
        report["error"] = str(error)
        report["reason"] = "could not connect: {0}".format(error)
        return report
    report["reachable"] = True
    report["chain"] = [describe_certificate(der) for der in chain]
    if settings.verify_context is not None:
        report["verified"], report["verify_error"] = verify_chain(endpoint, settings)
    report["intercepted"], report["reason"] = judge(report["chain"], settings)
    return report


def summarise(reports):
    """The module's result: the reports, the verdicts and one message that keeps them apart."""
    intercepted = [report for report in reports if report["intercepted"]]
    genuine = [report for report in reports if report["intercepted"] is False]
    unverified = [report for report in genuine if report["verified"] is False]
    unreachable = [report for report in reports if not report["reachable"]]

    def where(report):
        return authority(report["host"], report["port"])

    sentences = ["TLS interception on {0}: {1}.".format(where(report), report["reason"]) for report in intercepted]
    if genuine:
        sentences.append("Not intercepted: {0}.".format(", ".join(where(report) for report in genuine)))
    sentences += [
        "The chain of {0} does not verify against ca_bundle: {1}.".format(where(report), report["verify_error"])
        for report in unverified
    ]
    sentences += [
        "Unreachable, so not checked for interception: {0} ({1}).".format(where(report), report["error"])
        for report in unreachable
    ]
    return {
        "endpoints": reports,
        "intercepted": bool(intercepted),
        "unreachable_endpoints": [where(report) for report in unreachable],
        "msg": " ".join(sentences),
    }


def check_endpoints(endpoints, settings):
    """Check every endpoint in turn and summarise."""
    return summarise([check_endpoint(endpoint, settings) for endpoint in normalise_endpoints(endpoints)])
