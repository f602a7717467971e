# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the ai_container role's variables and plan its replicas.

:func:`build_spec` returns one entry per replica (name, published port,
resources) and the network they join, or raises SpecError with one sentence
per problem, each naming the variable, so the role stops before anything is
deployed.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from ansible_collections.aicontainers.hardening.plugins.module_utils import _metering

# Per container kind: Microsoft's recommended host resources for one replica
# (CPU cores, memory). Users override them with ai_container_resources.
KINDS = {
    "language": {"cpus": 1, "memory": "4g"},
    "sentiment": {"cpus": 4, "memory": "8g"},
    "key-phrase": {"cpus": 4, "memory": "4g"},
    "ner": {"cpus": 1, "memory": "2g"},
    "summarization": {"cpus": 4, "memory": "16g"},
    "speech-to-text": {"cpus": 8, "memory": "8g"},
    "custom-speech-to-text": {"cpus": 8, "memory": "8g"},
    "neural-text-to-speech": {"cpus": 8, "memory": "16g"},
    "speech-language-identification": {"cpus": 1, "memory": "1g"},
    "translator": {"cpus": 4, "memory": "16g"},
    "document-intelligence": {"cpus": 8, "memory": "24g"},
    "vision-read": {"cpus": 8, "memory": "16g"},
}
# Per container kind: the largest request body the AI API documents (Language
# and Translator take 1 MB of text per call; Speech a short audio file; the
# document APIs whole files) and how long one call may take. The frontend
# takes them, capped by the replica's memory (see request_limits).
_TEXT = {"body": "1m", "timeout": "60s"}
_LONG_TEXT = {"body": "1m", "timeout": "300s"}
_AUDIO = {"body": "10m", "timeout": "300s"}
_DOCUMENT = {"body": "50m", "timeout": "300s"}
REQUEST_LIMITS = {
    "language": _TEXT,
    "sentiment": _TEXT,
    "key-phrase": _TEXT,
    "ner": _TEXT,
    "translator": _TEXT,
    "summarization": _LONG_TEXT,
    "neural-text-to-speech": _LONG_TEXT,
    "speech-to-text": _AUDIO,
    "custom-speech-to-text": _AUDIO,
    "speech-language-identification": _AUDIO,
    "document-intelligence": _DOCUMENT,
    "vision-read": _DOCUMENT,
}
# A replica holds a request body several times over while it parses it, so
# a body may take at most 1/BODY_SHARE_OF_MEMORY of the replica's memory.
BODY_SHARE_OF_MEMORY = 8
UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?[bkmg]?$", re.IGNORECASE)
# The allowlist the Billing host must fall under (the metering registry's, unless set).
ALLOWED_VARIABLE = "ai_container_egress_allowed_domains"


class SpecError(ValueError):
    def __init__(self, errors):
        super().__init__(errors[0])
        self.errors = errors


def _billing(options, errors):
    url = str(options.get("ai_container_billing_endpoint") or "")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        errors.append(
            "ai_container_billing_endpoint: {0!r} is not an https:// URL; give the endpoint of your Azure "
            "resource, e.g. https://my-resource.cognitiveservices.azure.com/.".format(url)
        )
        return None
    allowed = _metering.domains(options.get(ALLOWED_VARIABLE))
    if not options.get("ai_container_check_egress_allowlist", True):
        return url
    try:
        covered = _metering.covers(allowed, parts.hostname, ALLOWED_VARIABLE)
    except _metering.MeteringError as error:
        errors.append(str(error))
        return None
    if not covered:
        errors.append(
            "ai_container_billing_endpoint: its host {0!r} is not covered by the egress allowlist "
            "({1}: {2}), so the container could not meter; use the resource's endpoint, or add its "
            "domain to the allowlist (aicontainers_metering_domains for every role).".format(
                parts.hostname, ALLOWED_VARIABLE, ", ".join(allowed)
            )
        )
    return url


def _publish(options, errors):
    network = options.get("ai_container_network") or ""
    address = str(options.get("ai_container_publish_address", "127.0.0.1"))
    if network and options.get("ai_container_publish", False) is False:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        errors.append("ai_container_publish_address: {0!r} is not an IP address.".format(address))
        return None
    if not ip.is_loopback and not options.get("ai_container_publish_beyond_loopback_unauthenticated_api", False):
        errors.append(
            "ai_container_publish_address: {0} would expose the container's API, which has no "
            "authentication, beyond this host; publish on 127.0.0.1 (the default) or join a private "
            "network with ai_container_network, or set "
            "ai_container_publish_beyond_loopback_unauthenticated_api: true if you really mean it.".format(address)
        )
    return address


