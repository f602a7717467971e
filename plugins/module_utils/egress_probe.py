# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a host's egress state, and probe it from where a container stands.

``run`` is a command runner with the signature of AnsibleModule.run_command
(argv in, ``(rc, stdout, stderr)`` out), so tests can hand in a fake host.
Nothing here changes the host, except the throwaway probe containers, which
Docker removes when they exit.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit_names import proxy_user
from ansible_collections.aicontainers.hardening.plugins.module_utils.nft_ruleset import (
    drift,
    hook_devices,
    scratch_command,
    scratch_result,
    table_state,
)

NAME_PROXY_CONF = "/etc/aicontainers/name-proxy.conf"
# What aicontainers-firewall.service loads at boot, and its checksum.
BOOT_RULESET = "/etc/aicontainers/firewall.nft"
UPLINKS_RULESET = "/etc/aicontainers/uplinks.nft"
NAME_PROXY_UNIT = "aicontainers-name-proxy.service"

# Connects to each NAME:PORT in argv, all at once (a dropped or unresolvable
# target costs its timeout once, not once per target), and prints one JSON
# line per target, in argv's order. The result names how a connection was
# refused (see REFUSALS), so a negative shows the refusal it observed.
PROBE_SCRIPT = """
import errno, json, socket, sys, threading
NAMES = {errno.ECONNREFUSED: "refused", errno.EHOSTUNREACH: "unreachable", errno.ENETUNREACH: "no-route",
         errno.EPERM: "dropped-locally", errno.ETIMEDOUT: "timeout"}
def probe(target, results):
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=3).close()
        results[target] = "ok"
    except socket.gaierror:
        results[target] = "dns-error"
    except socket.timeout:
        results[target] = "timeout"
    except OSError as error:
        results[target] = NAMES.get(error.errno, "error: " + str(error))
results = {}
threads = [threading.Thread(target=probe, args=(target, results)) for target in sys.argv[1:]]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
for target in sys.argv[1:]:
    print(json.dumps({"target": target, "result": results[target]}), flush=True)
"""
# How a firewall refuses a connection, as the probe sees it: a TCP reset, an
# ICMP host-unreachable (nft's "reject with icmpx admin-prohibited"), a packet
# dropped on the way (timeout) or, on the host itself, by its own output hook.
# Anything else (no route from here, a name that does not resolve, a probe
# that did not run) observed no refusal.
REFUSALS = ("refused", "unreachable", "timeout", "dropped-locally")
# From another host, a drop by that host's own firewall says nothing about ours.
REMOTE_REFUSALS = ("refused", "unreachable", "timeout")
# Each host probe runs as root and as an unprivileged user.
HOST_USERS = ("root", "nobody")
# Networks that attach no container to a network of its own.
NO_NETWORK_DRIVERS = ("host", "null")
PROBE_TIMEOUT = 60


def _json(text, default):
    try:
        return json.loads(text)
    except ValueError:
        return default


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def container_networks(run):
    """Every Docker network as {Name, Driver, Options}; [] when no engine answers."""
    rc, ids = run(["docker", "network", "ls", "-q"])[:2]
    if rc != 0 or not ids.split():
        return []
    rc, out = run(["docker", "network", "inspect", *ids.split()])[:2]
    return [
        {
            "Name": n.get("Name"),
            "Driver": n.get("Driver"),
            "Internal": bool(n.get("Internal")),
            "Options": n.get("Options") or {},
            "Gateways": [c["Gateway"] for c in (n.get("IPAM") or {}).get("Config") or [] if c.get("Gateway")],
        }
        for n in (_json(out, []) if rc == 0 else [])
    ]


def name_proxy_state(run, conf_path):
    """Names mode: the proxy's configuration file, its user's uid and whether its unit runs."""
    conf_text = _read(conf_path)
    user = proxy_user(conf_text)
    rc, out = run(["id", "-u", user])[:2] if user else (1, "")
    return {
        "conf_text": conf_text,
        "uid": int(out.strip()) if rc == 0 and out.strip().isdigit() else None,
        "active": run(["systemctl", "is-active", "--quiet", NAME_PROXY_UNIT])[0] == 0,
    }


