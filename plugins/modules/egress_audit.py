#!/usr/bin/python
# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: egress_audit
short_description: Audit a host's live egress state against the policy egress_firewall wrote
version_added: 0.1.0
description:
  - Reads what the host really has, never what a role would render - the live
    C(inet aicontainers) table (C(nft -j)), the local resolver's configuration,
    every container network (C(docker network inspect)) and the container engine's
    unit dependencies - and compares it with the intended policy the
    P(aicontainers.hardening.egress_firewall#role) role wrote to O(policy_path).
  - Optionally runs a throwaway container on every container network that tries
    destinations that must connect and destinations that must not. In names mode each
    container must also reach the host's name-checking proxy on its network's gateway.
  - Probes the host's own egress too, as root and as C(nobody) (O(probe_host)).
  - Besides the targets given, every host and container must be refused the first upstream
    resolver (C(egress_firewall_dns_upstreams)) on 443 and 8443, and every container also on 53
    (a port the policy allows there, a metering name's address for example, is left out); that
    host exists wherever the firewall runs, so the probe row needs no inventory to have a negative.
  - A denied target passes only when its refusal is seen (a TCP reset, an ICMP error, a
    timeout, or the host's own output hook refusing the packet), and only beside an allowed
    target that answered from the same vantage point; anything else is a failed, unverified probe.
  - Asks the local resolver for an allowed name (O(resolver_allowed_name)), which must get an
    answer from upstream, and for a name outside every allowlist, which must be C(REFUSED)
    (C(AIC-EGRESS-04)).
  - In proxy mode, asks the proxy from this host for tunnels it must refuse and one
    it must open (C(AIC-EGRESS-08)), since the proxy's own rules are then the egress policy.
  - When the policy has frontend ports (C(egress_firewall_frontend_ports)), checks that a prerouting
    chain drops them for every source but loopback and the frontends' sets, and that those sets hold
    exactly the intended addresses (C(AIC-EGRESS-09)).
  - Returns one row per control with a stable ID (C(AIC-EGRESS-01)...); a control
    that cannot be judged is a failed row, never a module failure.
  - Read-only; safe in check mode. The probe containers are removed when they exit. The allowed
    name it asks, and the allowed destinations it connects to, fill the resolver's cache and the
    firewall's sets as any lookup would.
options:
  policy_path:
    description: The policy artefact egress_firewall writes.
    type: path
    default: /etc/aicontainers/policy.json
  resolver_conf:
    description: The local resolver's configuration file egress_firewall writes.
    type: path
    default: /etc/dnsmasq.d/aicontainers.conf
  probe_image:
    description:
      - An image with C(python3) on the host, run once per container network to probe.
        Without it, no container probes; without it and with O(probe_host=false), no C(AIC-EGRESS-07) row is
        returned.
    type: str
  probe_allowed:
    description:
      - C(NAME:PORT) targets a container must reach (a metering name on 443, or the proxy's address and port).
      - In names mode a direct connection to a metering name is refused; leave this empty there (the name-checking
        proxy on the gateway is probed anyway) and list the Billing host in O(probe_denied).
    type: list
    elements: str
    default: []
  probe_denied:
    description: C(NAME:PORT) or C(ADDRESS:PORT) targets a container must not reach, besides the derived ones.
    type: list
    elements: str
    default: []
  probe_host:
    description: Probe from the host itself too, as root and as C(nobody), with the module's Python.
    type: bool
    default: true
  host_probe_allowed:
    description:
      - C(NAME:PORT) targets the host's own processes must reach. Default O(probe_allowed); in names mode,
        the name-checking proxy on 127.0.0.1 (the only way out the host's processes have).
    type: list
    elements: str
  host_probe_denied:
    description: C(NAME:PORT) targets the host's own processes must not reach, besides the derived ones.
    type: list
    elements: str
    default: []
  resolver_address:
    description: Where the local resolver answers.
    type: str
    default: 127.0.0.1
  resolver_allowed_name:
    description:
      - A name the resolver must answer (from upstream). Default the first of the policy's resolvable domains.
    type: str
  proxy_probe_allowed:
    description:
      - In proxy mode (the policy names an explicit proxy), C(NAME:PORT) targets the proxy must open a tunnel to
        from this host (the Billing host on 443). The first one is also asked for with the first of
        O(proxy_probe_denied)'s names in its TLS handshake, which the proxy must refuse.
    type: list
    elements: str
    default: []
  proxy_probe_denied:
    description:
      - In proxy mode, C(NAME:PORT) targets the proxy must refuse this host (a name outside the allowlist that the
        proxy could otherwise reach). Without one, C(AIC-EGRESS-08) fails as unverified.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
extends_documentation_fragment:
  - aicontainers.hardening.attributes
"""

EXAMPLES = r"""
- name: Audit egress, probing from every container network
  aicontainers.hardening.egress_audit:
    probe_image: "{{ ai_container_image }}"
    probe_allowed: [westus.api.cognitive.microsoft.com:443]
    probe_denied: [192.0.2.1:443]
  register: egress

- name: Show the failed controls
  ansible.builtin.debug:
    msg: "{{ egress.rows | rejectattr('passed') | list }}"
"""

RETURN = r"""
rows:
  description: One row per control.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable control ID.
      type: str
      sample: AIC-EGRESS-01
    control:
      description: What the control promises.
      type: str
      sample: Egress is denied by default (host and containers)
    passed:
      description: Whether the host keeps the promise.
      type: bool
    evidence:
      description: What was seen.
      type: str
    remedy:
      description: What to do when it fails.
      type: str
networks:
  description: Every container network, with its driver.
  returned: always
  type: list
  elements: dict
  sample: [{Name: bridge, Driver: bridge, Internal: false, Options: {}, Gateways: [172.17.0.1]}]
probes:
  description:
    - Each probe with its vantage point (C(network), a container network or C(host (root)), C(host (nobody))),
      target, expectation (C(allowed) or C(denied)) and result (C(ok), C(refused), C(unreachable), C(timeout),
      C(dropped-locally), C(dns-error), C(probe failed...)).
  returned: always
  type: list
  elements: dict
  sample: [{network: bridge, target: "10.213.0.10:53", expect: denied, result: refused}]
resolver_answers:
  description: What the local resolver answered to an allowed name and to a name outside every allowlist.
  returned: always
  type: list
  elements: dict
  sample: [{name: westus.api.cognitive.microsoft.com, expect: answered, answer: NOERROR},
           {name: aicontainers-audit.example.com, expect: refused, answer: REFUSED}]
proxy_probes:
  description: In proxy mode, each tunnel asked of the proxy, with its TLS name, expectation and result.
  returned: always
  type: list
  elements: dict
  sample: [{target: blocked.example.net:443, sni: blocked.example.net, expect: denied, result: "..."}]
"""

import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit import audit, proxy_address, sets_of
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_probe import (
    derived_denied,
    gather,
    host_probes,
    live_ruleset,
    resolve_first,
    run_probes,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_proxy_probe import probe_proxy
from ansible_collections.aicontainers.hardening.plugins.module_utils.resolver_probe import resolver_answers


def main():
    module = AnsibleModule(
        argument_spec={
            "policy_path": {"type": "path", "default": "/etc/aicontainers/policy.json"},
            "resolver_conf": {"type": "path", "default": "/etc/dnsmasq.d/aicontainers.conf"},
            "probe_image": {"type": "str"},
            "probe_allowed": {"type": "list", "elements": "str", "default": []},
            "probe_denied": {"type": "list", "elements": "str", "default": []},
            "probe_host": {"type": "bool", "default": True},
            "host_probe_allowed": {"type": "list", "elements": "str"},
            "host_probe_denied": {"type": "list", "elements": "str", "default": []},
            "resolver_address": {"type": "str", "default": "127.0.0.1"},
            "resolver_allowed_name": {"type": "str"},
            "proxy_probe_allowed": {"type": "list", "elements": "str", "default": []},
            "proxy_probe_denied": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    state = gather(module.run_command, params["policy_path"], params["resolver_conf"])
    policy = state["policy"] or {}
    name_proxy_port = (policy.get("name_check") or {}).get("port")
    # The allowed names first: a metering name may share an address with the upstream resolver.
    resolve_first(params["probe_allowed"] + (params["host_probe_allowed"] or []))
    rc, live = live_ruleset(module.run_command)
    derived = derived_denied(policy, sets_of(module.from_json(live) if rc == 0 and live else state["ruleset"]))
    probes = None
    if params["probe_image"]:
        probes = run_probes(
            module.run_command,
            params["probe_image"],
            state["networks"],
            params["probe_allowed"],
            list(dict.fromkeys(params["probe_denied"] + derived["containers"])),
            name_proxy_port=name_proxy_port,
        )
    if params["probe_host"]:
        host_allowed = params["host_probe_allowed"]
        if host_allowed is None:
            host_allowed = ["127.0.0.1:{0}".format(name_proxy_port)] if name_proxy_port else params["probe_allowed"]
        host_denied = list(dict.fromkeys(params["host_probe_denied"] + derived["host"]))
        probes = (probes or []) + host_probes(module.run_command, sys.executable, host_allowed, host_denied)
    allowed_name = params["resolver_allowed_name"] or next(iter(policy.get("resolvable_domains", [])), None)
    state["resolver_answers"] = resolver_answers(
        params["resolver_address"], allowed_name, policy.get("resolvable_domains", [])
    )
    proxy = policy.get("proxy")
    proxy_probes = None
    if proxy:
        proxy_probes = probe_proxy(
            (proxy_address(proxy), proxy["port"]),
            params["proxy_probe_allowed"],
            params["proxy_probe_denied"],
        )
    rows = audit(state, probes, proxy_probes)
    module.exit_json(
        changed=False,
        rows=rows,
        networks=state["networks"],
        probes=probes or [],
        proxy_probes=proxy_probes or [],
        resolver_answers=state["resolver_answers"],
    )


if __name__ == "__main__":
    main()
