# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read and explain an Azure AI container's health and billing state.

The containers answer ``GET /ready`` (serving HTTP) and ``GET /status``
(``{"apiStatus": "Valid"|"Invalid", "apiStatusMessage": ...}``). ``Invalid``
means the container could not validate its key against, or meter to, its
Billing endpoint: it keeps answering health checks but serves no queries.
"""

from __future__ import annotations

import json

BILLING_HELP = (
    "The container serves no queries until it can meter: check that the Billing endpoint's host resolves "
    "and is allowed out on TCP 443 (egress_firewall), that no proxy or firewall re-signs that TLS channel "
    "(dpi_exemption), and that the ApiKey belongs to that Azure resource."
)


def interpret(url, ready, status):
    """Turn the two HTTP answers into one replica report.

    ``ready`` and ``status`` are (http_code, body_text) or (None, error_text).
    """
    report = {
        "url": url,
        "ready": ready[0] == 200,
        "status_code": status[0],
        "api_status": None,
        "api_status_message": None,
        "billing_ok": False,
        "explanation": "",
    }
    if ready[0] is None:
        report["explanation"] = "{0} does not answer: {1}.".format(url, ready[1])
        return report
    if status[0] != 200:
        report["explanation"] = "{0}/status answered HTTP {1}.".format(url, status[0])
        return report
    try:
        body = json.loads(status[1] or "{}")
    except ValueError:
        body = {}
    report["api_status"] = body.get("apiStatus")
    report["api_status_message"] = body.get("apiStatusMessage")
    report["billing_ok"] = report["api_status"] == "Valid"
    if not report["billing_ok"]:
        report["explanation"] = "{0}/status says {1!r} ({2}). {3}".format(
            url, report["api_status"], report["api_status_message"] or "no message", BILLING_HELP
        )
    return report


def summarise(reports):
    return {
        "replicas": reports,
        "all_ready": all(report["ready"] for report in reports),
        "all_billing_ok": all(report["billing_ok"] for report in reports),
        "problems": [report["explanation"] for report in reports if report["explanation"]],
    }
