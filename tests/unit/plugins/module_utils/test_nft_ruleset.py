"""nft_ruleset: only our table, fingerprints, one-transaction replacement, rollback."""

import json
import os
import shutil
import subprocess
import uuid

import pytest

from ansible_collections.aicontainers.hardening.plugins.module_utils import nft_rollback
from ansible_collections.aicontainers.hardening.plugins.module_utils.nft_ruleset import (
    NftTable,
    RulesetError,
    carried_elements,
    check_structure,
    deletion,
    drift,
    fingerprint,
    live_fingerprint,
    persist,
    replacement,
    table_state,
    timeout_set_elements,
    with_fingerprint,
    write_if_changed,
)

TABLE = """table inet aicontainers {
\tset allowed_v4 { type ipv4_addr; flags timeout; }
\tchain output {
\t\ttype filter hook output priority filter; policy drop;
\t\toif "lo" accept
\t}
}
"""


class FakeCommands:
    """Records nft calls and answers from a script of (rc, out, err)."""

    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or {}

    def run(self, args, data=None):
        self.calls.append((args, data))
        return self.answers.get(tuple(args[1:3]), (0, "", ""))


def test_our_table_alone_is_accepted():
    check_structure(TABLE, "inet", "aicontainers")


@pytest.mark.parametrize(
    "content, message",
    [
        ("flush ruleset\n" + TABLE, "Line 1 ('flush ruleset') is outside 'table inet aicontainers'"),
        (TABLE + "table ip nat { }\n", "is outside 'table inet aicontainers'"),
        ("table inet docker { }\n", "is outside"),
        (TABLE + TABLE, "more than once"),
        ("# only a comment\n", "The content is empty"),
    ],
)
def test_anything_but_our_table_is_refused(content, message):
    with pytest.raises(RulesetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_structure(content, "inet", "aicontainers")


def test_fingerprint_ignores_whitespace_and_its_own_comment():
    marked, print_ = with_fingerprint(TABLE, "inet", "aicontainers")
    assert 'comment "aicontainers.hardening sha256:{0}"'.format(print_) in marked
    assert fingerprint(marked) == print_ == fingerprint(TABLE.replace("\t", "    "))
    assert fingerprint(TABLE.replace("drop", "accept")) != print_


def test_live_fingerprint_is_read_from_the_listing_despite_dynamic_elements():
    marked, print_ = with_fingerprint(TABLE, "inet", "aicontainers")
    listing = marked.replace("flags timeout; }", "flags timeout; elements = { 10.0.0.1 expires 59m } }")
    assert live_fingerprint(listing) == print_
    assert live_fingerprint(None) is None
    assert live_fingerprint("table inet aicontainers { }") is None


def test_replacement_is_one_transaction_that_works_whether_or_not_the_table_exists():
    script = replacement(TABLE, "inet", "aicontainers")
    assert script.startswith("table inet aicontainers\ndelete table inet aicontainers\ntable inet aicontainers {")
    assert deletion("inet", "aicontainers") == "table inet aicontainers\ndelete table inet aicontainers\n"


def test_validate_uses_nft_check_and_reports_nft_own_error():
    commands = FakeCommands({("-c", "-f"): (1, "", "Error: syntax error, unexpected junk\n")})
    table = NftTable(commands, nft="/usr/sbin/nft")
    with pytest.raises(RulesetError, match="Error: syntax error, unexpected junk"):
        table.validate("script")
    assert commands.calls == [(["/usr/sbin/nft", "-c", "-f", "-"], "script")]


def test_listing_of_an_absent_table_is_none():
    commands = FakeCommands({("-s", "list"): (1, "", "No such file or directory")})
    assert NftTable(commands).listing() is None


def test_write_if_changed(tmp_path):
    path = str(tmp_path / "etc" / "firewall.nft")
    assert write_if_changed(path, "a\n") is True
    assert write_if_changed(path, "a\n") is False
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


def test_write_if_changed_dry_run_tells_without_writing(tmp_path):
    path = str(tmp_path / "firewall.nft")
    assert write_if_changed(path, "a\n", dry_run=True) is True
    assert not os.path.exists(path)
    write_if_changed(path, "a\n")
    assert write_if_changed(path, "a\n", dry_run=True) is False
    assert write_if_changed(path, "b\n", dry_run=True) is True
    assert open(path).read() == "a\n"


def test_rollback_is_armed_and_confirmation_cancels_it(tmp_path):
    spawned = []
    pending = nft_rollback.arm(
        "nft", "inet", "aicontainers", "RESTORE", 30, state_dir=str(tmp_path), spawn=spawned.append
    )
    assert open(pending).read() == "RESTORE"
    assert oct(os.stat(pending).st_mode & 0o777) == "0o600"
    (command,) = spawned
    assert command[:2] == ["/bin/sh", "-c"] and command[2].startswith("sleep 30; mv ")
    assert nft_rollback.confirm("inet", "aicontainers", state_dir=str(tmp_path)) == "confirmed"
    assert nft_rollback.confirm("inet", "aicontainers", state_dir=str(tmp_path)) == "none"


def test_the_watchdog_restores_when_nobody_confirms(tmp_path):
    """Run the real watchdog line with a stand-in nft that records what it loads."""
    loaded = tmp_path / "loaded"
    fake_nft = tmp_path / "nft"
    fake_nft.write_text('#!/bin/sh\ncat "$2" > {0}\n'.format(loaded))
    fake_nft.chmod(0o755)
    nft_rollback.arm(
        str(fake_nft),
        "inet",
        "t",
        "OLD TABLE",
        0,
        state_dir=str(tmp_path),
        spawn=lambda command: os.spawnv(os.P_WAIT, command[0], command),
    )
    assert loaded.read_text() == "OLD TABLE"
    assert nft_rollback.confirm("inet", "t", state_dir=str(tmp_path)) == "rolled-back"


def test_a_new_attempt_forgets_an_earlier_rollback(tmp_path):
    """After a rollback the next run applies (nothing to change) and confirms: nothing was rolled back this time."""
    rolled_back = tmp_path / "nft-rollback-inet-t.nft.rolled-back"
    rolled_back.write_text("OLD TABLE")
    assert nft_rollback.confirm("inet", "t", state_dir=str(tmp_path)) == "rolled-back"
    nft_rollback.forget("inet", "t", state_dir=str(tmp_path))
    assert nft_rollback.confirm("inet", "t", state_dir=str(tmp_path)) == "none"
    nft_rollback.forget("inet", "t", state_dir=str(tmp_path))  # nothing to forget: no error


LEARNED_SETS = """
table inet aicontainers {
\tset domains0_v4 { type ipv4_addr; flags timeout; timeout 3600s; }
\tset static_v4 { type ipv4_addr; flags interval; }
}
"""


def test_carried_elements_put_learned_addresses_back_in_sets_still_declared():
    elements = {"domains0_v4": [("192.0.2.10", 3000)], "gone_v4": [("192.0.2.11", 50)], "static_v4": []}
    assert carried_elements(elements, LEARNED_SETS, "inet", "aicontainers") == (
        "add element inet aicontainers domains0_v4 { 192.0.2.10 timeout 3000s }\n"
    )


def test_timeout_set_elements_reads_what_nft_lists():
    listing = json.dumps(
        {
            "nftables": [
                {"metainfo": {}},
                {
                    "set": {
                        "name": "domains0_v4",
                        "flags": ["timeout"],
                        "elem": [{"elem": {"val": "192.0.2.10", "timeout": 3600, "expires": 2999}}],
                    }
                },
                {"set": {"name": "static_v4", "flags": ["interval"], "elem": [{"prefix": {}}]}},
            ]
        }
    )
    assert timeout_set_elements(listing) == {"domains0_v4": [("192.0.2.10", 2999)]}


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nft"), reason="needs root and nft")
def test_learned_addresses_survive_a_real_replacement():
    namespace = "aichunit-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        nft = ["ip", "netns", "exec", namespace, "nft"]
        subprocess.run([*nft, "-f", "-"], input=LEARNED_SETS, text=True, check=True)
        subprocess.run([*nft, "add element inet aicontainers domains0_v4 { 192.0.2.10 }"], check=True)
        listing = subprocess.run(
            [*nft, "-j", "list", "table", "inet", "aicontainers"], capture_output=True, text=True, check=True
        )
        changed = LEARNED_SETS.replace("flags interval;", "flags interval; auto-merge;")
        script = replacement(changed, "inet", "aicontainers") + carried_elements(
            timeout_set_elements(listing.stdout), changed, "inet", "aicontainers"
        )
        subprocess.run([*nft, "-f", "-"], input=script, text=True, check=True)
        after = subprocess.run(
            [*nft, "list", "set", "inet", "aicontainers", "domains0_v4"], capture_output=True, text=True, check=True
        )
        assert (
            "192.0.2.10" in after.stdout
            and "auto-merge"
            in subprocess.run(
                [*nft, "list", "table", "inet", "aicontainers"], capture_output=True, text=True, check=True
            ).stdout
        )
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)


