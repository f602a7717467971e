# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask the explicit proxy an AI host egresses through what it lets through.

In proxy mode the host's firewall lets out only the proxy, so the proxy's own
rules are the egress policy. The audit therefore asks the proxy, from the AI
host, for tunnels it must refuse (a name outside the allowlist; an allowed
name whose TLS handshake names another host) and one it must open (the
Billing host). A tunnel "opens" when the TLS handshake through it completes;
the certificate is not judged here (tls_interception_check does that).
"""

from __future__ import annotations

from ansible_collections.aicontainers.hardening.plugins.module_utils.tls_inspect import (
    Settings,
    Unreachable,
    handshake,
    open_tunnel,
    reading_context,
)

TIMEOUT = 5.0


def _split(target):
    host, port = target.rsplit(":", 1)
    return host, int(port)


def try_tunnel(proxy, target, sni=None, timeout=TIMEOUT):
    """'ok' when a TLS handshake to ``target`` (NAME:PORT, naming ``sni``) completes through ``proxy``.

    Otherwise the reason in words: the proxy's refusal, a reset, a failed handshake.
    """
    host, port = _split(target)
    endpoint = {"host": host, "port": port, "sni": sni or host}
    settings = Settings(
        proxy=proxy, proxy_headers={}, verify_context=None, expected_issuers=[], pins=[], timeout=timeout
    )
    try:
        handshake(open_tunnel(endpoint, settings), endpoint, reading_context(), settings).close()
    except Unreachable as error:
        return str(error)
    return "ok"


def expectations(allowed, denied):
    """(target, sni, expect) for each probe: denied names refused, allowed ones opened.

    With both lists, the first allowed target is also asked for with the first
    denied name in its handshake: a proxy that checks only the CONNECT line
    opens that tunnel, and must not.
    """
    probes = [(target, None, "allowed") for target in allowed]
    probes += [(target, None, "denied") for target in denied]
    if allowed and denied:
        probes.append((allowed[0], _split(denied[0])[0], "denied"))
    return probes


def probe_proxy(proxy, allowed, denied, tunnel=try_tunnel):
    """One result per probe: {target, sni, expect, result}; ``proxy`` is (host, port)."""
    return [
        {"target": target, "sni": sni or _split(target)[0], "expect": expect, "result": tunnel(proxy, target, sni)}
        for target, sni, expect in expectations(allowed, denied)
    ]