def boot_state(run, live_listing, path=BOOT_RULESET, family="inet", live_text=None):
    """What the boot would load: whether the persisted file matches its
    checksum (the unit refuses it otherwise), and how the table it loads, in
    a scratch network namespace, differs from the live one (drift sentences;
    None with ``error`` when it does not load). ``live_text`` is the live
    table's ``nft -s`` listing when the caller read it already."""
    checksum_ok = run(["sha256sum", "--quiet", "--check", path + ".sha256"])[0] == 0
    devices = hook_devices(_read(path)) if family == "netdev" else ()
    rc, out, err = run(scratch_command("nft", family, "aicontainers", path, devices=devices))[:3]
    if rc != 0:
        return {"checksum_ok": checksum_ok, "drift": None, "error": (err or "").strip()[:300] or "no file"}
    if live_text is None and live_listing:
        live_text = run(["nft", "-s", "list", "table", family, "aicontainers"])[1]
    text = live_text if live_listing else None
    live = table_state(live_listing, text)
    return {"checksum_ok": checksum_ok, "drift": drift(live, scratch_result(out)[0]), "error": ""}


def live_ruleset(run):
    """(rc, text) of ``nft -j list table inet aicontainers``, the table as the kernel has it now."""
    return run(["nft", "-j", "list", "table", "inet", "aicontainers"])[:2]


def gather(run, policy_path, resolver_conf, name_proxy_conf=NAME_PROXY_CONF):
    rc, ruleset = live_ruleset(run)
    requires = run(["systemctl", "show", "--property", "Requires", "--value", "docker.service"])[1]
    active_rc = run(["systemctl", "is-active", "--quiet", "aicontainers-firewall.service"])[0]
    policy_text = _read(policy_path)
    policy = _json(policy_text, None) if policy_text else None
    uplinks = uplink_state(run)
    return {
        "name_proxy": name_proxy_state(run, name_proxy_conf) if (policy or {}).get("name_check") else None,
        "policy": policy,
        "ruleset": _json(ruleset, {}) if rc == 0 else {},
        "resolver_text": _read(resolver_conf),
        "networks": container_networks(run),
        "engine_requires": requires,
        "firewall_active": active_rc == 0,
        "boot": boot_state(run, ruleset if rc == 0 else ""),
        "uplinks": uplinks,
        "boot_uplinks": (
            boot_state(run, uplinks["json"], UPLINKS_RULESET, "netdev", live_text=uplinks["listing"])
            if (policy or {}).get("uplink_guard")
            else None
        ),
    }


def uplink_state(run):
    """The host's links (``ip -j -d link show``) and the live uplink guard (table netdev
    aicontainers, as JSON items and as text, which alone names its devices)."""
    links_rc, links = run(["ip", "-j", "-d", "link", "show"])[:2]
    guard_rc, guard = run(["nft", "-j", "list", "table", "netdev", "aicontainers"])[:2]
    listing = run(["nft", "-s", "list", "table", "netdev", "aicontainers"])[1] if guard_rc == 0 else ""
    return {
        "links": _json(links, None) if links_rc == 0 else None,
        "guard": _json(guard, {}).get("nftables", []) if guard_rc == 0 else [],
        "json": guard if guard_rc == 0 else "",
        "listing": listing,
    }


def _name_proxy_targets(network, name_proxy_port):
    """Where a container on ``network`` reaches the host's name-checking proxy: its IPv4 gateway."""
    if not name_proxy_port:
        return []
    ipv4 = [gateway for gateway in network.get("Gateways", []) if ":" not in gateway]
    return ["{0}:{1}".format(gateway, name_proxy_port) for gateway in ipv4[:1]]


def _results(rc, out, err, vantage, expectations):
    seen = {line["target"]: line["result"] for line in map(lambda t: _json(t, {}), out.splitlines()) if line}
    return [
        {
            "network": vantage,
            "target": target,
            "expect": expect,
            "result": seen.get(target) or "probe failed: {0}".format((err or "rc {0}".format(rc)).strip()[:200]),
        }
        for target, expect in expectations
    ]


def _bounded():
    """A prefix that ends the probe after PROBE_TIMEOUT, where coreutils' timeout exists (not on macOS)."""
    return ["timeout", str(PROBE_TIMEOUT)] if shutil.which("timeout") else []


def probe_here(run, python, targets):
    """[{target, result, refusal}] for each target, tried from this host (another than the one
    audited) as the running user; ``refusal`` says whether the result is one of REMOTE_REFUSALS."""
    rc, out, err = run([*_bounded(), python, "-c", PROBE_SCRIPT, *targets])[:3]
    return [
        {"target": p["target"], "result": p["result"], "refusal": p["result"] in REMOTE_REFUSALS}
        for p in _results(rc, out, err, "here", [(target, None) for target in targets])
    ]