def _listing(*objects):
    return json.dumps({"nftables": [{"metainfo": {"version": "1.0.6"}}, *objects]})


LIVE = (
    {"table": {"family": "inet", "name": "aicontainers", "handle": 7, "comment": "ours"}},
    {
        "set": {
            "family": "inet",
            "table": "aicontainers",
            "name": "names_v4",
            "handle": 2,
            "type": "ipv4_addr",
            "flags": ["timeout"],
            "timeout": 3600,
            "elem": [{"elem": {"val": "192.0.2.10", "timeout": 3600, "expires": 2999}}],
        }
    },
    {
        "set": {
            "family": "inet",
            "table": "aicontainers",
            "name": "dns_v4",
            "handle": 3,
            "type": "ipv4_addr",
            "elem": ["192.0.2.54", "192.0.2.53"],
        }
    },
    {
        "chain": {
            "family": "inet",
            "table": "aicontainers",
            "name": "output",
            "handle": 4,
            "type": "filter",
            "hook": "output",
            "prio": 0,
            "policy": "drop",
        }
    },
    {
        "rule": {
            "family": "inet",
            "table": "aicontainers",
            "chain": "output",
            "handle": 5,
            "expr": [{"counter": {"packets": 12, "bytes": 900}}, {"drop": None}],
        }
    },
)


