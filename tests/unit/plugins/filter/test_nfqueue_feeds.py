"""nfqueue_feeds: which NFQUEUE feeds let the marked metering flows skip the IPS."""

import json
import os
import shutil
import subprocess
import uuid

import pytest

from ansible_collections.aicontainers.hardening.plugins.filter.nfqueue_feeds import nfqueue_feeds
from ansible_collections.aicontainers.hardening.plugins.module_utils.nfqueue_feeds import queue_feeds

MARK = 0x00100000
DPORT_443 = {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}}


def ruleset(*rules):
    items = [{"metainfo": {"json_schema_version": 1}}]
    for handle, (chain, expr) in enumerate(rules, start=2):
        items.append({"rule": {"family": "inet", "table": "ips", "chain": chain, "handle": handle, "expr": expr}})
    return json.dumps({"nftables": items})


def ct_mark_accept(mask, value):
    left = {"&": [{"ct": {"key": "mark"}}, mask]}
    return [{"match": {"op": "==", "left": left, "right": value}}, {"accept": None}]


QUEUE = [DPORT_443, {"queue": {"num": 0}}]
XT_QUEUE = [DPORT_443, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "NFQUEUE"}}]


def test_a_feed_without_a_mark_rule_is_not_bypassed():
    assert queue_feeds(ruleset(("output", QUEUE)), MARK) == [
        {"family": "inet", "table": "ips", "chain": "output", "handle": 2, "bypassed": False}
    ]


def test_a_mark_accept_before_the_queue_bypasses_it():
    (feed,) = queue_feeds(ruleset(("output", ct_mark_accept(MARK, MARK)), ("output", QUEUE)), MARK)
    assert feed["bypassed"] is True


def test_a_mark_accept_after_the_queue_or_in_another_chain_does_not():
    feeds = queue_feeds(
        ruleset(("input", ct_mark_accept(MARK, MARK)), ("output", QUEUE), ("output", ct_mark_accept(MARK, MARK))),
        MARK,
    )
    assert [feed["bypassed"] for feed in feeds] == [False]


def test_another_mark_bit_does_not_count():
    (feed,) = queue_feeds(ruleset(("output", ct_mark_accept(0x10, 0x10)), ("output", QUEUE)), MARK)
    assert feed["bypassed"] is False


def test_an_exact_meta_mark_match_counts():
    rule = [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": MARK}}, {"accept": None}]
    (feed,) = queue_feeds(ruleset(("output", rule), ("output", QUEUE)), MARK)
    assert feed["bypassed"] is True


def test_iptables_nft_feeds_are_found_and_their_connmark_match_counts():
    connmark = [DPORT_443, {"xt": {"type": "match", "name": "connmark"}}, {"accept": None}]
    feeds = queue_feeds(ruleset(("OUTPUT", XT_QUEUE), ("INPUT", connmark), ("INPUT", XT_QUEUE)), MARK)
    assert [(feed["chain"], feed["bypassed"]) for feed in feeds] == [("OUTPUT", False), ("INPUT", True)]


def test_no_ruleset_means_no_feeds():
    assert queue_feeds("", MARK) == []
    assert queue_feeds("# Warning: table ip filter is managed by iptables-nft\n", MARK) == []


def test_filter_explains_unreadable_json():
    with pytest.raises(Exception, match="nfqueue_feeds: cannot read the ruleset JSON"):
        nfqueue_feeds("{not json", MARK)


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables-nft"),
    reason="needs root, ip and iptables-nft",
)
def test_real_iptables_feed_in_a_network_namespace():
    """The shapes above are what nft really prints for an iptables-nft IPS feed."""
    namespace = "aichunit-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        run = ["ip", "netns", "exec", namespace]
        base = [*run, "iptables-nft", "-A", "OUTPUT", "-p", "tcp", "--dport", "443"]
        subprocess.run([*base, "-m", "connmark", "--mark", "0x100000/0x100000", "-j", "ACCEPT"], check=True)
        subprocess.run([*base, "-j", "NFQUEUE", "--queue-num", "0"], check=True)
        subprocess.run(
            [*run, "iptables-nft", "-A", "INPUT", "-p", "tcp", "--sport", "443", "-j", "NFQUEUE", "--queue-num", "0"],
            check=True,
        )
        listing = subprocess.run([*run, "nft", "-j", "list", "ruleset"], capture_output=True, text=True, check=True)
        # As printed, with iptables-nft's warning line before the JSON.
        feeds = queue_feeds(listing.stdout, MARK)
        assert [(feed["chain"], feed["bypassed"]) for feed in feeds] == [("OUTPUT", True), ("INPUT", False)]
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)
