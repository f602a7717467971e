"""Benchmark: 20,000 allowed prefixes as an nftables set vs as linear rules.

Measures, in one run and against baselines measured in the same run:
  1. the time `nft -f` takes to load 20,000 prefixes into an interval set
     (how egress_firewall loads them) vs the same prefixes as 20,000 rules;
  2. TCP throughput (iperf3) between two hosts through a router's forward
     chain holding the 20,000-prefix set, vs the same router with no ruleset,
     and vs the same table with a one-element set (which separates the cost of
     the set's size from the cost of connection tracking).

The "hosts" are network namespaces made here (client - router - server over
veth pairs, addresses in 10.250.0.0/16), so all traffic stays on this machine
and nothing else on the host is touched. Needs root, nft, iperf3 and ip.

usage: python3 bench/egress_sets.py [--prefixes 20000] [--rounds 5] [--seconds 3]
"""

import argparse
import ipaddress
import itertools
import json
import statistics
import subprocess
import tempfile
import time

NS = {"client": "aich-bench-client", "router": "aich-bench-router", "server": "aich-bench-server"}
SERVER = "10.250.2.2"


def sh(*args, ns=None, check=True, data=None):
    command = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    return subprocess.run(command, check=check, input=data, capture_output=True, text=True)


def prefixes(count):
    """Deterministic /28s from 100.64.0.0/10 (shared address space: never routed here)."""
    network = ipaddress.ip_network("100.64.0.0/10")
    return [str(subnet) for subnet in itertools.islice(network.subnets(new_prefix=28), count)]


def set_table(items):
    elements = ", ".join([*items, SERVER])
    return (
        "table inet aich_bench {\n"
        "  set allowed { type ipv4_addr; flags interval; auto-merge; elements = { " + elements + " } }\n"
        "  chain forward { type filter hook forward priority filter; policy drop;\n"
        "    ct state established,related accept\n"
        "    ip daddr @allowed tcp dport 5201 accept\n"
        "    ip saddr " + SERVER + " accept\n  }\n}\n"
    )


def linear_table(items):
    rules = "".join("    ip daddr {0} tcp dport 5201 accept\n".format(item) for item in items)
    return (
        "table inet aich_bench {\n"
        "  chain forward { type filter hook forward priority filter; policy drop;\n"
        "    ct state established,related accept\n" + rules + "    ip daddr " + SERVER + " tcp dport 5201 accept\n"
        "    ip saddr " + SERVER + " accept\n  }\n}\n"
    )


def load_seconds(table_text):
    """Time one `nft -f` load of the table into a fresh router namespace table."""
    sh("nft", "delete", "table", "inet", "aich_bench", ns=NS["router"], check=False)
    with tempfile.NamedTemporaryFile("w", suffix=".nft") as handle:
        handle.write(table_text)
        handle.flush()
        start = time.perf_counter()
        sh("nft", "-f", handle.name, ns=NS["router"])
        return time.perf_counter() - start


def throughput_gbps(seconds):
    result = sh("iperf3", "-c", SERVER, "-t", str(seconds), "-J", ns=NS["client"])
    return json.loads(result.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9


def setup():
    teardown()
    for name in NS.values():
        sh("ip", "netns", "add", name)
        sh("ip", "link", "set", "lo", "up", ns=name)
    for side, ns, net in (("c", NS["client"], "1"), ("s", NS["server"], "2")):
        sh("ip", "link", "add", "aichb-" + side, "type", "veth", "peer", "name", "aichb-r" + side)
        sh("ip", "link", "set", "aichb-" + side, "netns", ns)
        sh("ip", "link", "set", "aichb-r" + side, "netns", NS["router"])
        sh("ip", "addr", "add", "10.250.{0}.2/24".format(net), "dev", "aichb-" + side, ns=ns)
        sh("ip", "link", "set", "aichb-" + side, "up", ns=ns)
        sh("ip", "route", "add", "default", "via", "10.250.{0}.1".format(net), ns=ns)
        sh("ip", "addr", "add", "10.250.{0}.1/24".format(net), "dev", "aichb-r" + side, ns=NS["router"])
        sh("ip", "link", "set", "aichb-r" + side, "up", ns=NS["router"])
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=NS["router"])


def teardown():
    for name in NS.values():
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False).stdout
        for pid in pids.split():
            subprocess.run(["kill", pid], check=False)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def start_server():
    """iperf3 as a daemon inside the server namespace; teardown kills it with the namespace's pids."""
    sh("iperf3", "-s", "-D", ns=NS["server"])
    time.sleep(0.5)


def summary(label, values, unit):
    return "{0:<46} min {1:8.3f}  median {2:8.3f}  max {3:8.3f} {4}".format(
        label, min(values), statistics.median(values), max(values), unit
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefixes", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    items = prefixes(args.prefixes)
    setup()
    try:
        start_server()
        loads = {"set": [], "linear": []}
        rates = {"empty": [], "set": [], "small": []}
        for _round in range(args.rounds):  # interleaved, so drift hits both sides alike
            loads["set"].append(load_seconds(set_table(items)))
            rates["set"].append(throughput_gbps(args.seconds))
            loads["linear"].append(load_seconds(linear_table(items)))
            load_seconds(set_table([]))  # same chain, one-element set: the cost of conntrack alone
            rates["small"].append(throughput_gbps(args.seconds))
            sh("nft", "delete", "table", "inet", "aich_bench", ns=NS["router"])
            rates["empty"].append(throughput_gbps(args.seconds))
    finally:
        teardown()
    print("{0} prefixes, {1} rounds".format(args.prefixes, args.rounds))
    print(summary("load as one interval set (nft -f)", loads["set"], "s"))
    print(summary("load as linear rules (nft -f)", loads["linear"], "s"))
    print(summary("forward throughput, 20k-prefix set", rates["set"], "Gbit/s"))
    print(summary("forward throughput, same table, 1-element set", rates["small"], "Gbit/s"))
    print(summary("forward throughput, empty ruleset (baseline)", rates["empty"], "Gbit/s"))
    set_load = statistics.median(loads["set"])
    print(
        "ratio load set/linear          {0:.3f}  (set load {1:.3f} s; goal < 1 s)".format(
            set_load / statistics.median(loads["linear"]), set_load
        )
    )
    print(
        "ratio throughput set/empty     {0:.3f}  (goal >= 0.95)".format(
            statistics.median(rates["set"]) / statistics.median(rates["empty"])
        )
    )


if __name__ == "__main__":
    main()