def host_probes(run, python, allowed, denied):
    """The host's own processes try every target, as root and as an unprivileged user."""
    expectations = [(target, "allowed") for target in allowed] + [(target, "denied") for target in denied]
    if not expectations:
        return []
    results = []
    for user in HOST_USERS:
        as_user = [] if user == "root" else ["setpriv", "--reuid", user, "--regid", "nogroup", "--clear-groups"]
        argv = [*_bounded(), *as_user, python, "-c", PROBE_SCRIPT, *(target for target, _expect in expectations)]
        results.extend(_results(*run(argv)[:3], "host ({0})".format(user), expectations))
    return results


def _set_addresses(live_set):
    """The single addresses a live set holds (``nft -j``; dnsmasq's entries carry a timeout)."""
    elements = (live_set or {}).get("elem", [])
    values = [e["elem"]["val"] if isinstance(e, dict) and "elem" in e else e for e in elements]
    return {value for value in values if isinstance(value, str)}


def _policy_allows(policy, sets, address, port):
    """Whether a static or internal CIDR, a metering name's address now in its set, or the proxy lets
    ``address:port`` out."""
    for cidrs, ports in (
        (policy.get("static_v4", []) + policy.get("static_v6", []), policy.get("static_ports", [])),
        (policy.get("internal_v4", []) + policy.get("internal_v6", []), policy.get("internal_ports", [])),
    ):
        if port in ports and any(ipaddress.ip_address(address) in ipaddress.ip_network(cidr) for cidr in cidrs):
            return True
    for group in policy.get("domain_groups", []):
        live = _set_addresses(sets.get(group["set_v4"])) | _set_addresses(sets.get(group["set_v6"]))
        if port in group["ports"] and address in live:
            return True
    proxy = policy.get("proxy") or {}
    return address in proxy.get("v4", []) + proxy.get("v6", []) and port == proxy.get("port")


def _target(address, port):
    return "[{0}]:{1}".format(address, port) if ":" in address else "{0}:{1}".format(address, port)


def resolve_first(targets):
    """Look the names of ``NAME:PORT`` targets up through the host's resolver, which puts their
    addresses into the firewall's sets, so that what derived_denied reads is what the probes meet."""
    for target in targets:
        host = target.rsplit(":", 1)[0].strip("[]")
        try:
            socket.getaddrinfo(host, None)
        except (OSError, UnicodeError):
            continue  # the probe itself reports it


def derived_denied(policy, sets=None):
    """Targets the host and every container must be refused, on a host that exists: the first
    upstream resolver on 443 and 8443, and from containers also on 53 (only the host's resolver
    may ask it). A port the policy allows there (a metering name may share the address, so ``sets``,
    the live sets by name as egress_audit.sets_of reads them, count) is left out."""
    policy, sets = policy or {}, sets or {}
    upstreams = (policy.get("dns_upstreams_v4", []) + policy.get("dns_upstreams_v6", []))[:1]
    host = [_target(a, port) for a in upstreams for port in (443, 8443) if not _policy_allows(policy, sets, a, port)]
    containers = host + [_target(a, 53) for a in upstreams if not _policy_allows(policy, sets, a, 53)]
    return {"host": host, "containers": containers}


def run_probes(run, image, networks, allowed, denied, *, name_proxy_port=None):
    """A throwaway container on each network tries every target; one result per network and target.

    An internal network (``docker network create --internal``) reaches nothing
    outside by design, so there only the denied targets are tried. In names
    mode (``name_proxy_port``) every other network must also reach the host's
    name-checking proxy on its gateway, the only way out it has.
    """
    results = []
    for network in networks:
        expectations = [(target, "denied") for target in denied]
        if not network.get("Internal"):
            reachable = list(allowed) + _name_proxy_targets(network, name_proxy_port)
            expectations = [(target, "allowed") for target in reachable] + expectations
        if network["Driver"] in NO_NETWORK_DRIVERS or not expectations:
            continue
        rc, out, err = run(
            [
                "timeout",
                str(PROBE_TIMEOUT),
                "docker",
                "run",
                "--rm",
                "--network",
                network["Name"],
                "--entrypoint",
                "python3",
                image,
                "-c",
                PROBE_SCRIPT,
                *(target for target, expect in expectations),
            ]
        )
        found = _results(rc, out, err, network["Name"], expectations)
        results.extend(dict(p, internal=True) if network.get("Internal") else p for p in found)
    return results
