# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every mtls_frontend variable that is pasted into NGINX's configuration or a certificate, and its grammar.

:data:`RENDERED` maps each such variable to its check; :func:`config_errors`
runs the checks of the variables it is given and returns one sentence per
bad value, naming the variable (tasks/validate.yml stops on any, before the
host changes). Types and choices are the argument specs' business; here only
what each value must look like where the templates and certificates put it.
"""

from __future__ import annotations

import re

from ansible_collections.aicontainers.hardening.plugins.module_utils import config_grammar as grammar
from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_authz import (
    IDENTITY_RULE,
    AuthzError,
    normalise_identity,
    parse_allowlist,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_pki import NAME, NAME_RULE

_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+-]{1,64}")
SAN_RULE = "write DNS:<name>, URI:<uri> (a SPIFFE ID: URI:spiffe://<trust domain>/<path>) or email:<address>"


def _items(value):
    """A list's entries, none for null; anything else is one entry (a string is not split into characters)."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _client_name(variable, value, fix=NAME_RULE):
    # A client name is a certificate CN and a file name (mtls_pki.client_plan).
    ok = isinstance(value, str) and NAME.fullmatch(value) is not None
    return None if ok else grammar.sentence(variable, value, "a client name", fix)


def _identity(variable, value, kinds, rule):
    """CN=, DNS:, URI: or email: (those of ``kinds``) with a value that fits its kind: authz.conf and SANs hold it."""
    identity = None if not isinstance(value, str) or grammar.UNSAFE.search(value) else normalise_identity(value)
    kind = next((k for k in kinds if identity is not None and identity.startswith(k)), None)
    text = identity[len(kind) :] if kind else ""
    local, _at, domain = text.rpartition("@")
    ok = {
        "CN=": NAME.fullmatch(text) is not None,
        "DNS:": grammar.is_dns_name(text),
        "email:": _EMAIL_LOCAL.fullmatch(local) is not None and grammar.is_dns_name(domain),
        "URI:": True,  # normalise_identity has checked its characters, and a SPIFFE ID's form
    }.get(kind, False)
    return None if ok else grammar.sentence(variable, value, "a client identity", rule)


def _server_names(variable, value):
    names = _items(value)
    if not names:
        return [variable + ": the list is empty; give the name clients use to reach the frontend."]
    # server_name and the certificate's SANs: an IPv4 address becomes IP:, any other name DNS:, a wildcard too
    # (tasks/pki_server.yml); an IPv6 address would become a DNS: name, so it is refused.
    fix = "give a name clients use to reach the frontend, or its IPv4 address"
    errors = [grammar.dns_name(variable, name, fix, wildcard=True) for name in names if not grammar.is_ipv4(name)]
    # The first is also the certificate's CN, which holds 64 characters at most.
    if not any(errors) and len(names[0]) > 64:
        errors.append(
            grammar.sentence(variable, names[0], "a certificate CN (64 characters at most)", "put a shorter name first")
        )
    return errors


def _upstreams(variable, value):
    fix = "give the address and port of a replica (or of its gate, listed in mtls_frontend_upstream_tls)"
    return [grammar.host_port(variable, address, fix) for address in _items(value)]


def _upstream_tls(variable, value):
    errors = []
    value = {} if value is None else value
    for address, name in value.items() if isinstance(value, dict) else [(value, None)]:
        error = grammar.host_port(variable, address, "key each entry by an address of mtls_frontend_upstreams")
        # proxy_ssl_name: NGINX checks the gate's certificate for a DNS name, not an IP address or a wildcard.
        errors.append(error or grammar.dns_name(variable, name, "give the DNS name on the certificate of its gate"))
    return errors


def _upstream_client(variable, value):
    # Empty: no upstream over TLS. Otherwise its files' paths go into proxy_ssl_certificate.
    if value in ("", None):
        return []
    return [_client_name(variable, value, "name a client of mtls_frontend_clients")]


def _client(variable, client):
    """The first thing wrong with one client: its name (a CN), its dir (an NGINX path for a hop client), a SAN."""
    name = client.get("name") if isinstance(client, dict) else client
    error = _client_name(variable, name)
    if error or not isinstance(client, dict):
        return error
    # A frontend's hop client has its key and certificate paths in NGINX's proxy_ssl_certificate(_key).
    if client.get("dir") is not None:
        error = grammar.absolute_path(variable, client["dir"], "give the directory of {0}'s key".format(name))
    for san in _items(client.get("san") or []):
        error = error or _identity(variable, san, ("DNS:", "URI:", "email:"), SAN_RULE)
    return error