def test_table_state_leaves_out_handles_counts_and_learned_elements():
    fresh = json.loads(_listing(*LIVE))
    fresh["nftables"][2]["set"]["elem"] = []
    fresh["nftables"][3]["set"]["elem"] = ["192.0.2.53", "192.0.2.54"]
    fresh["nftables"][5]["rule"]["expr"][0]["counter"] = {"packets": 0, "bytes": 0}
    for item in fresh["nftables"][1:]:
        next(iter(item.values()))["handle"] += 40
    assert table_state(_listing(*LIVE)) == table_state(json.dumps(fresh))
    assert drift(table_state(_listing(*LIVE)), table_state(json.dumps(fresh))) == []


def _edited(edit):
    objects = json.loads(_listing(*LIVE))["nftables"][1:]
    edit(objects)
    return table_state(_listing(*objects))


@pytest.mark.parametrize(
    "edit, named",
    [
        (lambda objects: objects.pop(), "chain output's rules: changed"),
        (
            lambda objects: objects[3]["chain"].update(policy="accept"),
            "chain output's hook, priority or policy: changed",
        ),
        (
            lambda objects: objects.insert(4, {"rule": {"chain": "output", "expr": [{"accept": None}]}}),
            "chain output's rules: changed",
        ),
        (lambda objects: objects[2]["set"].update(elem=["192.0.2.53", "203.0.113.9"]), "set dns_v4: changed"),
        (lambda objects: objects[1]["set"]["elem"].append("203.0.113.9"), "set names_v4: changed"),
        (lambda objects: objects[0]["table"].update(comment="someone's"), "the table's flags or comment: changed"),
        (
            lambda objects: objects.append({"chain": {"name": "extra", "type": "filter"}}),
            "chain extra's hook, priority or policy: not in the wanted table",
        ),
        (lambda objects: [objects.pop(), objects.pop()], "chain output's hook, priority or policy: missing"),
    ],
    ids=[
        "flushed chain",
        "policy",
        "inserted accept",
        "static element",
        "element added by hand without expiry",
        "comment",
        "extra chain",
        "deleted chain",
    ],
)
def test_drift_names_each_change_that_weakens_the_table(edit, named):
    assert named in drift(_edited(edit), table_state(_listing(*LIVE)))


def test_a_missing_table_is_drift():
    assert drift(None, table_state(_listing(*LIVE))) == ["the table is not loaded"]
    assert table_state(_listing()) is None


class NamespaceCommands:
    """Runs each command inside one network namespace, as the module would on a host."""

    def __init__(self, namespace):
        self.namespace = namespace

    def run(self, args, data=None):
        done = subprocess.run(
            ["ip", "netns", "exec", self.namespace, *args], input=data, capture_output=True, text=True, check=False
        )
        return done.returncode, done.stdout, done.stderr


