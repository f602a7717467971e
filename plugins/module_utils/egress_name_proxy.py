# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Squid configuration for egress_firewall's names mode.

In names mode the firewall lets only the proxy's own user reach the allowed
ports; every client (host processes and containers) goes through this proxy
with CONNECT. The proxy lets a tunnel through only when

* the CONNECT target is an allowed *name* (``dstdomain -n``: an IP address
  never matches, so no client picks the address; Squid resolves the name
  through the local resolver and connects to what it answers), and
* the TLS ClientHello names an allowed host of the same group
  (``ssl::server_name --client-requested``: the SNI, not the CONNECT line).

Everything else is refused or terminated. Nothing is bumped (decrypted): the
certificate Squid is given exists only because an ``ssl-bump`` port needs one.
"""

from __future__ import annotations

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_policy import squid_domains


def names_for(group, pinned):
    """Squid domain patterns for a group: exact pinned names, else each domain and its subdomains."""
    if group["metering"] and pinned:
        return sorted(pinned)
    return squid_domains(group["domains"])


def squid_conf(policy, *, user, certificate, key, pid_file, access_log):
    """The whole squid.conf of the name-checking proxy for a normalised policy.

    ``user`` is the proxy's own user: the firewall lets exactly it out.
    """
    proxy = policy["name_check"]
    lines = [
        "# Rendered by aicontainers.hardening egress_firewall (names mode); do not edit.",
        "# CONNECT to an allowed name whose TLS handshake names an allowed host; nothing else.",
        "http_port {0} ssl-bump tls-cert={1} tls-key={2} generate-host-certificates=off".format(
            proxy["port"], certificate, key
        ),
        "cache_effective_user {0}".format(user),
        "cache_effective_group {0}".format(user),
        "pid_filename {0}".format(pid_file),
        "access_log stdio:{0}".format(access_log),
        "cache deny all",
        # A restart (a new unit, or dnsmasq restarted under it) waits this long
        # for open tunnels to close; Squid's default, 30 s, held every first run.
        "shutdown_lifetime 2 seconds",
        # Only the local resolver, which answers nothing outside the allowlist.
        "dns_nameservers 127.0.0.1",
        "acl aich_clients src 127.0.0.0/8 ::1 {0}".format(" ".join(proxy["client_networks"])),
        "acl aich_connect method CONNECT",
        "acl aich_step1 at_step SslBump1",
        "deny_info TCP_RESET aich_clients",
        "http_access deny !aich_clients",
        "http_access deny !aich_connect",
    ]
    splice = []
    for index, group in enumerate(policy["domain_groups"]):
        acl = "aich_names{0}".format(index)
        names = " ".join(names_for(group, proxy["pinned_names"]))
        lines.append("acl {0} dstdomain -n {1}".format(acl, names))
        lines.append("acl {0}_sni ssl::server_name --client-requested {1}".format(acl, names))
        lines.append("acl {0}_ports port {1}".format(acl, " ".join(str(port) for port in group["ports"])))
        lines.append("http_access allow {0} {0}_ports".format(acl))
        splice.append("ssl_bump splice {0} {0}_sni".format(acl))
    # Refused CONNECTs get a TCP reset: on an ssl-bump port Squid would
    # otherwise answer them with an error page over its own certificate.
    lines.append("acl aich_refused src all")
    lines.append("deny_info TCP_RESET aich_refused")
    lines.append("http_access deny aich_refused")
    lines.append("ssl_bump peek aich_step1")
    lines.extend(splice)
    lines.append("ssl_bump terminate all")
    return "\n".join(lines) + "\n"