def _clients(variable, value):
    return [_client(variable, client) for client in _items(value)]


def _authorized_clients(variable, value):
    errors = []
    for entry in _items(value):
        given = entry.get("identity") if isinstance(entry, dict) else entry
        paths = entry.get("paths") if isinstance(entry, dict) else None
        error = _identity(variable, given, ("CN=", "DNS:", "URI:", "email:"), IDENTITY_RULE)
        # A path prefix becomes a regex in double quotes in authz.conf: nothing that ends them or the line.
        unsafe = [path for path in _items(paths or []) if isinstance(path, str) and grammar.UNSAFE.search(path)]
        if error is None and unsafe:
            error = (
                "{0}: path {1!r} of {2} is not a path prefix; start it with / and use letters, digits, '.', '_', '~',"
                " '-' and '/', without . or .. segments.".format(variable, unsafe[0], given)
            )
        if error is None:
            try:  # the rest of an entry's rules (its kind of identity, the form of its paths) are mtls_authz's
                parse_allowlist([entry])
            except AuthzError as bad:
                error = " ".join(bad.errors)
        errors.append(error)
    return errors


def _scalar(predicate, fix, **options):
    """The check of a single value by one grammar predicate."""
    return lambda variable, value: [predicate(variable, value, fix, **options)]


_PATH = _scalar(grammar.absolute_path, "give an absolute path without spaces or NGINX punctuation")
_TIMEOUT = _scalar(grammar.nginx_time, "write 300s, 5m or 1h30m")

# Every variable the templates, the certificates or NGINX's paths take, with
# its check ((variable, value) -> error sentences or None). The unit tests
# feed each one hostile values.
RENDERED = {
    "mtls_frontend_listen_address": _scalar(grammar.listen_address, "give 0.0.0.0, [::] or an address of this host"),
    "mtls_frontend_port": _scalar(grammar.number, "give a TCP port", minimum=1, maximum=65535),
    "mtls_frontend_server_names": _server_names,
    "mtls_frontend_upstreams": _upstreams,
    "mtls_frontend_upstream_keepalive": _scalar(grammar.number, "give idle connections per worker", minimum=1),
    "mtls_frontend_upstream_tls": _upstream_tls,
    "mtls_frontend_upstream_client": _upstream_client,
    "mtls_frontend_hsts_max_age": _scalar(grammar.number, "give seconds"),
    "mtls_frontend_ca_name": _scalar(grammar.common_name, "give the CA a shorter or plainer name"),
    "mtls_frontend_pki_dir": _PATH,
    "mtls_frontend_clients": _clients,
    "mtls_frontend_client_dir": _PATH,
    "mtls_frontend_authorized_clients": _authorized_clients,
    "mtls_frontend_server_cert": _PATH,
    "mtls_frontend_server_key": _PATH,
    "mtls_frontend_client_ca": _PATH,
    "mtls_frontend_crl": _scalar(grammar.absolute_path, "give an absolute path, or '' for no CRL", empty=True),
    "mtls_frontend_verify_depth": _scalar(grammar.number, "give the CAs a chain may have", maximum=100),
    "mtls_frontend_rate": _scalar(grammar.nginx_rate, "write 20r/s or 600r/m"),
    "mtls_frontend_burst": _scalar(grammar.number, "give the requests allowed above the rate"),
    "mtls_frontend_client_max_body_size": _scalar(grammar.nginx_size, "write 1m, 512k or 1048576"),
    "mtls_frontend_proxy_read_timeout": _TIMEOUT,
    "mtls_frontend_proxy_send_timeout": _TIMEOUT,
    "mtls_frontend_proxy_connect_timeout": _TIMEOUT,
}


def config_errors(variables):
    """One sentence per bad value among ``variables`` (name -> value), in RENDERED's order; others are not read."""
    return [
        error
        for name, check in RENDERED.items()
        if name in variables
        for error in check(name, variables[name])
        if error is not None
    ]
