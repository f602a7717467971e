# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Own exactly one nftables table: check it, apply it atomically, roll it back.

Everything here works on one table (``inet aicontainers`` by default) and
never touches another, in particular Docker's. A table is replaced in one
``nft -f`` transaction with the ``table X`` / ``delete table X`` / ``table X
{...}`` idiom (nft 1.0.6 in Debian bookworm has no ``destroy``), so the
kernel either runs the old table or the new one, never a mix or nothing.

Whether the live table is already the wanted one is decided by what is
loaded, never by a mark we wrote: the wanted table is loaded into a scratch
network namespace and both are read back with ``nft -j``, so nft itself
normalises the two the same way; their chains (hook, priority, policy), rules
in order, sets, the table's flags and its comment are then compared (see
``table_state``),
without handles, counters' values and the elements dnsmasq adds at run time.
A flushed chain, a changed policy, an inserted rule or a missing table is a
change. The table's comment still carries a fingerprint of the content: it
marks the table as ours (the boot unit checks it), it decides nothing here.

``commands`` is any object with ``run(args, data=None) -> (rc, stdout,
stderr)``; the module passes one around AnsibleModule.run_command and the
unit tests a fake.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

FAMILIES = ("inet", "ip", "ip6", "arp", "bridge", "netdev")
FINGERPRINT_PREFIX = "aicontainers.hardening sha256:"
FINGERPRINT = re.compile(r'comment\s+"' + re.escape(FINGERPRINT_PREFIX) + r'([0-9a-f]{16})"')


class RulesetError(Exception):
    """A ruleset that must not be applied, with nft's own message when it has one."""


def table_header(family, name):
    return "table {0} {1}".format(family, name)


def top_level_statements(content):
    """Yield (line number, text) of each statement outside any braces."""
    depth = 0
    for number, line in enumerate(content.splitlines(), start=1):
        code = line.split("#", 1)[0].strip()
        if depth == 0 and code:
            yield number, code
        depth += code.count("{") - code.count("}")


def check_structure(content, family, name):
    """Refuse content that defines anything but our one table (no flush, no other table)."""
    header = table_header(family, name)
    statements = list(top_level_statements(content))
    if not statements:
        raise RulesetError("The content is empty; it must define '{0} {{ ... }}'.".format(header))
    for number, code in statements:
        if not re.match(r"^" + re.escape(header) + r"\s*\{", code):
            raise RulesetError(
                "Line {0} ('{1}') is outside '{2}'; the content may define only that table, so "
                "other tables (Docker's among them) are never flushed or changed.".format(number, code, header)
            )
    if len(statements) > 1:
        raise RulesetError("The content defines '{0}' more than once; define it once.".format(header))


def fingerprint(content):
    """A short hash of the wanted table, without any fingerprint comment already in it."""
    body = FINGERPRINT.sub("", content)
    normalised = "\n".join(line.strip() for line in body.splitlines() if line.strip())
    return hashlib.sha256(normalised.encode()).hexdigest()[:16]


def with_fingerprint(content, family, name):
    """Insert the fingerprint comment right after the table's opening brace."""
    print_ = fingerprint(content)
    pattern = re.compile(r"^(\s*" + re.escape(table_header(family, name)) + r"\s*\{)", re.MULTILINE)
    return pattern.sub(r'\1\n\tcomment "{0}{1}"'.format(FINGERPRINT_PREFIX, print_), content, count=1), print_


def live_fingerprint(listing):
    match = FINGERPRINT.search(listing or "")
    return match.group(1) if match else None


def replacement(content, family, name):
    """One transaction that replaces the table whether or not it exists."""
    header = table_header(family, name)
    return "{0}\ndelete {0}\n{1}\n".format(header, content.rstrip("\n"))


def timeout_set_elements(listing_json):
    """{set name: [(address, seconds left)]} for the live table's sets with timeouts.

    Those are the sets dnsmasq fills as names resolve; plain address elements
    only (what dnsmasq adds).
    """
    elements = {}
    for item in json.loads(listing_json or "{}").get("nftables", []):
        declared = item.get("set")
        if not declared or "timeout" not in declared.get("flags", []):
            continue
        kept = []
        for element in declared.get("elem", []):
            inner = element.get("elem", {}) if isinstance(element, dict) else {}
            if isinstance(inner.get("val"), str) and inner.get("expires", 0) > 0:
                kept.append((inner["val"], inner["expires"]))
        elements[declared["name"]] = kept
    return elements


