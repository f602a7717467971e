"""ai_status: what /ready and /status mean for a replica."""

import json

from ansible_collections.aicontainers.hardening.plugins.module_utils.ai_status import interpret, summarise

VALID = json.dumps({"apiStatus": "Valid", "apiStatusMessage": "Api Key is valid, no action needed."})
INVALID = json.dumps({"apiStatus": "Invalid", "apiStatusMessage": "cannot reach billing"})


def test_valid_replica():
    report = interpret("http://127.0.0.1:5000", (200, "ready"), (200, VALID))
    assert report["ready"] and report["billing_ok"] and report["explanation"] == ""


def test_replica_that_cannot_meter_is_explained():
    report = interpret("http://127.0.0.1:5000", (200, "ready"), (200, INVALID))
    assert report["ready"] and not report["billing_ok"]
    assert "says 'Invalid' (cannot reach billing)" in report["explanation"]
    assert "egress_firewall" in report["explanation"] and "dpi_exemption" in report["explanation"]


def test_replica_that_does_not_answer():
    report = interpret("http://127.0.0.1:5000", (None, "Connection refused"), (None, "Connection refused"))
    assert not report["ready"] and "does not answer: Connection refused" in report["explanation"]


def test_summary():
    good = interpret("a", (200, ""), (200, VALID))
    bad = interpret("b", (200, ""), (200, INVALID))
    summary = summarise([good, bad])
    assert summary["all_ready"] and not summary["all_billing_ok"]
    assert summary["problems"] == [bad["explanation"]]
