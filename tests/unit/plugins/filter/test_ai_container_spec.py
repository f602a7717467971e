"""ai_container_spec: bad input named before deploying, and the replica plan."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.aicontainers.hardening.plugins.filter.ai_container_spec import (
    ai_container_published_ports,
    ai_container_spec,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils.ai_container_spec import (
    SpecError,
    build_spec,
    published_ports,
    request_limits,
    to_bytes,
)

GOOD = {
    "ai_container_name": "language",
    "ai_container_kind": "language",
    "ai_container_eula": "accept",
    "ai_container_billing_endpoint": "https://myres.cognitiveservices.azure.com/",
    "ai_container_api_key": "k",
    "ai_container_replicas": 2,
}


def errors(**overrides):
    with pytest.raises(SpecError) as error:
        build_spec(dict(GOOD, **overrides))
    return error.value.errors


def test_replicas_publish_on_loopback_with_distinct_ports():
    spec = build_spec(GOOD)
    assert [r["name"] for r in spec["replicas"]] == ["language-1", "language-2"]
    assert [r["published"] for r in spec["replicas"]] == [["127.0.0.1:5000:5000"], ["127.0.0.1:5001:5000"]]
    assert spec["resources"] == {"cpus": 1, "memory": "4g"}


def test_private_network_mode_publishes_nothing():
    spec = build_spec(dict(GOOD, ai_container_network="frontend"))
    assert all(r["published"] == [] and "url" not in r for r in spec["replicas"])


def test_resources_can_be_overridden():
    assert build_spec(dict(GOOD, ai_container_resources={"memory": "128m"}))["resources"] == {
        "cpus": 1,
        "memory": "128m",
    }


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"ai_container_eula": "yes"}, "ai_container_eula: set it to 'accept'"),
        ({"ai_container_api_key": " "}, "ai_container_api_key: the ApiKey is empty"),
        ({"ai_container_kind": "telepathy"}, "ai_container_kind: 'telepathy' is not a known container kind"),
        ({"ai_container_billing_endpoint": "http://x.cognitive.microsoft.com"}, "is not an https:// URL"),
        ({"ai_container_ports": [5000, 5000]}, "ai_container_ports: port 5000 is used by more than one replica"),
        ({"ai_container_ports": [5000]}, "give one port per replica (2 replicas, 1 ports)"),
        ({"ai_container_publish_address": "0.0.0.0"}, "would expose the container's API"),
        ({"ai_container_replicas": 0}, "ai_container_replicas: give a whole number"),
        ({"ai_container_resources": {"memory": "lots"}}, "memory 'lots' is not a size"),
    ],
)
def test_bad_input_is_named(overrides, message):
    assert any(message in error for error in errors(**overrides)), errors(**overrides)


def test_billing_host_must_be_in_the_egress_allowlist_and_both_variables_are_named():
    (error,) = errors(ai_container_billing_endpoint="https://billing.example.com/")
    assert error.startswith("ai_container_billing_endpoint: its host 'billing.example.com'")
    assert "ai_container_egress_allowed_domains" in error


def test_public_publish_needs_the_loud_override():
    spec = build_spec(
        dict(
            GOOD,
            ai_container_publish_address="0.0.0.0",
            ai_container_publish_beyond_loopback_unauthenticated_api=True,
        )
    )
    assert spec["replicas"][0]["published"] == ["0.0.0.0:5000:5000"]


def test_filter_never_returns_the_key():
    secret = "s3cr3t-api-key"
    assert secret not in str(ai_container_spec(dict(GOOD, ai_container_api_key=secret)))
    assert ai_container_spec(dict(GOOD, ai_container_eula=""))["errors"]


def test_replicas_get_a_network_of_their_own_unless_one_is_given():
    assert build_spec(GOOD)["network"] == {"name": "language", "own": True}
    assert build_spec(dict(GOOD, ai_container_network="frontend"))["network"] == {"name": "frontend", "own": False}


@pytest.mark.parametrize(
    "overrides, ports",
    [
        ({}, []),
        (
            {
                "ai_container_publish_address": "10.0.0.5",
                "ai_container_publish_beyond_loopback_unauthenticated_api": True,
            },
            [5000, 5001],
        ),
        (
            {
                "ai_container_publish_address": "10.0.0.5",
                "ai_container_publish_beyond_loopback_unauthenticated_api": True,
                "ai_container_ports": [7000, 7002],
            },
            [7000, 7002],
        ),
        ({"ai_container_network": "frontend"}, []),
    ],
)
def test_published_ports_are_those_beyond_loopback(overrides, ports):
    assert published_ports(dict(GOOD, **overrides)) == ports


def test_published_ports_need_only_the_publishing_variables():
    assert published_ports(
        {
            "ai_container_publish_address": "10.0.0.5",
            "ai_container_publish_beyond_loopback_unauthenticated_api": True,
            "ai_container_replicas": 3,
        }
    ) == [5000, 5001, 5002]


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"ai_container_publish_beyond_loopback_unauthenticated_api": False}, "ai_container_publish_address"),
        ({"ai_container_publish_address": "front.lab"}, "ai_container_publish_address"),
        ({"ai_container_replicas": -1}, "ai_container_replicas"),
        ({"ai_container_replicas": "two"}, "ai_container_replicas"),
        ({"ai_container_ports": [7000]}, "ai_container_ports"),
    ],
)
def test_published_ports_refuse_bad_input_instead_of_answering_none(overrides, named):
    options = dict(
        GOOD, ai_container_publish_address="10.0.0.5", ai_container_publish_beyond_loopback_unauthenticated_api=True
    )
    options.update(overrides)
    with pytest.raises(SpecError) as raised:
        published_ports(options)
    assert raised.value.errors[0].startswith(named + ":")


def test_the_published_ports_filter_stops_the_play_with_the_sentence():
    with pytest.raises(AnsibleFilterError, match=r"^ai_container_replicas: give a whole number"):
        ai_container_published_ports({"ai_container_replicas": 0})


def test_request_limits_follow_the_kind():
    assert build_spec(GOOD)["request_limits"] == {"body_size": "1024k", "timeout": "60s"}
    document = build_spec(dict(GOOD, ai_container_kind="document-intelligence"))
    assert document["request_limits"] == {"body_size": "51200k", "timeout": "300s"}


def test_a_body_never_takes_more_than_an_eighth_of_the_replica_memory():
    # 50 MB documents for a replica squeezed into 128 MiB: 16 MiB at most.
    assert request_limits("document-intelligence", "128m") == {"body_size": "16384k", "timeout": "300s"}
    assert build_spec(dict(GOOD, ai_container_resources={"memory": "4m"}))["request_limits"]["body_size"] == "512k"


@pytest.mark.parametrize("size, expected", [("128m", 134217728), ("4g", 4294967296), ("512", 512), ("1.5k", 1536)])
def test_sizes_are_read_as_docker_reads_them(size, expected):
    assert to_bytes(size) == expected