def carried_elements(elements, content, family, name):
    """``add element`` lines that put the live DNS-learned addresses back after a replacement.

    Replacing the table empties its sets; without this, every destination a
    client resolved before the change (and still has cached) would be refused
    until it resolves the name again. Only sets the new content still declares
    with a timeout get their elements back, each with the time it had left.
    """
    lines = []
    for set_name, members in sorted(elements.items()):
        declaration = re.search(r"\bset\s+" + re.escape(set_name) + r"\s*\{([^}]*)\}", content)
        if not members or not declaration or not re.search(r"\bflags\b[^;]*\btimeout\b", declaration.group(1)):
            continue
        listed = ", ".join("{0} timeout {1}s".format(value, seconds) for value, seconds in members)
        lines.append("add element {0} {1} {2} {{ {3} }}\n".format(family, name, set_name, listed))
    return "".join(lines)


def _without_counts(value):
    """A rule's expressions with every counter's packets and bytes left out:
    they count traffic, they enforce nothing."""
    if isinstance(value, list):
        return [_without_counts(item) for item in value]
    if isinstance(value, dict):
        return {key: ({} if key == "counter" else _without_counts(item)) for key, item in value.items()}
    return value


def _learned(element):
    """True for an element added at run time: dnsmasq's (and any timeout
    set's) elements expire; the ones a table declares in a plain set do not."""
    return isinstance(element, dict) and "expires" in element.get("elem", {})


def table_state(listing_json, listing=None):
    """What a table enforces, from ``nft -j list table``: {key: value} with
    keys ("table",), ("chain", name), ("rules", chain) and ("set", name).

    Handles, counters' values and learned set elements are left out; rules
    keep their order, elements are sorted (a hash set lists them in any order).
    nft 1.0.6 leaves the table's comment out of its JSON: with ``listing``
    (``nft -s list table``), the fingerprint in it is part of the table's
    entry. None when the listing holds no table.
    """
    state = {}
    for item in json.loads(listing_json or "{}").get("nftables", []):
        kind, body = next(iter(item.items()))
        body = {key: value for key, value in body.items() if key not in ("handle", "family", "table")}
        if kind == "table":
            state[("table",)] = body
        elif kind == "chain":
            state[("chain", body["name"])] = body
            state.setdefault(("rules", body["name"]), [])
        elif kind == "rule":
            chain = body.pop("chain")
            state.setdefault(("rules", chain), []).append(_without_counts(body))
        elif kind == "set":
            kept = [element for element in body.pop("elem", []) if not _learned(element)]
            body["elem"] = sorted(kept, key=lambda element: json.dumps(element, sort_keys=True))
            state[("set", body["name"])] = body
    if state and listing is not None:
        state.setdefault(("table",), {})["fingerprint"] = live_fingerprint(listing)
    return state or None


# How drift() names each part of a table_state.
PARTS = {
    "table": "the table's flags or comment",
    "chain": "chain {0}'s hook, priority or policy",
    "rules": "chain {0}'s rules",
    "set": "set {0}",
}


def drift(live, wanted):
    """Sentences naming how the live table (a table_state, or None) differs
    from the wanted one; empty when it enforces the same."""
    if live is None:
        return ["the table is not loaded"]
    sentences = []
    for key in sorted(set(live) | set(wanted)):
        part = PARTS[key[0]].format(*key[1:])
        if key not in live:
            sentences.append("{0}: missing".format(part))
        elif key not in wanted:
            sentences.append("{0}: not in the wanted table".format(part))
        elif live[key] != wanted[key]:
            sentences.append("{0}: changed".format(part))
    return sentences


def clause_devices(line):
    """The devices one chain line hooks: ``device "x"``, ``devices = { "x", "y" }``, or the same
    unquoted (nft 1.0.6 lists several devices so)."""
    clause = re.search(r"\bdevices?\s*=?\s*(\{[^}]*\}|\S+)", line.split("priority")[0])
    names = clause.group(1).strip("{}").split(",") if clause else []
    return [name.strip().strip('"') for name in names if name.strip()]


