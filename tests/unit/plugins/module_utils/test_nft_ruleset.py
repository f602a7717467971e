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
    fingerprint,
    live_fingerprint,
    replacement,
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
