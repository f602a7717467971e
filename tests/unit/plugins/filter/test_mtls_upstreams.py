"""mtls_upstream_servers: which upstreams go over TLS, through which socket, with which certificate."""

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.aicontainers.hardening.plugins.filter.mtls_client_plan import mtls_client_plan
from ansible_collections.aicontainers.hardening.plugins.filter.mtls_upstream_servers import mtls_upstream_servers
from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_upstreams import UpstreamError
from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_upstreams import drain as mtls_drain

CLIENTS = mtls_client_plan(
    [{"name": "hop-fe1", "host": "fe1", "dir": "/etc/aicontainers/hop"}, {"name": "app1", "host": "client1"}],
    [],
    "/srv/pki",
    "/etc/aicontainers/mtls-client",
    ["fe1", "client1"],
)["clients"]


def servers(upstreams, tls=None, client="hop-fe1", host="fe1"):
    return mtls_upstream_servers(upstreams, tls or {}, client, CLIENTS, host)


def test_plain_upstreams_are_listed_as_given_and_need_no_client():
    plan = servers(["127.0.0.1:5000", "10.0.0.21:5000"], client="")
    assert (plan["servers"], plan["hops"], plan["client"]) == (["127.0.0.1:5000", "10.0.0.21:5000"], [], None)


def test_an_upstream_over_tls_is_reached_through_its_hop_socket_with_the_frontends_certificate():
    plan = servers(["127.0.0.1:5000", "10.0.0.21:8443"], {"10.0.0.21:8443": "ai2.example.net"})
    assert plan["servers"] == ["127.0.0.1:5000", "unix:/run/aicontainers-hop/10.0.0.21:8443.sock"]
    socket = "unix:/run/aicontainers-hop/10.0.0.21:8443.sock"
    assert plan["hops"] == [{"address": "10.0.0.21:8443", "name": "ai2.example.net", "socket": socket}]
    assert plan["client"] == {
        "cert": "/etc/aicontainers/hop/hop-fe1.crt",
        "key": "/etc/aicontainers/hop/hop-fe1.key",
        "ca": "/etc/aicontainers/hop/ca.crt",
    }


@pytest.mark.parametrize(
    ("upstreams", "tls", "client", "variable", "words"),
    [
        (["127.0.0.1:5000"], {"10.0.0.21:8443": "ai2.example.net"}, "hop-fe1", "mtls_frontend_upstream_tls", "not in"),
        (["10.0.0.21:8443"], {"10.0.0.21:8443": "10.0.0.21"}, "hop-fe1", "mtls_frontend_upstream_tls", "DNS name"),
        (["10.0.0.21:8443"], {"10.0.0.21:8443": "ai2.example.net"}, "", "mtls_frontend_upstream_client", "name"),
        # The client's key must be made on this frontend.
        (["10.0.0.21:8443"], {"10.0.0.21:8443": "ai2.example.net"}, "app1", "mtls_frontend_upstream_client", "host"),
        (["10.0.0.21:8443"], {"10.0.0.21:8443": "ai2.example.net"}, "nobody", "mtls_frontend_upstream_client", "host"),
        (["10.0.0.21"], {}, "", "mtls_frontend_upstreams", "host:port"),
        (["10.0.0.21:5000; server evil:80"], {}, "", "mtls_frontend_upstreams", "host:port"),
        (["10.0.0.21:99999"], {}, "", "mtls_frontend_upstreams", "host:port"),
    ],
)
def test_bad_input_is_refused_with_a_sentence_naming_the_variable(upstreams, tls, client, variable, words):
    with pytest.raises(AnsibleFilterError, match=re.escape(variable) + ".*" + words):
        servers(upstreams, tls, client)


def test_ipv6_and_host_names_are_addresses():
    plan = servers(["[::1]:5000", "ai2.example.net:8443"], {"ai2.example.net:8443": "ai2.example.net"})
    assert plan["servers"] == ["[::1]:5000", "unix:/run/aicontainers-hop/ai2.example.net:8443.sock"]


# Drain: state, rendered with NGINX's `down`.


FLEET = servers(["127.0.0.1:5000", "10.0.0.21:5000", "10.0.0.21:8443"], {"10.0.0.21:8443": "ai2.example.net"})


def test_every_server_is_up_after_a_run_of_the_role():
    assert FLEET["state"]["drained"] == []
    assert FLEET["conf"] == (
        "server 127.0.0.1:5000;\nserver 10.0.0.21:5000;\nserver unix:/run/aicontainers-hop/10.0.0.21:8443.sock;\n"
    )


def test_a_drain_marks_every_server_of_the_host_down_its_hop_included_and_up_puts_them_back():
    down = mtls_drain(FLEET["state"], "10.0.0.21", "down")
    assert down["different"] and not down["refused"] and down["state"]["drained"] == ["10.0.0.21"]
    assert down["conf"] == (
        "server 127.0.0.1:5000;\n"
        "server 10.0.0.21:5000 down;\n"
        "server unix:/run/aicontainers-hop/10.0.0.21:8443.sock down;\n"
    )
    assert not mtls_drain(down["state"], "10.0.0.21", "down")["different"]
    up = mtls_drain(down["state"], "10.0.0.21", "up")
    assert up["different"] and up["state"] == FLEET["state"] and up["conf"] == FLEET["conf"]


def test_a_drain_that_would_leave_no_server_up_is_refused():
    local = servers(["127.0.0.1:5000", "127.0.0.1:5001"], client="")
    refused = mtls_drain(local["state"], "127.0.0.1", "down")
    assert refused["refused"] and not refused["different"] and refused["conf"] == local["conf"]


def test_a_host_that_is_a_prefix_of_another_is_not_drained_with_it():
    state = servers(["10.0.0.2:5000", "10.0.0.21:5000"], client="")["state"]
    assert mtls_drain(state, "10.0.0.2", "down")["conf"] == "server 10.0.0.2:5000 down;\nserver 10.0.0.21:5000;\n"


def test_an_unknown_state_is_refused_naming_the_variable():
    with pytest.raises(UpstreamError, match="mtls_frontend_drain_state"):
        mtls_drain(FLEET["state"], "10.0.0.21", "off")
