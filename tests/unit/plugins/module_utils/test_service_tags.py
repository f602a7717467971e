"""service_tags: reading the Azure Service Tags JSON download."""

import json
import pathlib
import re

import pytest

from ansible_collections.aicontainers.hardening.plugins.module_utils.service_tags import (
    ServiceTagError,
    find_prefixes,
    parse_document,
)

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "service_tags.json"


@pytest.fixture
def document():
    return parse_document(FIXTURE.read_text())


def test_global_tag_prefixes_are_split_and_sorted(document):
    v4, v6, name = find_prefixes(document, "LabCognitive")
    assert v4 == ["192.0.2.0/25", "192.0.2.128/25"]
    assert v6 == ["2001:db8::/48"]
    assert name == "LabCognitive"


@pytest.mark.parametrize("region", ["westus", "WestUS"])
def test_regional_variant(document, region):
    assert find_prefixes(document, "LabCognitive", region)[0] == ["198.51.100.0/24"]


def test_tag_names_match_case_insensitively(document):
    assert find_prefixes(document, "labcognitive")[2] == "LabCognitive"


def test_unknown_tag_suggests_close_names(document):
    with pytest.raises(ServiceTagError, match=r"'LabCognitve' is not in the file \(change number 42\)\. Did you mean"):
        find_prefixes(document, "LabCognitve")


def test_unknown_region(document):
    with pytest.raises(ServiceTagError, match=re.escape("'LabCognitive.eastus' is not in the file")):
        find_prefixes(document, "LabCognitive", "eastus")


def test_malformed_json():
    with pytest.raises(ServiceTagError, match="is not valid JSON"):
        parse_document('{"values": [', "path x.json")


def test_json_that_is_not_a_service_tags_file():
    with pytest.raises(ServiceTagError, match="has no 'values' list"):
        parse_document(json.dumps({"hello": 1}))


def test_a_bad_prefix_is_named():
    document = {"values": [{"name": "T", "properties": {"addressPrefixes": ["1.2.3.4/99"]}}]}
    with pytest.raises(ServiceTagError, match=re.escape("'T' lists '1.2.3.4/99'")):
        find_prefixes(document, "T")
