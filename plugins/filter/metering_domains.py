# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: metering_domains
short_description: The metering domains in force, from the collection's one registry
version_added: 0.1.0
description:
  - Takes a role's metering-domain variable (or C(aicontainers_metering_domains)) and returns the entries in force
    - Microsoft's list when it is unset (V(null)) - plus Translator's blob endpoint when O(translator) is true.
  - An entry C(x) or C(*.x) covers x and every name under it, in every role.
options:
  _input:
    description: The configured entries, or V(null) for Microsoft's list.
    type: list
    elements: str
    required: true
  translator:
    description: Add Translator's blob endpoint.
    type: bool
    default: false
  translator_domain:
    description: Translator's blob endpoint; V(null) for Microsoft's.
    type: str
"""

EXAMPLES = r"""
- name: The domains the DPI exemption keeps uninspected
  ansible.builtin.debug:
    msg: "{{ dpi_exemption_domains | aicontainers.hardening.metering_domains(true) }}"
"""

RETURN = r"""
_value:
  description: The domain entries, as written.
  type: list
  elements: str
"""

from ansible_collections.aicontainers.hardening.plugins.module_utils import _metering


def metering_domains(configured, translator=False, translator_domain=None):
    return _metering.domains(configured, translator, translator_domain)


class FilterModule:
    def filters(self):
        return {"metering_domains": metering_domains}
