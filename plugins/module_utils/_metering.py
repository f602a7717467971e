# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metering destinations: Microsoft's list, and what an entry means, in one place.

An Azure AI container must reach its metering endpoints over TLS 443 to keep
serving. Every role and filter of the collection reads the metering domains
through this module: the firewall lets them out, the DPI exemption keeps them
from being inspected, the container's billing endpoint must fall under them.

An entry is a domain name, written ``name`` or ``*.name``; either way it
covers the name itself and every name under it, on label boundaries. That is
what the firewall can enforce (dnsmasq's ``nftset=/name/`` fills the sets for
a domain and all its subdomains), so the other roles give an entry the same
meaning: a name the firewall lets out is never left to be intercepted.
Names are compared normalised: lower case, no trailing dot, IDNA (``xn--``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Microsoft's metering domains for Azure AI containers ("Foundry Tools").
DEFAULT_DOMAINS = ("*.cognitive.microsoft.com", "*.cognitiveservices.azure.com")
# Translator's disconnected-container downloads, only when Translator runs.
TRANSLATOR_DOMAIN = "translatoronprem.blob.core.windows.net"
# Not metering: where the container images come from. Microsoft Container
# Registry's REST endpoint and its data (layer download) endpoints, which
# Microsoft lists for firewalls; a host pulls through the firewall only when
# the egress policy is told to (egress_firewall_image_registry).
IMAGE_REGISTRY_DOMAINS = ("mcr.microsoft.com", "*.data.mcr.microsoft.com")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class MeteringError(ValueError):
    """An entry is no domain name; the message is one sentence naming the variable."""


class Domain(NamedTuple):
    """One normalised entry: ``name`` without ``*.``; ``wildcard`` records how it was written."""

    name: str
    wildcard: bool

    @property
    def pattern(self):
        return "*." + self.name if self.wildcard else self.name

    def covers(self, host):
        """True when ``host`` (a name, or another Domain) is this name or under it."""
        other = host.name if isinstance(host, Domain) else normalise_name(host)
        return other == self.name or other.endswith("." + self.name)


def normalise_name(value):
    """Lower case, without a trailing dot, international labels as IDNA (``xn--``); '' when it cannot be."""
    text = str(value).strip().rstrip(".").lower()
    try:
        return text.encode("idna").decode("ascii") if text else ""
    except UnicodeError:
        return text


def parse(value, variable):
    """The Domain of one entry of ``variable``, or MeteringError saying what to fix."""
    if not isinstance(value, str) or not value.strip():
        raise MeteringError(
            "{0}: every entry must be a domain name such as '*.cognitive.microsoft.com', got {1!r}.".format(
                variable, value
            )
        )
    # Around the name too: an entry is checked whole, as every value pasted into a configuration file is.
    if any(character.isspace() for character in value):
        raise MeteringError("{0}: {1!r} contains whitespace; remove it.".format(variable, value))
    text = value.strip()
    wildcard = text.startswith("*.")
    name = normalise_name(text[2:] if wildcard else text)
    if "*" in name:
        raise MeteringError(
            "{0}: {1!r} has a '*' that is not the whole leftmost label; write wildcards as in "
            "'*.cognitive.microsoft.com'.".format(variable, value)
        )
    labels = name.split(".")
    if len(labels) < 2 or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise MeteringError(
            "{0}: {1!r} is not a valid domain name; use letters, digits and hyphens in at least two "
            "dot-separated labels.".format(variable, value)
        )
    return Domain(name, wildcard)


def domains(configured=None, translator=False, translator_domain=None):
    """The metering entries in force: ``configured`` (None: Microsoft's list), plus Translator's when asked."""
    chosen = list(DEFAULT_DOMAINS if configured is None else configured)
    if translator:
        chosen.append(translator_domain or TRANSLATOR_DOMAIN)
    return chosen


def covers(entries, host, variable):
    """Whether ``host`` is covered by one of ``entries`` (raising MeteringError on a bad entry)."""
    return any(parse(entry, variable).covers(host) for entry in entries)