REAL = """table inet aicontainers {
\tset names_v4 { type ipv4_addr; flags timeout; timeout 1h; }
\tset dns_v4 { type ipv4_addr; elements = { 192.0.2.53, 192.0.2.54 }; }
\tchain frontend_guard {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tiif "lo" accept
\t\ttcp dport 5000 fib daddr type local counter drop
\t}
\tchain output {
\t\ttype filter hook output priority filter; policy drop;
\t\toif "lo" accept
\t\tip daddr @dns_v4 udp dport 53 accept
\t\tcounter drop
\t}
}
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("ip", "nft", "unshare")), reason="needs root and nft"
)
@pytest.mark.parametrize(
    "tamper, named",
    [
        (None, None),
        ("add element inet aicontainers names_v4 { 192.0.2.10 }", None),
        ("flush chain inet aicontainers frontend_guard", "chain frontend_guard's rules: changed"),
        ("flush table inet aicontainers", "chain frontend_guard's rules: changed"),
        ("delete table inet aicontainers", "the table is not loaded"),
        ("chain inet aicontainers output { policy accept; }", "chain output's hook, priority or policy: changed"),
        ("insert rule inet aicontainers output ip daddr 0.0.0.0/0 accept", "chain output's rules: changed"),
    ],
    ids=[
        "as loaded",
        "learned element",
        "flushed chain",
        "flushed table",
        "deleted table",
        "policy",
        "inserted accept",
    ],
)
def test_live_drift_is_seen_against_a_scratch_load(tamper, named):
    namespace = "aichunit-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        table = NftTable(NamespaceCommands(namespace))
        marked, _print = with_fingerprint(REAL, "inet", "aicontainers")
        script = replacement(marked, "inet", "aicontainers")
        table.apply(script)
        if tamper:
            assert table.commands.run(["nft", tamper])[0] == 0
        wanted, listing = table.scratch_state(script)
        assert "chain frontend_guard" in listing
        found = drift(table.state(), wanted)
        assert (named in found) if named else found == []
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)


@pytest.mark.skipif(not shutil.which("sha256sum"), reason="needs sha256sum")
def test_the_persisted_file_is_checked_by_its_checksum(tmp_path):
    path = str(tmp_path / "firewall.nft")
    script = replacement(TABLE, "inet", "aicontainers")
    assert persist(path, script) is True
    assert persist(path, script) is False
    check = ["sha256sum", "--quiet", "--check", path + ".sha256"]
    assert subprocess.run(check, check=False).returncode == 0
    for broken in ("", script[: len(script) // 2] + "}\n"):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(broken)
        assert subprocess.run(check, capture_output=True, check=False).returncode != 0
    assert persist(path, script, dry_run=True) is True


def test_the_fingerprint_from_the_text_listing_is_part_of_the_table():
    # nft 1.0.6 leaves the table's comment out of its JSON; the text listing has it.
    ours = table_state(
        _listing(*LIVE), 'table inet aicontainers {\n\tcomment "aicontainers.hardening sha256:0123456789abcdef"\n'
    )
    other = table_state(
        _listing(*LIVE), 'table inet aicontainers {\n\tcomment "aicontainers.hardening sha256:fedcba9876543210"\n'
    )
    assert drift(other, ours) == ["the table's flags or comment: changed"]
    assert drift(ours, ours) == []


def test_an_earlier_attempts_watchdog_never_restores_over_a_later_attempt(tmp_path):
    """Two attempts within the timeout: the first one's watchdog fires while the second waits to be confirmed."""
    loaded = tmp_path / "loaded"
    fake_nft = tmp_path / "nft"
    fake_nft.write_text('#!/bin/sh\ncat "$2" > {0}\n'.format(loaded))
    fake_nft.chmod(0o755)
    watchdogs = []
    nft_rollback.arm(str(fake_nft), "inet", "t", "BEFORE FIRST", 0, state_dir=str(tmp_path), spawn=watchdogs.append)
    assert nft_rollback.confirm("inet", "t", state_dir=str(tmp_path)) == "confirmed"
    nft_rollback.forget("inet", "t", state_dir=str(tmp_path))
    nft_rollback.arm(str(fake_nft), "inet", "t", "BEFORE SECOND", 0, state_dir=str(tmp_path), spawn=watchdogs.append)
    first, _second = watchdogs
    os.spawnv(os.P_WAIT, first[0], first)
    assert not loaded.exists()
    assert nft_rollback.confirm("inet", "t", state_dir=str(tmp_path)) == "confirmed"