def hook_devices(content):
    """The devices the content's netdev chains hook, each once, in order."""
    found = []
    for line in (content or "").splitlines():
        if "hook" in line.split():
            found.extend(name for name in clause_devices(line) if name not in found)
    return found


def scratch_command(nft, family, name, source="-", devices=()):
    """argv that loads ``source`` (a file, or ``-`` for standard input) into a
    new network namespace, which vanishes with the command, and lists the
    table there: one line of JSON, then the text listing. The namespace gets a
    (veth) link for each of ``devices`` first: before Linux 6.16, a netdev chain
    loads only where its devices exist."""
    # The device names are arguments, never part of the script.
    links = (
        'n=0; for device in "$@"; do n=$((n + 1)); ip link show dev "$device" >/dev/null 2>&1 '
        '|| ip link add name "$device" type veth peer name "aichscratch$n" >&2 || exit 1; done; '
    )
    reads = '"$nft" -f "$source" >&2 && "$nft" -j list table "$family" "$table"'
    reads += ' && "$nft" -s list table "$family" "$table"'
    script = 'nft="$1" family="$2" table="$3" source="$4"; shift 4; ' + links + reads
    return ["unshare", "--net", "--", "sh", "-c", script, "sh", nft, family, name, source, *devices]


def scratch_result(out):
    """(table_state, listing) from what scratch_command printed."""
    listing_json, _newline, listing = out.partition("\n")
    return table_state(listing_json, listing), listing


def deletion(family, name):
    header = table_header(family, name)
    return "{0}\ndelete {0}\n".format(header)


class NftTable:
    """One nftables table, read and written through the nft command."""

    def __init__(self, commands, nft="nft", family="inet", name="aicontainers"):
        self.commands = commands
        self.nft = nft
        self.family = family
        self.name = name

    def listing(self):
        """The live table as ``nft -s list table`` prints it, or None when absent."""
        rc, out, _err = self.commands.run([self.nft, "-s", "list", "table", self.family, self.name])
        return out if rc == 0 else None

    def state(self):
        """The live table's table_state, None when absent."""
        rc, out, _err = self.commands.run([self.nft, "-j", "list", "table", self.family, self.name])
        return table_state(out, self.listing() or "") if rc == 0 else None

    def scratch_state(self, script):
        """The table_state and listing ``script`` would produce, loaded in a
        new network namespace that vanishes with the command; RulesetError when
        it does not load there."""
        devices = hook_devices(script) if self.family == "netdev" else ()
        command = scratch_command(self.nft, self.family, self.name, devices=devices)
        rc, out, err = self.commands.run(command, data=script)
        if rc != 0:
            raise RulesetError((err or "unshare failed with exit code {0}".format(rc)).strip())
        return scratch_result(out)

    def timeout_sets(self):
        """The live timeout sets' elements (see timeout_set_elements), {} when absent."""
        rc, out, _err = self.commands.run([self.nft, "-j", "list", "table", self.family, self.name])
        return timeout_set_elements(out) if rc == 0 else {}

    def _run_script(self, script, check):
        args = [self.nft, "-c", "-f", "-"] if check else [self.nft, "-f", "-"]
        rc, _out, err = self.commands.run(args, data=script)
        if rc != 0:
            raise RulesetError((err or "nft failed with exit code {0}".format(rc)).strip())

    def validate(self, script):
        """``nft -c``: the kernel checks the whole transaction without applying it."""
        self._run_script(script, check=True)

    def apply(self, script):
        self._run_script(script, check=False)


def write_if_changed(path, content, mode=0o644, dry_run=False):
    """Write a file atomically; return True when its content changed (would
    change, with dry_run: nothing is written)."""
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == content:
                return False
    except FileNotFoundError:
        pass
    if dry_run:
        return True
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
    return True


def persist(path, script, dry_run=False):
    """Write the boot script and, beside it, ``<path>.sha256`` in sha256sum's
    format, so that a boot unit (``sha256sum --check``) refuses a file that is
    empty, truncated or not the one written here. True when either changed."""
    digest = hashlib.sha256(script.encode()).hexdigest()
    # The checksum first: a crash between the two leaves a mismatch, which fails closed.
    checksum = write_if_changed(path + ".sha256", "{0}  {1}\n".format(digest, path), dry_run=dry_run)
    return write_if_changed(path, script, dry_run=dry_run) or checksum