def _ports(options, count, errors):
    explicit = options.get("ai_container_ports") or []
    base = options.get("ai_container_base_port", 5000)
    try:
        ports = [int(port) for port in explicit] if explicit else [int(base) + index for index in range(count)]
    except (TypeError, ValueError):
        errors.append("ai_container_ports: every port must be a number from 1 to 65535.")
        return []
    if explicit and len(ports) != count:
        errors.append(
            "ai_container_ports: give one port per replica ({0} replicas, {1} ports).".format(count, len(ports))
        )
    clashes = sorted({port for port in ports if ports.count(port) > 1})
    if clashes:
        errors.append(
            "ai_container_ports: port {0} is used by more than one replica; give each replica its own port.".format(
                clashes[0]
            )
        )
    for port in ports:
        if not 1 <= port <= 65535:
            errors.append("ai_container_ports: port {0} is out of range (1-65535).".format(port))
    return ports


def _resources(options, kind, errors):
    resources = dict(KINDS.get(kind, {}))
    resources.update(options.get("ai_container_resources") or {})
    if not MEMORY.match(str(resources.get("memory", ""))):
        errors.append(
            "ai_container_resources: memory {0!r} is not a size such as '4g' or '512m'.".format(resources.get("memory"))
        )
    try:
        if float(resources.get("cpus", 0)) <= 0:
            raise ValueError
    except (TypeError, ValueError):
        errors.append("ai_container_resources: cpus {0!r} must be a positive number.".format(resources.get("cpus")))
    return resources


def build_spec(options):
    """Return {"replicas": [...], "billing": url, "resources": {...}} or raise SpecError."""
    errors = []
    if str(options.get("ai_container_eula", "")).lower() != "accept":
        errors.append(
            "ai_container_eula: set it to 'accept' to accept the container's licence terms; the "
            "container refuses to start without Eula=accept."
        )
    if not str(options.get("ai_container_api_key") or "").strip():
        errors.append(
            "ai_container_api_key: the ApiKey is empty; give the key of your Azure resource (keep it in Ansible Vault)."
        )
    kind = str(options.get("ai_container_kind", ""))
    if kind not in KINDS:
        errors.append(
            "ai_container_kind: {0!r} is not a known container kind; use one of {1}.".format(
                kind, ", ".join(sorted(KINDS))
            )
        )
    name = str(options.get("ai_container_name") or "")
    if not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", name):
        errors.append("ai_container_name: {0!r} is not a valid container name prefix.".format(name))
    try:
        count = int(options.get("ai_container_replicas", 1))
        if count < 1:
            raise ValueError
    except (TypeError, ValueError):
        errors.append("ai_container_replicas: give a whole number of replicas, at least 1.")
        count = 0
    billing = _billing(options, errors)
    address = _publish(options, errors)
    ports = _ports(options, count, errors) if address else []
    resources = _resources(options, kind, errors)
    if errors:
        raise SpecError(errors)
    replicas = []
    for index in range(count):
        replica = {"name": "{0}-{1}".format(name, index + 1), "port": None, "published": []}
        if address:
            replica["port"] = ports[index]
            host = "[{0}]".format(address) if ":" in address else address
            replica["published"] = ["{0}:{1}:5000".format(host, ports[index])]
            replica["url"] = "http://{0}:{1}".format(host, ports[index])
        replicas.append(replica)
    return {
        "replicas": replicas,
        "billing": billing,
        "resources": resources,
        "kind": kind,
        "network": _network(options, name),
        "request_limits": request_limits(kind, resources["memory"]),
    }


def to_bytes(size):
    """'128m' -> 134217728 (Docker's and NGINX's size units)."""
    size = str(size).strip().lower()
    unit = size[-1] if size[-1] in UNITS else "b"
    return int(float(size.rstrip("bkmg")) * UNITS[unit])


def request_limits(kind, memory):
    """What a frontend accepts for one call to a replica of ``kind`` with
    ``memory``: the kind's documented body limit, capped at
    1/BODY_SHARE_OF_MEMORY of the memory, and the kind's call timeout, as
    NGINX sizes and times."""
    limits = REQUEST_LIMITS[kind]
    body = min(to_bytes(limits["body"]), to_bytes(memory) // BODY_SHARE_OF_MEMORY)
    return {"body_size": "{0}k".format(max(body // 1024, 1)), "timeout": limits["timeout"]}


def _network(options, name):
    """The replicas' network: the user's (shared with a frontend container), or
    one of their own, named after the replica set, where inter-container
    communication is off so that no container reaches another's API."""
    joined = options.get("ai_container_network") or ""
    return {"name": joined or name, "own": not joined}


def published_ports(options):
    """The host ports the replicas publish on a non-loopback address: [] when
    they publish on loopback or join the user's network. Invalid publishing
    variables raise SpecError: an empty answer would leave those ports without
    the firewall's frontend guard. Reads only the publishing variables, so no
    secret is needed."""
    errors = []
    address = _publish(options, errors)
    try:
        count = int(options.get("ai_container_replicas", 1))
        if count < 1:
            raise ValueError
    except (TypeError, ValueError):
        errors.append("ai_container_replicas: give a whole number of replicas, at least 1.")
        count = 0
    ports = _ports(options, count, errors) if address else []
    if errors:
        raise SpecError(errors)
    return [] if not address or ipaddress.ip_address(address).is_loopback else ports
