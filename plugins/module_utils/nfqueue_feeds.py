# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find the rules that feed packets to an inline IPS through NFQUEUE.

An IPS such as Suricata inline reads packets from a netfilter queue. A flow
bypasses it only when the rule that queues it is skipped: the feed must accept
flows carrying the metering mark (set by the egress_firewall table) before its
queue rule. This reads ``nft -j list ruleset`` and reports, for every queue
rule, whether an earlier rule of the same chain accepts on the mark.
"""

from __future__ import annotations

import json

MARK_KEYS = ("mark",)
XT_MARK_MATCHES = ("connmark", "mark")


def _is_queue(statement):
    if "queue" in statement:
        return True
    xt = statement.get("xt") or {}
    return xt.get("type") == "target" and xt.get("name") == "NFQUEUE"


def _mark_bits(match, mark):
    """True when a native match tests ct/meta mark for all of our bits."""
    left, right = match.get("left"), match.get("right")
    if isinstance(left, dict) and "&" in left:
        selector, mask = left["&"]
        if not isinstance(mask, int) or mask & mark != mark:
            return False
        left = selector
    selector = (left or {}).get("ct") or (left or {}).get("meta") or {}
    return selector.get("key") in MARK_KEYS and isinstance(right, int) and right & mark == mark


def _accepts_marked(statements, mark):
    """A rule that accepts flows carrying the mark.

    iptables-nft's connmark/mark matches show up as opaque ``xt`` matches
    whose value the JSON does not carry; they are taken at their word.
    """
    if not any("accept" in statement for statement in statements):
        return False
    for statement in statements:
        if "match" in statement and _mark_bits(statement["match"], mark):
            return True
        xt = statement.get("xt") or {}
        if xt.get("type") == "match" and xt.get("name") in XT_MARK_MATCHES:
            return True
    return False


def queue_feeds(ruleset_json, mark):
    """Every queue rule in the ruleset, with ``bypassed`` telling whether marked flows skip it."""
    # nft prints a warning line before the JSON when iptables-nft owns a table.
    start = ruleset_json.find("{") if ruleset_json else -1
    items = json.loads(ruleset_json[start:]).get("nftables", []) if start >= 0 else []
    feeds, marked_chains = [], set()
    for item in items:
        rule = item.get("rule")
        if not rule:
            continue
        chain = (rule["family"], rule["table"], rule["chain"])
        statements = rule.get("expr", [])
        if _accepts_marked(statements, mark):
            marked_chains.add(chain)
        if any(_is_queue(statement) for statement in statements):
            feeds.append(
                {
                    "family": chain[0],
                    "table": chain[1],
                    "chain": chain[2],
                    "handle": rule.get("handle"),
                    "bypassed": chain in marked_chains,
                }
            )
    return feeds
