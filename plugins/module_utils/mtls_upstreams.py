# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The frontend's upstream servers, some of them reached over TLS.

:func:`upstream_servers` turns ``mtls_frontend_upstreams`` and
``mtls_frontend_upstream_tls`` (upstream address -> the name its gate's
certificate carries) into the server lines of the NGINX upstream group and
the TLS hops, or raises UpstreamError with one sentence per problem, naming
the variable.

One upstream group has one scheme, so an upstream reached over TLS is listed
in the group as a unix socket named after its address; a server block of the
frontend listens there and proxies to the address over TLS, presenting the
frontend's client certificate (``mtls_frontend_upstream_client``) and
verifying the gate's certificate against the fleet's CA. Local replicas
stay plain HTTP on loopback in the same group.

Draining is state, not a text edit: the group's servers and the addresses
drained from it are kept as JSON on the frontend (:func:`upstream_state`),
and :func:`upstream_conf` renders the group's server lines from it, with
NGINX's ``down`` on the drained ones; :func:`drain` changes that state.
"""

from __future__ import annotations

import re

ADDRESS = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))?:(\d{1,5})$")
DNS_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$")
# In a directory only root and NGINX's group may enter (tasks/upstream_tls.yml): a
# socket anyone could open would call the gate with this frontend's certificate.
SOCKET_DIR = "/run/aicontainers-hop"
SOCKET_PREFIX = "unix:" + SOCKET_DIR + "/"
SOCKET_SUFFIX = ".sock"


class UpstreamError(ValueError):
    def __init__(self, errors):
        super().__init__(errors[0])
        self.errors = errors


def hop_socket(address):
    """The unix socket the frontend's hop to ``address`` listens on, named after the address."""
    return SOCKET_PREFIX + address.strip("[]").replace("]:", ":") + SOCKET_SUFFIX


def _client(client_name, clients, host, errors):
    matches = [c for c in clients or [] if c.get("name") == client_name]
    if not client_name:
        errors.append(
            "mtls_frontend_upstream_client: an upstream is reached over TLS (mtls_frontend_upstream_tls), so name "
            "the client in mtls_frontend_clients (host: this frontend) whose certificate the frontend presents."
        )
    elif not matches or matches[0].get("host") != host:
        errors.append(
            "mtls_frontend_upstream_client: {0!r} must be a client in mtls_frontend_clients with host: {1} (its key "
            "is made on this frontend, which presents it to the upstreams' gates).".format(client_name, host)
        )
    else:
        return {"cert": matches[0]["cert"], "key": matches[0]["key"], "ca": matches[0]["ca"]}
    return None


def upstream_servers(upstreams, tls_names, client_name, clients, host):
    """The upstream group's server lines and the TLS hops (address, name, socket), plus the client's files."""
    errors = []
    tls_names = tls_names or {}
    for address, name in tls_names.items():
        if address not in (upstreams or []):
            errors.append(
                "mtls_frontend_upstream_tls: {0!r} is not in mtls_frontend_upstreams; list the address there "
                "too.".format(address)
            )
        if not isinstance(name, str) or not DNS_NAME.match(name) or re.match(r"^[0-9.]+$", name):
            errors.append(
                "mtls_frontend_upstream_tls: the name for {0} must be a DNS name its gate's certificate carries "
                "(NGINX checks DNS names, not IP addresses), not {1!r}.".format(address, name)
            )
    for address in upstreams or []:
        if not isinstance(address, str) or not ADDRESS.match(address) or int(ADDRESS.match(address).group(1)) > 65535:
            errors.append(
                "mtls_frontend_upstreams: {0!r} is not host:port; give the address and port of a replica "
                "(or of its gate, listed in mtls_frontend_upstream_tls).".format(address)
            )
    client = _client(client_name, clients, host, errors) if tls_names else None
    if errors:
        raise UpstreamError(errors)
    hops = [{"address": a, "name": tls_names[a], "socket": hop_socket(a)} for a in upstreams if a in tls_names]
    servers = [hop_socket(a) if a in tls_names else a for a in upstreams]
    state = upstream_state(servers, upstreams)
    return {"servers": servers, "hops": hops, "client": client, "state": state, "conf": upstream_conf(state)}


def host_of(address):
    """The host of ``host:port`` (``[v6]:port`` too): what a drain names."""
    host = address.rsplit(":", 1)[0]
    return host[1:-1] if host.startswith("[") else host


def upstream_state(servers, addresses):
    """Every server line of the group with the address it reaches, none drained."""
    return {
        "servers": [
            {"server": server, "host": host_of(address)} for server, address in zip(servers, addresses, strict=True)
        ],
        "drained": [],
    }


def upstream_conf(state):
    """The upstream group's server lines, ``down`` on the drained hosts' servers."""
    drained = set(state.get("drained", []))
    return "".join(
        "server {0}{1};\n".format(entry["server"], " down" if entry["host"] in drained else "")
        for entry in state.get("servers", [])
    )


def drain(state, host, wanted):
    """The state with ``host`` drained (``wanted`` down) or back (up), and whether it differs or was refused.

    A drain that would leave no server up is refused: a slower answer from
    the servers being changed beats a certain 502.
    """
    if wanted not in ("down", "up"):
        raise UpstreamError(["mtls_frontend_drain_state: {0!r} is not a state; use down or up.".format(wanted)])
    drained = set(state.get("drained", []))
    new = drained | {host} if wanted == "down" else drained - {host}
    servers = state.get("servers", [])
    left_up = [entry for entry in servers if entry["host"] not in new]
    refused = wanted == "down" and bool(servers) and not left_up
    if refused:
        new = drained
    ordered = sorted(new)
    new_state = {"servers": servers, "drained": ordered}
    return {
        "state": new_state,
        "conf": upstream_conf(new_state),
        "different": ordered != sorted(drained),
        "refused": refused,
    }
