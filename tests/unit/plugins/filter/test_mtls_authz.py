"""mtls_authorization: which issued certificate may call which paths, as NGINX's maps will say it."""

import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ansible_collections.aicontainers.hardening.plugins.filter.mtls_authorization import mtls_authorization
from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_authz import nginx_serial
from ansible_collections.aicontainers.hardening.tests.unit.plugins import certificates

SPIFFE = "spiffe://lab.example/ns/apps/sa/app3"


@pytest.fixture(scope="module")
def issued():
    """PEM certificates the CA issued (app1; app3 with a SPIFFE ID and a DNS name; app4), and their serials."""
    ca_key = ec.generate_private_key(ec.SECP256R1())

    def issue(cn, sans=()):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = certificates.build(
            certificates.name(cn), certificates.name("test CA"), key.public_key(), ca_key, ca=False, days=1, sans=sans
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode(), nginx_serial(cert.serial_number)

    return {
        "app1": issue("app1"),
        "app3": issue("app3", (x509.UniformResourceIdentifier(SPIFFE), x509.DNSName("App3.Lab"))),
        "app4": issue("app4"),
    }


def pems(issued, *names):
    return [issued[name][0] for name in names]


def by_identity(result):
    return {certificate["identity"]: certificate for certificate in result["certificates"]}


def matches(patterns, serial, uri):
    """What NGINX's regex map does with "$ssl_client_serial:$uri"."""
    return any(re.search(pattern[1:], "{0}:{1}".format(serial, uri)) for pattern in patterns)


def test_serials_are_printed_as_nginx_prints_them():
    assert nginx_serial(0x0A1B) == "0A1B"
    assert nginx_serial(0xA1B) == "0A1B"
    assert nginx_serial(0xBEEF) == "BEEF"


def test_without_an_allowlist_every_certificate_is_authorised_by_the_certificate_check_alone(issued):
    result = mtls_authorization(None, pems(issued, "app1"))
    assert result["enabled"] is False and result["errors"] == []
    assert result["certificates"] == [{"serial": issued["app1"][1], "identity": "CN=app1", "patterns": []}]


def test_a_common_name_is_authorised_everywhere_and_others_nowhere(issued):
    result = by_identity(mtls_authorization(["CN=app1"], pems(issued, "app1", "app4")))
    assert matches(result["CN=app1"]["patterns"], issued["app1"][1], "/text/analytics/v3.1/languages")
    assert result["CN=app4"]["patterns"] == []


def test_a_spiffe_id_is_authorised_under_its_path_prefixes_only(issued):
    allowlist = [{"identity": "URI:" + SPIFFE, "paths": ["/text/analytics"]}]
    app3 = by_identity(mtls_authorization(allowlist, pems(issued, "app3")))["URI:" + SPIFFE]
    serial = issued["app3"][1]
    assert app3["serial"] == serial
    assert matches(app3["patterns"], serial, "/text/analytics")
    assert matches(app3["patterns"], serial, "/text/analytics/v3.1/sentiment")
    assert not matches(app3["patterns"], serial, "/text/analyticsX")
    assert not matches(app3["patterns"], serial, "/ready")
    # Another certificate's serial never borrows app3's patterns.
    assert not matches(app3["patterns"], serial + "00", "/text/analytics")


def test_dns_names_match_whatever_their_case(issued):
    result = mtls_authorization(["dns:APP3.lab"], pems(issued, "app3"))
    assert by_identity(result)["DNS:app3.lab"]["patterns"]


def test_identities_no_certificate_holds_are_reported(issued):
    assert mtls_authorization(["CN=app1", "CN=nobody"], pems(issued, "app1"))["unmatched"] == ["CN=nobody"]


@pytest.mark.parametrize(
    "allowlist, message",
    [
        (["app1"], "'app1' is not a client identity"),
        (["URI:spiffe://Bad Domain/x"], "is not a client identity"),
        (['CN=a"b'], "is not a client identity"),
        ([{"identity": "CN=app1", "paths": "/text"}], "paths of CN=app1 must be a non-empty list"),
        ([{"identity": "CN=app1", "paths": ["text"]}], "path 'text' of CN=app1 is not a path prefix"),
        ([{"identity": "CN=app1", "paths": ["/text/../speech"]}], "is not a path prefix"),
        ([{"identity": "CN=app1", "paths": ["/a b"]}], "is not a path prefix"),
    ],
)
def test_bad_input_is_named(issued, allowlist, message):
    result = mtls_authorization(allowlist, pems(issued, "app1"))
    assert result["certificates"] == []
    assert any("mtls_frontend_authorized_clients: " in error and message in error for error in result["errors"]), result
