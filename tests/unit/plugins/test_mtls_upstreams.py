"""mtls_upstream_servers: which upstreams go over TLS, through which socket, with which certificate."""

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.aicontainers.hardening.plugins.filter.mtls_client_plan import mtls_client_plan
from ansible_collections.aicontainers.hardening.plugins.filter.mtls_upstream_servers import mtls_upstream_servers

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
    assert plan == {"servers": ["127.0.0.1:5000", "10.0.0.21:5000"], "hops": [], "client": None}


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
