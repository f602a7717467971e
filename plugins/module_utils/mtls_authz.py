# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authorise the mTLS frontend's clients by identity, per frontend and path.

``mtls_frontend_authorized_clients`` lists identities - ``CN=<subject CN>``,
``DNS:<name>``, ``URI:<uri>`` (a SPIFFE ID is a URI SAN) or
``email:<address>`` - each with optional path prefixes. NGINX cannot read a
certificate's subject alternative names, so :func:`authorization` resolves
the identities against the certificates the fleet's CA issued (its
``issued/`` records): the result names, by the serial NGINX prints as
``$ssl_client_serial``, each certificate's identity and the path prefixes it
may call. A certificate outside the allowlist, or one the records do not
hold, is refused.
"""

from __future__ import annotations

import re

try:
    from cryptography import x509
except ImportError:  # reported when a certificate is read
    x509 = None

# What follows "URI:" etc. is rendered into NGINX's configuration and the
# JSON log: no quotes, spaces, backslashes or braces.
_VALUE = re.compile(r"^[A-Za-z0-9._~:/?#\[\]@!$&'()*+,=%-]{1,255}$")
_KINDS = {"cn=": "CN=", "dns:": "DNS:", "uri:": "URI:", "email:": "email:"}
_SPIFFE = re.compile(r"^spiffe://[a-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_PREFIX = re.compile(r"^/[A-Za-z0-9._~/-]*$")
IDENTITY_RULE = (
    "write CN=<subject CN>, DNS:<name>, URI:<uri> (a SPIFFE ID: URI:spiffe://<trust domain>/<path>) or email:<address>"
)


class AuthzError(ValueError):
    def __init__(self, errors):
        super().__init__(errors[0])
        self.errors = errors


def normalise_identity(text):
    """``CN=app1``, ``dns:API.example`` ... in one spelling, or None."""
    if not isinstance(text, str):
        return None
    for given, kind in _KINDS.items():
        if text.lower().startswith(given):
            value = text[len(given) :]
            if not _VALUE.match(value):
                return None
            if kind in ("DNS:", "email:"):
                value = value.lower()
            if kind == "URI:" and value.lower().startswith("spiffe:") and not _SPIFFE.match(value):
                return None
            return kind + value
    return None


def _prefix_errors(identity, paths):
    errors = []
    for path in paths:
        if not isinstance(path, str) or not _PREFIX.match(path) or "/../" in path + "/" or "/./" in path + "/":
            errors.append(
                "mtls_frontend_authorized_clients: path {0!r} of {1} is not a path prefix; start it with / and use "
                "letters, digits, '.', '_', '~', '-' and '/', without . or .. segments.".format(path, identity)
            )
    return errors


def parse_allowlist(entries):
    """[(identity, [path prefixes])] in the order given."""
    errors, rules = [], []
    for entry in entries:
        if isinstance(entry, dict):
            given, paths = entry.get("identity"), entry.get("paths", ["/"])
        else:
            given, paths = entry, ["/"]
        identity = normalise_identity(given)
        if identity is None:
            errors.append(
                "mtls_frontend_authorized_clients: {0!r} is not a client identity; {1}.".format(given, IDENTITY_RULE)
            )
            continue
        if isinstance(paths, str) or not isinstance(paths, list) or not paths:
            errors.append(
                "mtls_frontend_authorized_clients: paths of {0} must be a non-empty list of path prefixes.".format(
                    identity
                )
            )
            continue
        path_errors = _prefix_errors(identity, paths)
        errors.extend(path_errors)
        if not path_errors:
            rules.append((identity, list(paths)))
    if errors:
        raise AuthzError(errors)
    return rules


def nginx_serial(number):
    """The serial as NGINX's $ssl_client_serial prints it: upper-case hex, two digits per byte."""
    text = format(number, "X")
    return text if len(text) % 2 == 0 else "0" + text


def certificate_identities(pem):
    """(serial, [identities]) of one issued certificate: its subject CN, then its SANs."""
    if x509 is None:
        raise AuthzError(
            ["mtls_frontend_authorized_clients: reading certificates needs python cryptography on the controller."]
        )
    cert = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    names = ["CN=" + attribute.value for attribute in cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)]
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = []
    for san in sans:
        if isinstance(san, x509.DNSName):
            names.append("DNS:" + san.value.lower())
        elif isinstance(san, x509.UniformResourceIdentifier):
            names.append("URI:" + san.value)
        elif isinstance(san, x509.RFC822Name):
            names.append("email:" + san.value.lower())
    return nginx_serial(cert.serial_number), names


def path_pattern(serial, prefix):
    """An NGINX map regex matching "<serial>:<normalised URI>" under prefix (whole segments only)."""
    tail = "" if prefix.endswith("/") else "(/|$)"
    return "~^{0}:{1}{2}".format(serial, re.escape(prefix), tail)


def authorization(allowlist, issued_pems):
    """What the frontend's NGINX maps say: each issued certificate's identity and allowed path patterns.

    ``allowlist`` None means authentication only: every certificate of the
    CA is authorised everywhere (``enabled`` False). Each certificate's
    logged identity is the first allowlist identity it holds, else its CN.
    ``unmatched`` lists allowlist identities no issued certificate holds.
    """
    rules = None if allowlist is None else parse_allowlist(allowlist)
    certificates, held = [], set()
    for pem in issued_pems:
        serial, names = certificate_identities(pem)
        matching = [(identity, paths) for identity, paths in rules or [] if identity in names]
        held.update(identity for identity, _paths in matching)
        prefixes = sorted({path for _identity, paths in matching for path in paths})
        certificates.append(
            {
                "serial": serial,
                "identity": matching[0][0] if matching else (names[0] if names else ""),
                "patterns": [path_pattern(serial, prefix) for prefix in prefixes],
            }
        )
    unmatched = [identity for identity, _paths in rules or [] if identity not in held]
    return {
        "enabled": rules is not None,
        "certificates": sorted(certificates, key=lambda certificate: certificate["serial"]),
        "unmatched": unmatched,
    }
