"""nginx_drain: one drain step on a frontend, its files, its test, its reload and its wait."""

import json

import pytest

from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_upstreams import upstream_state
from ansible_collections.aicontainers.hardening.plugins.module_utils.nginx_drain import (
    DrainError,
    Host,
    apply,
    state_json,
)

PATHS = {"state": "/etc/nginx/aicontainers-upstreams.json", "conf": "/etc/nginx/aicontainers-upstreams.conf"}
FLEET = upstream_state(["10.0.0.21:5000", "10.0.0.22:5000"], ["10.0.0.21:5000", "10.0.0.22:5000"])
UP_CONF = "# managed\nserver 10.0.0.21:5000;\nserver 10.0.0.22:5000;\n"


class FakeHost:
    """A frontend in memory: files, the commands run, NGINX's workers and a clock."""

    def __init__(self, files, nginx_t_rc=0, worker_exits_after=0.0):
        self.files = dict(files)
        self.commands = []
        self.nginx_t_rc = nginx_t_rc
        self.clock = 0.0
        self.reloaded_at = None
        self.worker_exits_after = worker_exits_after

    def read(self, path):
        return self.files.get(path)

    def write(self, path, content):
        self.files[path] = content

    def remove(self, path):
        del self.files[path]

    def run(self, argv):
        self.commands.append(argv[1:] if argv[0].endswith("nginx") else argv)
        if argv[-1] == "-t":
            return self.nginx_t_rc, "", "nginx: [emerg] unexpected end of file" if self.nginx_t_rc else ""
        self.reloaded_at = self.clock
        return 0, "", ""

    def workers(self):
        # Worker 100 is from before the reload: it leaves worker_exits_after seconds after it; 200 is new.
        if self.reloaded_at is None:
            return {100}
        return {200} | ({100} if self.clock - self.reloaded_at < self.worker_exits_after else set())

    def sleep(self, seconds):
        self.clock += seconds

    def now(self):
        return self.clock


def frontend(**kwargs):
    return FakeHost({PATHS["state"]: state_json(FLEET), PATHS["conf"]: UP_CONF}, **kwargs)


def drain(host, wanted="down", address="10.0.0.21", grace=3, check_mode=False):
    return apply(
        host,
        PATHS,
        header="managed",
        address=address,
        wanted=wanted,
        grace=grace,
        check_mode=check_mode,
        nginx="/usr/sbin/nginx",
    )


def test_a_drain_writes_the_state_and_the_server_lines_tests_them_then_reloads():
    host = frontend()
    result = drain(host)
    assert result["changed"] and result["drained"] == ["10.0.0.21"]
    assert json.loads(host.files[PATHS["state"]])["drained"] == ["10.0.0.21"]
    assert host.files[PATHS["conf"]] == "# managed\nserver 10.0.0.21:5000 down;\nserver 10.0.0.22:5000;\n"
    assert host.commands == [["-t"], ["systemctl", "reload-or-restart", "nginx"]]


def test_the_state_is_written_as_the_roles_main_entry_point_writes_it():
    # Ansible's to_nice_json: a no-change run of the role must not rewrite what a drain step wrote.
    host = frontend()
    drain(host)
    drain(host, "up")
    assert host.files[PATHS["state"]] == json.dumps(FLEET, indent=4, sort_keys=True) + "\n"
    assert host.files[PATHS["conf"]] == UP_CONF


def test_a_drain_waits_for_the_workers_from_before_the_reload_and_no_longer():
    host = frontend(worker_exits_after=1.5)
    result = drain(host)
    assert 1.5 <= result["waited"] < 2


def test_the_wait_ends_at_the_grace():
    host = frontend(worker_exits_after=60)
    assert drain(host, grace=3)["waited"] == pytest.approx(3, abs=0.3)


def test_putting_back_does_not_wait():
    host = frontend(worker_exits_after=60)
    drain(host, grace=3)
    assert drain(host, "up")["waited"] == 0


def test_a_step_that_changes_nothing_touches_nothing():
    host = frontend()
    result = drain(host, "up")
    assert not result["changed"] and host.commands == []


def test_check_mode_reports_the_change_and_touches_nothing():
    host = frontend()
    result = drain(host, check_mode=True)
    assert result["changed"] and host.commands == [] and host.files[PATHS["conf"]] == UP_CONF
    assert '"10.0.0.21"' in result["diff"]["after"] and '"drained": []' in result["diff"]["before"]


def test_a_configuration_nginx_rejects_is_put_back_and_not_reloaded():
    host = frontend(nginx_t_rc=1)
    with pytest.raises(DrainError, match=r"nginx -t rejected.*previous configuration keeps serving.*unexpected end"):
        drain(host)
    assert host.files == {PATHS["state"]: state_json(FLEET), PATHS["conf"]: UP_CONF}
    assert ["systemctl", "reload-or-restart", "nginx"] not in host.commands


def test_a_server_lines_file_that_did_not_exist_is_removed_again_when_rejected():
    host = FakeHost({PATHS["state"]: state_json(FLEET)}, nginx_t_rc=1)
    with pytest.raises(DrainError):
        drain(host)
    assert PATHS["conf"] not in host.files


def test_before_the_roles_first_run_there_is_nothing_to_drain():
    host = FakeHost({})
    result = drain(host)
    assert not result["changed"] and not result["present"] and host.files == {}


def test_a_drain_that_would_leave_no_server_up_is_refused():
    host = frontend()
    drain(host, address="10.0.0.22")
    result = drain(host, address="10.0.0.21")
    assert result["refused"] and not result["changed"] and result["drained"] == ["10.0.0.22"]


def test_a_state_that_is_not_json_names_the_file():
    host = FakeHost({PATHS["state"]: "{"})
    with pytest.raises(DrainError, match=r"aicontainers-upstreams\.json is not the JSON the role writes"):
        drain(host)


def test_the_hosts_workers_are_found_by_their_title(tmp_path):
    for pid, title in [
        ("1", b"nginx: master process /usr/sbin/nginx"),
        ("2", b"nginx: worker process"),
        ("3", b"nginx: worker process is shutting down"),
        ("4", b"sleep\x0060"),
    ]:
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "cmdline").write_bytes(title)
    (tmp_path / "self").mkdir()
    assert Host(None, None, proc_root=str(tmp_path)).workers() == {2, 3}
