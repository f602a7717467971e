# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a host's egress state, and probe it from where a container stands.

``run`` is a command runner with the signature of AnsibleModule.run_command
(argv in, ``(rc, stdout, stderr)`` out), so tests can hand in a fake host.
Nothing here changes the host, except the throwaway probe containers, which
Docker removes when they exit.
"""

from __future__ import annotations

import json

from ansible_collections.aicontainers.hardening.plugins.module_utils.egress_audit_names import proxy_user
from ansible_collections.aicontainers.hardening.plugins.module_utils.nft_ruleset import (
    drift,
    scratch_command,
    scratch_result,
    table_state,
)

NAME_PROXY_CONF = "/etc/aicontainers/name-proxy.conf"
# What aicontainers-firewall.service loads at boot, and its checksum.
BOOT_RULESET = "/etc/aicontainers/firewall.nft"
NAME_PROXY_UNIT = "aicontainers-name-proxy.service"

# Connects to each NAME:PORT in argv, all at once (a dropped or unresolvable
# target costs its timeout once, not once per target), and prints one JSON
# line per target, in argv's order.
PROBE_SCRIPT = """
import json, socket, sys, threading
def probe(target, results):
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        results[target] = "ok"
    except socket.gaierror:
        results[target] = "dns-error"
    except ConnectionRefusedError:
        results[target] = "refused"
    except OSError as error:
        results[target] = type(error).__name__
results = {}
threads = [threading.Thread(target=probe, args=(target, results)) for target in sys.argv[1:]]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
for target in sys.argv[1:]:
    print(json.dumps({"target": target, "result": results[target]}), flush=True)
"""
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


def boot_state(run, live_listing, path=BOOT_RULESET):
    """What the boot would load: whether the persisted file matches its
    checksum (the unit refuses it otherwise), and how the table it loads, in
    a scratch network namespace, differs from the live one (drift sentences;
    None with ``error`` when it does not load)."""
    checksum_ok = run(["sha256sum", "--quiet", "--check", path + ".sha256"])[0] == 0
    rc, out, err = run(scratch_command("nft", "inet", "aicontainers", path))[:3]
    if rc != 0:
        return {"checksum_ok": checksum_ok, "drift": None, "error": (err or "").strip()[:300] or "no file"}
    text = run(["nft", "-s", "list", "table", "inet", "aicontainers"])[1] if live_listing else None
    live = table_state(live_listing, text)
    return {"checksum_ok": checksum_ok, "drift": drift(live, scratch_result(out)[0]), "error": ""}


def gather(run, policy_path, resolver_conf, name_proxy_conf=NAME_PROXY_CONF):
    rc, ruleset = run(["nft", "-j", "list", "table", "inet", "aicontainers"])[:2]
    requires = run(["systemctl", "show", "--property", "Requires", "--value", "docker.service"])[1]
    active_rc = run(["systemctl", "is-active", "--quiet", "aicontainers-firewall.service"])[0]
    policy_text = _read(policy_path)
    policy = _json(policy_text, None) if policy_text else None
    return {
        "name_proxy": name_proxy_state(run, name_proxy_conf) if (policy or {}).get("name_check") else None,
        "policy": policy,
        "ruleset": _json(ruleset, {}) if rc == 0 else {},
        "resolver_text": _read(resolver_conf),
        "networks": container_networks(run),
        "engine_requires": requires,
        "firewall_active": active_rc == 0,
        "boot": boot_state(run, ruleset if rc == 0 else ""),
    }


def _name_proxy_targets(network, name_proxy_port):
    """Where a container on ``network`` reaches the host's name-checking proxy: its IPv4 gateway."""
    if not name_proxy_port:
        return []
    ipv4 = [gateway for gateway in network.get("Gateways", []) if ":" not in gateway]
    return ["{0}:{1}".format(gateway, name_proxy_port) for gateway in ipv4[:1]]


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
        seen = {line["target"]: line["result"] for line in map(lambda t: _json(t, {}), out.splitlines()) if line}
        for target, expect in expectations:
            result = seen.get(target) or "probe failed: {0}".format((err or "rc {0}".format(rc)).strip()[:200])
            results.append({"network": network["Name"], "target": target, "expect": expect, "result": result})
    return results
