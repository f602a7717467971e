#!/usr/bin/python
# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_tag_prefixes
short_description: Read the address prefixes of an Azure service tag
version_added: 0.1.0
description:
  - Reads an Azure Service Tags JSON file (the weekly C(ServiceTags_Public_*.json)
    download) from a path or URL and returns the IPv4 and IPv6 prefixes of one tag,
    optionally of one region, to load into nftables interval sets.
  - Read-only; safe in check mode.
options:
  path:
    description: Path of the JSON file on the host the module runs on.
    type: path
  url:
    description: URL of the JSON file.
    type: str
  tag:
    description: Service tag name, for example C(CognitiveServicesManagement).
    type: str
    required: true
  region:
    description: Region, for example C(westus), to return the regional variant of the tag.
    type: str
  validate_certs:
    description: Verify the server certificate when O(url) is HTTPS.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
extends_documentation_fragment:
  - aicontainers.hardening.attributes
"""

EXAMPLES = r"""
- name: Prefixes of CognitiveServicesManagement, read on the controller
  aicontainers.hardening.service_tag_prefixes:
    path: files/ServiceTags_Public_20261116.json
    tag: CognitiveServicesManagement
  delegate_to: localhost
  run_once: true
  register: cognitive_prefixes

- name: Regional prefixes from an internal mirror of the download
  aicontainers.hardening.service_tag_prefixes:
    url: https://mirror.example.com/azure/ServiceTags_Public.json
    tag: AzureCloud
    region: westus
"""

RETURN = r"""
ipv4_prefixes:
  description: IPv4 prefixes of the tag, sorted.
  returned: success
  type: list
  elements: str
  sample: ["20.38.0.0/24"]
ipv6_prefixes:
  description: IPv6 prefixes of the tag, sorted.
  returned: success
  type: list
  elements: str
  sample: ["2603:1000::/40"]
tag_name:
  description: The name of the matched entry, for example C(AzureCloud.westus).
  returned: success
  type: str
change_number:
  description: The file's change number, which Microsoft increments on every update.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import fetch_url

from ansible_collections.aicontainers.hardening.plugins.module_utils.service_tags import (
    ServiceTagError,
    find_prefixes,
    parse_document,
)


def read_source(module):
    if module.params["path"]:
        try:
            with open(module.params["path"], encoding="utf-8") as handle:
                return handle.read(), "path {0}".format(module.params["path"])
        except OSError as error:
            module.fail_json(msg="path: cannot read {0}: {1}.".format(module.params["path"], error.strerror))
    response, info = fetch_url(module, module.params["url"])
    if info.get("status") != 200 or response is None:
        module.fail_json(msg="url: could not download {0}: {1}.".format(module.params["url"], info.get("msg")))
    return to_text(response.read()), "url {0}".format(module.params["url"])


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path"},
            "url": {"type": "str"},
            "tag": {"type": "str", "required": True},
            "region": {"type": "str"},
            "validate_certs": {"type": "bool", "default": True},
        },
        required_one_of=[("path", "url")],
        mutually_exclusive=[("path", "url")],
        supports_check_mode=True,
    )
    text, source = read_source(module)
    try:
        document = parse_document(text, source)
        ipv4, ipv6, name = find_prefixes(document, module.params["tag"], module.params["region"])
    except ServiceTagError as error:
        module.fail_json(msg=str(error))
    module.exit_json(
        changed=False, ipv4_prefixes=ipv4, ipv6_prefixes=ipv6, tag_name=name, change_number=document.get("changeNumber")
    )


if __name__ == "__main__":
    main()
