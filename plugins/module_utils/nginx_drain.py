# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One drain step on an NGINX frontend, in one round trip.

:func:`apply` reads the upstream state the role keeps beside NGINX's
configuration, changes it with :func:`mtls_upstreams.drain`, and when it
differs writes the state and the group's server lines, tests the whole
configuration with ``nginx -t`` (the previous files are put back when it
fails, so the old configuration keeps serving), reloads NGINX gracefully
and, on a drain, waits until the workers from before the reload have
finished the requests they had sent and exited (at most the grace): a drain
with nothing under way costs no wait.

The host is reached through a :class:`Host` (files, commands, processes,
time), so the decisions are unit-tested without NGINX.
"""

from __future__ import annotations

import json
import os
import time

from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_upstreams import drain

# NGINX's workers: "nginx: worker process", then "... is shutting down" while
# they finish what they had after a reload.
WORKER_TITLE = b"nginx: worker process"


class DrainError(RuntimeError):
    pass


def state_json(state):
    """The state as the role's main entry point writes it (Ansible's to_nice_json), so neither rewrites the other."""
    return json.dumps(state, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


class Host:
    """The frontend as the module sees it; tests replace it."""

    def __init__(self, run_command, write_file, proc_root="/proc"):
        self._run_command = run_command
        self._write_file = write_file
        self._proc_root = proc_root

    @staticmethod
    def read(path):
        """The file's text, or None when it does not exist."""
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def write(self, path, content):
        self._write_file(path, content)

    @staticmethod
    def remove(path):
        os.unlink(path)

    def run(self, argv):
        return self._run_command(argv)

    def workers(self):
        """The process ids of NGINX's workers, old and new."""
        found = set()
        for pid in os.listdir(self._proc_root):
            if not pid.isdigit():
                continue
            try:
                with open(os.path.join(self._proc_root, pid, "cmdline"), "rb") as handle:
                    if handle.read().startswith(WORKER_TITLE):
                        found.add(int(pid))
            except OSError:  # the process ended while we looked
                continue
        return found

    @staticmethod
    def sleep(seconds):
        time.sleep(seconds)

    @staticmethod
    def now():
        return time.monotonic()


def _install(host, files, nginx):
    """Write ``files`` ({path: content}) and test them; on failure put the previous ones back and raise."""
    previous = {path: host.read(path) for path in files}
    for path, content in files.items():
        host.write(path, content)
    rc, _out, err = host.run([nginx, "-t"])
    if rc == 0:
        return
    for path, content in previous.items():
        if content is None:
            host.remove(path)
        else:
            host.write(path, content)
    raise DrainError(
        "nginx -t rejected the new upstream servers; the previous configuration keeps serving: {0}".format(err.strip())
    )


def _wait_for_exit(host, workers, grace):
    """Seconds waited until none of ``workers`` is left, at most ``grace``.

    The workers from before the reload, not those titled "shutting down": a
    reload returns before NGINX's master has told them to finish.
    """
    started = host.now()
    while workers & host.workers() and host.now() - started < grace:
        host.sleep(0.2)
    return round(host.now() - started, 1)


def apply(host, paths, *, header, address, wanted, grace, check_mode, nginx="nginx"):
    """Drain ``address`` (wanted ``down``) or put it back (``up``); return what was done.

    ``paths`` has ``state`` (the JSON) and ``conf`` (the server lines NGINX includes).
    Before the role's first run there is no state, and nothing to drain.
    """
    text = host.read(paths["state"])
    if text is None:
        return {"changed": False, "present": False, "refused": False, "drained": [], "waited": 0.0, "diff": {}}
    try:
        current = json.loads(text)
    except ValueError as error:
        raise DrainError(
            "{0} is not the JSON the role writes ({1}); run the role's main entry point.".format(paths["state"], error)
        ) from None
    plan = drain(current, address, wanted)
    result = {
        "changed": plan["different"],
        "present": True,
        "refused": plan["refused"],
        "drained": plan["state"]["drained"],
        "waited": 0.0,
        "diff": {
            "before": state_json(current),
            "after": state_json(plan["state"]),
            "before_header": paths["state"],
            "after_header": paths["state"],
        },
    }
    if not plan["different"] or check_mode:
        return result
    files = {paths["state"]: state_json(plan["state"]), paths["conf"]: "# {0}\n{1}".format(header, plan["conf"])}
    _install(host, files, nginx)
    before_reload = host.workers()
    # A stopped NGINX is started, as Ansible's systemd module does for "reloaded".
    rc, _out, err = host.run(["systemctl", "reload-or-restart", "nginx"])
    if rc != 0:
        raise DrainError("NGINX did not reload: {0}".format(err.strip()))
    if wanted == "down":
        result["waited"] = _wait_for_exit(host, before_reload, grace)
    return result
