#!/usr/bin/python
# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tls_interception_check
short_description: Detect TLS interception on the channels Azure AI containers meter on
version_added: 0.1.0
description:
  - Connects to each endpoint, directly or through an HTTP CONNECT proxy, shakes hands
    with TLS (sending SNI, without verifying) and reads the certificate chain the endpoint
    presents.
  - A DPI proxy that inspects TLS presents a chain it signed itself; the containers reject
    it and cannot meter. The chain is genuine when one of its certificates matches one of
    O(pins), or, without pins, when one of its certificates is issued by one of
    O(expected_issuers).
  - Never fails because an endpoint is intercepted or unreachable; check RV(intercepted)
    and RV(unreachable_endpoints). Fails only on invalid options.
  - Read-only; safe in check mode.
  - Needs no Python library beyond the standard library on the host it runs on.
options:
  endpoints:
    description: The TLS endpoints to check, usually the Billing endpoint's host.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description: Host name or address to connect to.
        type: str
        required: true
      port:
        description: TCP port.
        type: int
        default: 443
      sni:
        description: Server name to send in the TLS handshake; defaults to O(endpoints[].host).
        type: str
  proxy:
    description:
      - C(host:port) of an HTTP CONNECT proxy to connect through, for example the proxy the
        containers use. Only the proxy resolves the endpoint names.
      - An answer other than 2xx to C(CONNECT) makes the endpoint unreachable.
    type: str
  proxy_headers:
    description:
      - Extra headers for the C(CONNECT) request, for example C(Proxy-Authorization).
      - Kept out of the logs.
    type: dict
  ca_bundle:
    description:
      - PEM file of CA certificates. When given, the module shakes hands a second time,
        verifying the chain and host name against this bundle only, and reports the
        outcome in RV(endpoints[].verified).
      - Verification is reported beside the verdict, not instead of it. A DPI CA that is
        in the bundle would verify.
    type: path
  expected_issuers:
    description:
      - The chain is genuine when a certificate in it has an issuer whose organization (O)
        or common name (CN) contains one of these, ignoring case. A self-signed root is its
        own issuer.
      - The default fits Microsoft's public endpoints.
      - Ignored when O(pins) are given.
    type: list
    elements: str
    default: [Microsoft Corporation, DigiCert Inc]
  pins:
    description:
      - Base64 SHA-256 hashes of the SubjectPublicKeyInfo of certificates in the genuine
        chain, like HPKP C(pin-sha256) values. When given, the chain is genuine only when a
        presented certificate's key is among them, and O(expected_issuers) is ignored.
      - Pins are stricter than issuer names, which a DPI CA could copy.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for each connection, proxy answer and TLS handshake.
    type: float
    default: 10
notes:
  - The whole presented chain is read with a private call of CPython's C part of the ssl
    module, present from Python 3.10. On older Python on the managed host only the leaf is
    read, so pin the leaf's key or rely on O(expected_issuers) there.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
extends_documentation_fragment:
  - aicontainers.hardening.attributes
"""

EXAMPLES = r"""
- name: Look for TLS interception on the Billing endpoint
  aicontainers.hardening.tls_interception_check:
    endpoints:
      - host: westus.api.cognitive.microsoft.com
  register: interception

- name: Stop when the channel is intercepted or unreachable
  ansible.builtin.assert:
    that:
      - not interception.intercepted
      - interception.unreachable_endpoints | length == 0
    fail_msg: "{{ interception.msg }}"

- name: Check through the proxy the containers use, pinning the genuine keys
  aicontainers.hardening.tls_interception_check:
    endpoints:
      - host: westus.api.cognitive.microsoft.com
      - host: translatoronprem.blob.core.windows.net
    proxy: proxy.example.com:3128
    proxy_headers:
      Proxy-Authorization: "Basic {{ proxy_credentials | b64encode }}"
    pins:
      - "i7WTqTvh0OioIruIfFR4kMPnBqrS2rdiVPl/s2uC/CY="
    ca_bundle: /etc/ssl/certs/ca-certificates.crt
    timeout: 5
