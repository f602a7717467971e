"""mtls_client_plan: where each client's key is made, and bad names refused before any file is written."""

import pytest

from ansible_collections.aicontainers.hardening.plugins.filter.mtls_client_plan import mtls_client_plan

HOSTS = ["frontend1", "client1"]


def plan(clients, revoked=()):
    return mtls_client_plan(clients, list(revoked), "/srv/pki", "/etc/aicontainers/mtls-client", HOSTS)


def test_a_client_on_an_inventory_host_gets_its_files_there():
    (client,) = plan([{"name": "app1", "host": "client1"}])["clients"]
    assert client == {
        "name": "app1",
        "host": "client1",
        "san": [],
        "dir": "/etc/aicontainers/mtls-client",
        "key": "/etc/aicontainers/mtls-client/app1.key",
        "cert": "/etc/aicontainers/mtls-client/app1.crt",
        "ca": "/etc/aicontainers/mtls-client/ca.crt",
        "record": "/srv/pki/issued/app1.crt",
    }


def test_a_client_outside_the_inventory_gets_its_files_on_the_controller():
    (client,) = plan(["partner"])["clients"]
    assert client["host"] is None
    assert client["key"] == "/srv/pki/clients/partner.key"
    assert client["record"] == "/srv/pki/issued/partner.crt"


def test_a_client_host_may_name_its_directory():
    (client,) = plan([{"name": "app1", "host": "client1", "dir": "/opt/app1/tls"}])["clients"]
    assert client["key"] == "/opt/app1/tls/app1.key"


def test_subject_alternative_names_are_spelled_one_way():
    (client,) = plan([{"name": "app3", "san": ["uri:spiffe://lab.example/ns/a/sa/app3", "dns:App3.Example"]}])[
        "clients"
    ]
    assert client["san"] == ["URI:spiffe://lab.example/ns/a/sa/app3", "DNS:app3.example"]


def test_revocations_point_at_the_record_of_what_was_issued():
    assert plan(["app1"], ["app2"])["revoked"] == [
        {"name": "app2", "record": "/srv/pki/issued/app2.crt", "crl_entry": {"path": "/srv/pki/issued/app2.crt"}}
    ]


@pytest.mark.parametrize(
    "clients, revoked, message",
    [
        (["../../etc/shadow"], [], "mtls_frontend_clients: '../../etc/shadow' is not a client name"),
        (["app1", "app1"], [], "mtls_frontend_clients: app1 is listed twice"),
        ([{"name": "app1", "host": "nowhere"}], [], "the host 'nowhere' of client app1 is not in the inventory"),
        ([{"name": "app1", "host": "client1", "dir": "tls"}], [], "dir 'tls' of client app1 must be an absolute path"),
        ([{"name": "app1", "san": ["CN=app2"]}], [], "san of client app1 must be a list of DNS:"),
        ([{"name": "app1", "san": "URI:spiffe://x/y"}], [], "san of client app1 must be a list of DNS:"),
        ([{"name": "app1", "san": ["URI:spiffe://Bad Domain/x"]}], [], "san of client app1 must be a list"),
        (["app1"], ["app1"], "mtls_frontend_revoked_clients: app1 is also in mtls_frontend_clients"),
        ([], ["a b"], "mtls_frontend_revoked_clients: 'a b' is not a client name"),
    ],
)
def test_bad_input_is_named(clients, revoked, message):
    result = plan(clients, revoked)
    assert result["clients"] == [] and result["revoked"] == []
    assert any(message in error for error in result["errors"]), result["errors"]


def audit_plan(clients=(), revoked=(), audit_client="aicontainers-audit", revocable=True):
    return mtls_client_plan(
        list(clients),
        list(revoked),
        "/ca",
        "/etc/aicontainers/mtls-client",
        HOSTS,
        audit_client=audit_client,
        revocable=revocable,
    )


def test_the_audit_client_and_its_revoked_twin_are_issued_on_the_controller_and_the_twin_revoked():
    result = audit_plan(["app1"], ["old-app"])
    assert result["errors"] == []
    assert [(c["name"], c["host"], c["dir"]) for c in result["clients"]] == [
        ("app1", None, "/ca/clients"),
        ("aicontainers-audit", None, "/ca/clients"),
        ("aicontainers-audit-revoked", None, "/ca/clients"),
    ]
    assert [r["name"] for r in result["revoked"]] == ["old-app", "aicontainers-audit-revoked"]
    assert result["revoked"][1]["record"] == "/ca/issued/aicontainers-audit-revoked.crt"


def test_no_revoked_twin_when_your_own_ca_revokes_and_no_audit_client_when_empty():
    assert [c["name"] for c in audit_plan(revocable=False)["clients"]] == ["aicontainers-audit"]
    assert audit_plan(revocable=False)["revoked"] == []
    assert audit_plan(audit_client="")["clients"] == [] and audit_plan(audit_client="")["revoked"] == []


@pytest.mark.parametrize(
    "clients, revoked, audit_client, message",
    [
        (["aicontainers-audit"], [], "aicontainers-audit",
         "mtls_frontend_clients: aicontainers-audit is the audit's own"),
        ([{"name": "aicontainers-audit-revoked", "host": "client1"}], [], "aicontainers-audit",
         "mtls_frontend_clients: aicontainers-audit-revoked is the audit's own"),
        ([], ["aicontainers-audit"], "aicontainers-audit", "mtls_frontend_revoked_clients: aicontainers-audit is the"),
        ([], [], "bad name;", "mtls_frontend_audit_client: 'bad name;' is not a client name"),
        ([], [], "a" * 57, "at most 56"),
    ],
    ids=["client takes the name", "client takes the twin's name", "revoking the audit client", "bad name", "too long"],
)
def test_the_audit_clients_names_are_reserved_and_checked(clients, revoked, audit_client, message):
    errors = audit_plan(clients, revoked, audit_client)["errors"]
    assert len(errors) == 1 and message in errors[0]
