# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that render "do not decrypt" policies for the Azure AI metering channels.

This file holds six filters, so each has its documentation in a YAML file
named after it beside this one (dpi_appliance_policy.yml, ...), which is how
ansible-doc finds the documentation of filters that share a file.
The logic lives in module_utils/dpi_policy.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.aicontainers.hardening.plugins.module_utils.dpi_policy import (
    DEFAULT_NAME,
    DEFAULT_SID_BASE,
    DpiPolicyError,
    config_errors,
    normalise_domains,
    render,
    render_squid_splice,
    render_suricata_pass_rules,
    squid_conf_with_splice,
)


def _rendered(renderer, *args, **options):
    """Call a renderer and turn its one-sentence error into a filter error."""
    try:
        return renderer(*args, **options)
    except (DpiPolicyError, TypeError) as error:
        raise AnsibleFilterError(str(error)) from error


def dpi_domain_errors(domains):
    """[] when the domains are valid, else the one sentence saying what to fix."""
    try:
        normalise_domains(domains)
    except DpiPolicyError as error:
        return [str(error)]
    return []


def dpi_config_errors(variables):
    """{"errors": [...]}: one sentence per dpi_exemption variable that does not fit the file it lands in."""
    if not isinstance(variables, Mapping):
        raise AnsibleFilterError("dpi_config_errors takes a dictionary of variables.")
    return {"errors": config_errors(variables)}


def dpi_appliance_policy(domains, appliance, **options):
    return _rendered(render, appliance, domains, **options)


def dpi_suricata_pass_rules(domains, sid_base=DEFAULT_SID_BASE, name=DEFAULT_NAME):
    return _rendered(render_suricata_pass_rules, domains, sid_base=sid_base, name=name)


def dpi_squid_splice(domains, acl_name=DEFAULT_NAME, sources=()):
    return _rendered(render_squid_splice, domains, name=acl_name, sources=sources)


def dpi_squid_conf_with_splice(conf_text, splice):
    return squid_conf_with_splice(conf_text, splice)


class FilterModule:
    def filters(self):
        return {
            "dpi_appliance_policy": dpi_appliance_policy,
            "dpi_config_errors": dpi_config_errors,
            "dpi_domain_errors": dpi_domain_errors,
            "dpi_suricata_pass_rules": dpi_suricata_pass_rules,
            "dpi_squid_splice": dpi_squid_splice,
            "dpi_squid_conf_with_splice": dpi_squid_conf_with_splice,
        }
