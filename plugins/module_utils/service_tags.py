# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read Azure Service Tags JSON (the weekly ServiceTags_Public_*.json download).

The file looks like::

    {"changeNumber": 123, "cloud": "Public", "values": [
      {"name": "CognitiveServicesManagement", "id": "...",
       "properties": {"region": "", "systemService": "CognitiveServicesManagement",
                      "addressPrefixes": ["20.38.0.0/24", "2603:1000::/40"]}},
      {"name": "CognitiveServicesManagement.WestUS", ...,
       "properties": {"region": "westus", ...}}]}

Regional variants are named ``<tag>.<Region>``; their ``properties.region``
holds the lower-case region name.
"""

from __future__ import annotations

import difflib
import ipaddress
import json


class ServiceTagError(ValueError):
    """The file or the tag is unusable; the message says what to fix."""


def parse_document(text, source="the service tags file"):
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ServiceTagError(
            "{0} is not valid JSON ({1}); give the ServiceTags_*.json file as downloaded.".format(source, error)
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("values"), list):
        raise ServiceTagError("{0} has no 'values' list; it is not an Azure Service Tags file.".format(source))
    return document


def _matches(value, tag, region):
    name = str(value.get("name", ""))
    if not region:
        return name.lower() == tag.lower()
    properties = value.get("properties") or {}
    regional_name = "{0}.{1}".format(tag, region).lower()
    return name.lower() == regional_name or (
        str(properties.get("systemService", "")).lower() == tag.lower()
        and str(properties.get("region", "")).lower() == region.lower()
        and "." in name
    )


def find_prefixes(document, tag, region=None):
    """Return the tag's prefixes as (ipv4 list, ipv6 list, matched name)."""
    matches = [value for value in document["values"] if isinstance(value, dict) and _matches(value, tag, region)]
    if not matches:
        names = sorted({str(value.get("name")) for value in document["values"] if isinstance(value, dict)})
        wanted = "{0}.{1}".format(tag, region) if region else tag
        close = difflib.get_close_matches(wanted, names, n=3)
        hint = " Did you mean {0}?".format(", ".join(close)) if close else ""
        raise ServiceTagError(
            "Service tag {0!r} is not in the file (change number {1}).{2}".format(
                wanted, document.get("changeNumber", "unknown"), hint
            )
        )
    v4, v6 = set(), set()
    for value in matches:
        for prefix in (value.get("properties") or {}).get("addressPrefixes") or []:
            try:
                network = ipaddress.ip_network(prefix, strict=False)
            except ValueError:
                raise ServiceTagError(
                    "Service tag {0!r} lists {1!r}, which is not a CIDR.".format(value.get("name"), prefix)
                ) from None
            (v4 if network.version == 4 else v6).add(network)
    return ([str(n) for n in sorted(v4)], [str(n) for n in sorted(v6)], matches[0].get("name"))
