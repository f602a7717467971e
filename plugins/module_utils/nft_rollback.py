# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Commit-confirm for a firewall change: roll back by itself unless confirmed.

Before a new table is applied, the previous one is saved as a script that
restores it. A detached watchdog runs that script after the timeout unless the
pending file has been removed by a confirmation, which the controller sends
over a new connection: if the new rules cut the controller off, nobody
confirms and the old table comes back.

Each attempt has a pending file of its own (a random suffix), and its
watchdog takes only that file: a watchdog of an earlier, confirmed attempt,
still sleeping, can never restore the table over a later attempt.
"""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess

STATE_DIR = "/run/aicontainers"


def pending_path(family, name, state_dir=STATE_DIR, attempt=""):
    """One attempt's restore script (``attempt``: its suffix); without it, the
    base name the table's other files share."""
    suffix = ".{0}".format(attempt) if attempt else ""
    return os.path.join(state_dir, "nft-rollback-{0}-{1}{2}.nft".format(family, name, suffix))


def rolled_back_path(family, name, state_dir=STATE_DIR):
    return pending_path(family, name, state_dir) + ".rolled-back"


def _attempt_files(family, name, state_dir, ending):
    """The table's attempts' files that end with ``ending`` (".nft": pending, ".nft.firing")."""
    prefix = "nft-rollback-{0}-{1}.".format(family, name)
    try:
        names = os.listdir(state_dir)
    except FileNotFoundError:
        return []
    return [
        os.path.join(state_dir, entry)
        for entry in sorted(names)
        if entry.startswith(prefix) and entry.endswith(ending) and entry != prefix[:-1] + ending
    ]


def watchdog_command(nft, pending, rolled_back, timeout):
    """The shell line the watchdog runs: wait, then restore unless confirmed."""
    # `mv` is atomic: either the confirmation removes the pending file first, or
    # the watchdog takes it first and the confirmation finds it gone.
    firing = pending + ".firing"
    line = "sleep {timeout}; mv {pending} {firing} 2>/dev/null && {nft} -f {firing} && mv {firing} {rolled_back}"
    return line.format(
        timeout=int(timeout),
        pending=shlex.quote(pending),
        firing=shlex.quote(firing),
        rolled_back=shlex.quote(rolled_back),
        nft=shlex.quote(nft),
    )


def forget(family, name, state_dir=STATE_DIR):
    """Drop the mark of an earlier attempt's rollback, which that attempt's run reported.

    Every new apply starts a new attempt: without this, a run that changes
    nothing after a rollback would confirm, find the old mark and fail.
    """
    try:
        os.unlink(rolled_back_path(family, name, state_dir))
    except FileNotFoundError:
        pass


def arm(nft, family, name, restore_script, timeout, *, state_dir=STATE_DIR, spawn=None):
    """Save the restore script and start the watchdog; return the pending file's path."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    pending = pending_path(family, name, state_dir, attempt=secrets.token_hex(8))
    rolled_back = rolled_back_path(family, name, state_dir)
    forget(family, name, state_dir)
    with open(pending, "w", encoding="utf-8") as handle:
        handle.write(restore_script)
    os.chmod(pending, 0o600)
    command = ["/bin/sh", "-c", watchdog_command(nft, pending, rolled_back, timeout)]
    (spawn or _spawn_detached)(command)
    return pending


def _spawn_detached(command):
    # A new session, no inherited descriptors: the watchdog outlives the module
    # and the connection that started it. AnsibleModule.run_command waits for
    # its command, which is exactly what a watchdog must not make us do.
    with open(os.devnull, "rb") as null_in, open(os.devnull, "wb") as null_out:
        subprocess.Popen(  # pylint: disable=consider-using-with,ansible-bad-function
            command,
            stdin=null_in,
            stdout=null_out,
            stderr=null_out,
            start_new_session=True,
            close_fds=True,
        )


def confirm(family, name, state_dir=STATE_DIR):
    """Cancel the pending rollback.

    Returns "confirmed" when one was pending, "none" when nothing was, and
    "rolled-back" when the watchdog already restored the previous table.
    """
    confirmed = False
    for pending in _attempt_files(family, name, state_dir, ".nft"):
        try:
            os.unlink(pending)
            confirmed = True
        except FileNotFoundError:
            pass  # its watchdog took it first
    if _attempt_files(family, name, state_dir, ".nft.firing") or os.path.exists(
        rolled_back_path(family, name, state_dir)
    ):
        return "rolled-back"
    return "confirmed" if confirmed else "none"