"""

RETURN = r"""
endpoints:
  description: One report per endpoint, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: Host connected to.
      returned: always
      type: str
      sample: westus.api.cognitive.microsoft.com
    port:
      description: TCP port.
      returned: always
      type: int
      sample: 443
    sni:
      description: Server name sent in the TLS handshake.
      returned: always
      type: str
      sample: westus.api.cognitive.microsoft.com
    reachable:
      description: Whether the TLS handshake completed and a chain could be read.
      returned: always
      type: bool
      sample: true
    error:
      description:
        - Why the endpoint is unreachable, in plain words (DNS failure, connection refused,
          timeout, proxy refusal, TLS handshake failure); V(null) when reachable.
      returned: always
      type: str
      sample: connection refused by 10.0.0.5:443
    chain:
      description: The presented certificates, leaf first; empty when unreachable.
      returned: always
      type: list
      elements: dict
      contains:
        subject:
          description: Subject as an RFC 4514 string (last RDN first).
          returned: always
          type: str
          sample: CN=westus.api.cognitive.microsoft.com,O=Microsoft Corporation,L=Redmond,ST=WA,C=US
        issuer:
          description: Issuer as an RFC 4514 string.
          returned: always
          type: str
          sample: CN=Microsoft Azure RSA TLS Issuing CA 03,O=Microsoft Corporation,C=US
        organization:
          description: The subject's organization (O); V(null) when absent.
          returned: always
          type: str
          sample: Microsoft Corporation
        common_name:
          description: The subject's common name (CN); V(null) when absent.
          returned: always
          type: str
          sample: westus.api.cognitive.microsoft.com
        issuer_organization:
          description: The issuer's organization (O); V(null) when absent.
          returned: always
          type: str
          sample: Microsoft Corporation
        issuer_common_name:
          description: The issuer's common name (CN); V(null) when absent.
          returned: always
          type: str
          sample: Microsoft Azure RSA TLS Issuing CA 03
        not_before:
          description: Start of validity, ISO 8601 in UTC.
          returned: always
          type: str
          sample: "2026-01-12T08:03:11Z"
        not_after:
          description: End of validity, ISO 8601 in UTC.
          returned: always
          type: str
          sample: "2026-07-11T08:03:11Z"
        spki_sha256:
          description: Base64 SHA-256 of the SubjectPublicKeyInfo, the value to use in O(pins).
          returned: always
          type: str
          sample: "i7WTqTvh0OioIruIfFR4kMPnBqrS2rdiVPl/s2uC/CY="
        sha256:
          description: SHA-256 fingerprint of the whole certificate, lower-case hex.
          returned: always
          type: str
          sample: 3f1a5b0e9c6d2f8a7b4e1c0d9f8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f
    verified:
      description:
        - Whether the chain and host name verify against O(ca_bundle); V(null) without
          O(ca_bundle).
      returned: always
      type: bool
      sample: false
    verify_error:
      description: OpenSSL's reason when verification fails; V(null) otherwise.
      returned: always
      type: str
      sample: unable to get local issuer certificate
    intercepted:
      description: Whether the presented chain is not the genuine one; V(null) when unreachable.
      returned: always
      type: bool
      sample: true
    reason:
      description: One sentence saying why the chain is, or is not, genuine, or why it could not be read.
      returned: always
      type: str
      sample: >-
        the chain is issued by 'Lab DPI CA' (organization 'Lab DPI'), not by any of the
        expected issuers: Microsoft Corporation, DigiCert Inc
intercepted:
  description: Whether any reachable endpoint is intercepted.
  returned: always
  type: bool
  sample: true
unreachable_endpoints:
  description: C(host:port) of every endpoint whose chain could not be read, and so was not checked.
  returned: always
  type: list
  elements: str
  sample: ["westeurope.api.cognitive.microsoft.com:443"]
msg:
  description: A summary that keeps intercepted, genuine and unreachable endpoints apart.
  returned: always
  type: str
  sample: >-
    TLS interception on westus.api.cognitive.microsoft.com:443: the chain is issued by
    'Lab DPI CA' (organization 'Lab DPI'), not by any of the expected issuers: Microsoft
    Corporation, DigiCert Inc. Unreachable, so not checked for interception:
    westeurope.api.cognitive.microsoft.com:443 (connection refused by
    westeurope.api.cognitive.microsoft.com:443).
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aicontainers.hardening.plugins.module_utils.tls_inspect import (
    TlsCheckError,
    build_settings,
    check_endpoints,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "endpoints": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "host": {"type": "str", "required": True},
                    "port": {"type": "int", "default": 443},
                    "sni": {"type": "str"},
                },
            },
            "proxy": {"type": "str"},
            "proxy_headers": {"type": "dict", "no_log": True},
            "ca_bundle": {"type": "path"},
            "expected_issuers": {
                "type": "list",
                "elements": "str",
                "default": ["Microsoft Corporation", "DigiCert Inc"],
            },
            "pins": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "float", "default": 10},
        },
        required_by={"proxy_headers": "proxy"},
        supports_check_mode=True,
    )
    # Every option, endpoints included, is checked before the first connection.
    try:
        settings = build_settings(
            proxy=module.params["proxy"],
            proxy_headers=module.params["proxy_headers"],
            ca_bundle=module.params["ca_bundle"],
            expected_issuers=module.params["expected_issuers"],
            pins=module.params["pins"],
            timeout=module.params["timeout"],
        )
        result = check_endpoints(module.params["endpoints"], settings)
    except TlsCheckError as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
