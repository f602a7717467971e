"""dpi_policy: every renderer against its golden file, and how patterns become vendor matches.

The golden files are what network teams review and paste. After a deliberate
change, rewrite them with UPDATE_GOLDEN=1 and review the diff line by line.
"""

import os
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.aicontainers.hardening.plugins.filter.dpi_policy import (
    dpi_appliance_policy,
    dpi_squid_splice,
    dpi_suricata_pass_rules,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils._metering import (
    DEFAULT_DOMAINS,
    TRANSLATOR_DOMAIN,
)
from ansible_collections.aicontainers.hardening.plugins.module_utils._metering import Domain as DomainPattern
from ansible_collections.aicontainers.hardening.plugins.module_utils.dpi_policy import (
    DEFAULT_NAME,
    RENDERERS,
    DpiPolicyError,
    normalise_domains,
    panos_exclusion_hosts,
    panos_patterns,
    render,
    render_cisco,
    render_fortigate,
    render_panos,
    render_squid_splice,
    render_suricata_pass_rules,
    squid_conf_with_splice,
)

GOLDEN = pathlib.Path(__file__).parent / "golden" / "dpi_policy"
GOLDEN_FILES = {
    "panos": "panos.set",
    "fortigate": "fortigate.conf",
    "cisco": "cisco.yml",
    "suricata": "suricata.rules",
    "squid": "squid.conf",
}
METERING = [*DEFAULT_DOMAINS, TRANSLATOR_DOMAIN]


def error_for(renderer, *args, **options):
    with pytest.raises(DpiPolicyError) as error:
        renderer(*args, **options)
    return str(error.value)


def fortigate_table(rendered, table):
    """The text of one `config <table>` ... `end` block."""
    match = re.search(rf"^config {re.escape(table)}\n(.*?)^end$", rendered, re.M | re.S)
    assert match, f"no 'config {table}' block"
    return match.group(1)


# Golden files


def test_every_renderer_has_a_golden_file():
    assert set(GOLDEN_FILES) == set(RENDERERS)


@pytest.mark.parametrize("appliance", sorted(GOLDEN_FILES))
def test_renderer_output_matches_its_golden_file_byte_for_byte(appliance):
    rendered = RENDERERS[appliance](METERING).encode()
    path = GOLDEN / GOLDEN_FILES[appliance]
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rendered)
    assert rendered == path.read_bytes(), f"{path.name} is out of date; rerun with UPDATE_GOLDEN=1 and review the diff"


# Patterns and validation


def test_patterns_are_lowered_deduplicated_and_keep_their_order():
    patterns = normalise_domains(
        ["*.Cognitive.Microsoft.com", "translatoronprem.blob.core.windows.net", "*.cognitive.microsoft.com"]
    )
    assert patterns == [
        DomainPattern("cognitive.microsoft.com", True),
        DomainPattern("translatoronprem.blob.core.windows.net", False),
    ]


def test_a_name_another_entry_covers_is_dropped():
    patterns = normalise_domains(
        [
            "cognitive.microsoft.com",
            "westus.api.cognitive.microsoft.com",
            "*.api.cognitive.microsoft.com",
            "*.cognitive.microsoft.com",
        ]
    )
    # A plain name covers the names under it too, as in the firewall.
    assert [pattern.name for pattern in patterns] == ["cognitive.microsoft.com"]


@pytest.mark.parametrize(
    "domain, message",
    [
        ("", "every entry must be a domain name"),
        (None, "every entry must be a domain name"),
        (443, "every entry must be a domain name"),
        ("cognitive .microsoft.com", "contains whitespace"),
        ("*cognitive.microsoft.com", "not the whole leftmost label"),
        ("cognitive.*.com", "not the whole leftmost label"),
        ("*.*.cognitive.microsoft.com", "not the whole leftmost label"),
        ("*.com", "is not a valid domain name"),
        ("localhost", "is not a valid domain name"),
        ("cognitive..microsoft.com", "is not a valid domain name"),
        ("-cognitive.microsoft.com", "is not a valid domain name"),
    ],
)
def test_a_bad_pattern_is_one_sentence_naming_the_variable(domain, message):
    error = error_for(normalise_domains, ["*.cognitiveservices.azure.com", domain])
    assert error.startswith("dpi_exemption_domains: ")
    assert message in error
    assert error.endswith(".") and ". " not in error


@pytest.mark.parametrize("domains", [[], "*.cognitive.microsoft.com", None])
def test_the_domains_must_be_a_non_empty_list(domains):
    assert error_for(normalise_domains, domains).startswith("dpi_exemption_domains: ")


@pytest.mark.parametrize(
    "options, variable",
    [
        ({"name": "metering rule"}, "dpi_exemption_policy_name"),
        ({"name": "x" * 32}, "dpi_exemption_policy_name"),
        ({"description": 'say "hi"'}, "dpi_exemption_description"),
        ({"description": ""}, "dpi_exemption_description"),
        ({"ssl_ssh_profile": "deep inspection"}, "dpi_exemption_fortigate_profile"),
    ],
)
def test_bad_options_name_their_variable(options, variable):
    assert error_for(render_fortigate, METERING, **options).startswith(variable + ": ")


@pytest.mark.parametrize("sid_base", [0, -1, True, "16x", 1.5, 2**32 - 2])
def test_a_bad_sid_base_names_its_variable(sid_base):
    error = error_for(render_suricata_pass_rules, METERING, sid_base=sid_base)
    assert error.startswith("dpi_exemption_suricata_sid_base: ")


def test_an_unknown_appliance_names_its_variable():
    assert error_for(render, "checkpoint", METERING).startswith("dpi_exemption_appliances: ")


# PAN-OS


def test_panos_wildcard_becomes_the_apex_and_one_wildcard_entry():
    """PAN-OS `*.x/` matches any number of labels before x (a.b.x too) but never x itself.

    Palo Alto's URL category guidelines also warn against consecutive `*` tokens,
    so `*.*.x` is neither needed nor wanted.
    """
    assert panos_patterns(["*.cognitive.microsoft.com"]) == ["cognitive.microsoft.com/", "*.cognitive.microsoft.com/"]
    assert not any("*.*." in entry for entry in panos_patterns(METERING))


def test_panos_exclusion_list_has_the_one_label_and_two_label_wildcards():
    """The SSL Decryption Exclusion list's '*' matches one label: emit '*.x' and '*.*.x'."""
    assert panos_exclusion_hosts(["*.cognitive.microsoft.com", TRANSLATOR_DOMAIN]) == [
        "cognitive.microsoft.com",
        "*.cognitive.microsoft.com",
        "*.*.cognitive.microsoft.com",
        TRANSLATOR_DOMAIN,
        "*." + TRANSLATOR_DOMAIN,
        "*.*." + TRANSLATOR_DOMAIN,
    ]
    assert '# set shared ssl-decrypt ssl-exclude-cert "*.*.cognitiveservices.azure.com" exclude yes' in render_panos(
        METERING
    )


def test_panos_entries_end_with_a_slash_so_lookalike_hosts_do_not_match():
    """Without the slash PAN-OS adds an implicit `*`: `x` would match `x.attacker.example`."""
    assert panos_patterns([TRANSLATOR_DOMAIN]) == [TRANSLATOR_DOMAIN + "/", "*." + TRANSLATOR_DOMAIN + "/"]
    assert all(entry.endswith("/") for entry in panos_patterns(METERING))


def test_panos_rule_uses_the_category_and_does_not_decrypt():
    rendered = render_panos(METERING, name="ai-meter")
    assert 'set profiles custom-url-category ai-meter type "URL List"' in rendered
    assert "set rulebase decryption rules ai-meter category ai-meter" in rendered
    assert "set rulebase decryption rules ai-meter action no-decrypt" in rendered
    commands = [line for line in rendered.splitlines() if line and not line.startswith("#")]
    assert commands[-1] == "move rulebase decryption rules ai-meter top"


# FortiGate


def test_fortigate_uses_a_wildcard_fqdn_object_and_an_fqdn_address_per_entry():
    rendered = render_fortigate(METERING)
    wildcard_objects = fortigate_table(rendered, "firewall wildcard-fqdn custom")
    addresses = fortigate_table(rendered, "firewall address")
    assert re.findall(r'set wildcard-fqdn "(.*)"', wildcard_objects) == [
        "*.cognitive.microsoft.com",
        "*.cognitiveservices.azure.com",
        "*." + TRANSLATOR_DOMAIN,
    ]
    # The wildcards do not match their apex, so the apex is an address.
    assert re.findall(r'set fqdn "(.*)"', addresses) == [
        "cognitive.microsoft.com",
        "cognitiveservices.azure.com",
        TRANSLATOR_DOMAIN,
    ]
    # `type wildcard-fqdn` in firewall address only existed in FortiOS 6.0.
    assert addresses.count("set type fqdn") == 3 and "wildcard" not in addresses


def test_fortigate_exempts_both_groups_in_the_chosen_profile_without_overwriting_entries():
    rendered = render_fortigate(METERING, ssl_ssh_profile="outbound-deep")
    profile = fortigate_table(rendered, "firewall ssl-ssh-profile")
    assert profile.startswith('    edit "outbound-deep"\n        config ssl-exempt\n')
    assert profile.count("edit 0") == 2
    assert 'set wildcard-fqdn "aicontainers-metering-wildcards"' in profile
    assert 'set address "aicontainers-metering-names"' in profile


def test_fortigate_covers_the_names_under_a_plain_entry_as_the_firewall_does():
    rendered = render_fortigate([TRANSLATOR_DOMAIN])
    assert f'set wildcard-fqdn "*.{TRANSLATOR_DOMAIN}"' in rendered
    assert "set type wildcard-fqdn" in rendered and "set type address" in rendered


def test_fortigate_object_names_stay_within_the_fortios_limit():
    long_domain = "a" * 60 + ".example.com"
    assert error_for(render_fortigate, [long_domain]).startswith("dpi_exemption_domains: ")


# Cisco


def test_cisco_rule_is_yaml_with_the_apex_and_the_wildcard_as_subject_dns():
    rule = yaml.safe_load(render_cisco(METERING))["decryption_rule"]
    assert rule["action"] == "Do Not Decrypt"
    assert rule["conditions"]["subject_dns"] == [
        "CN=cognitive.microsoft.com",
        "CN=*.cognitive.microsoft.com",
        "CN=cognitiveservices.azure.com",
        "CN=*.cognitiveservices.azure.com",
        f"CN={TRANSLATOR_DOMAIN}",
        f"CN=*.{TRANSLATOR_DOMAIN}",
    ]


# Suricata


def sni_matches(rule, sni):
    """Evaluate the tls.sni part of one rendered rule the way Suricata does."""
    buffer = sni.lower()
    if "dotprefix;" in rule:
        buffer = "." + buffer
    content = re.search(r'content:"([^"]*)"', rule).group(1)
    if "startswith;" in rule and not buffer.startswith(content):
        return False
    return buffer.endswith(content) if "endswith;" in rule else content in buffer


def test_suricata_rules_pass_the_domain_and_names_under_it_but_not_lookalikes():
    wildcard_rule, plain_rule = render_suricata_pass_rules(["*.cognitive.microsoft.com", TRANSLATOR_DOMAIN]).split(
        "\npass "
    )[1:3]
    assert sni_matches(wildcard_rule, "cognitive.microsoft.com")
    assert sni_matches(wildcard_rule, "WestUS.API.cognitive.microsoft.com")
    assert not sni_matches(wildcard_rule, "evilcognitive.microsoft.com")
    assert not sni_matches(wildcard_rule, "cognitive.microsoft.com.attacker.example")
    # A plain entry covers the names under it too, as the firewall lets them out.
    assert sni_matches(plain_rule, TRANSLATOR_DOMAIN)
    assert sni_matches(plain_rule, "x." + TRANSLATOR_DOMAIN)
    assert not sni_matches(plain_rule, "x" + TRANSLATOR_DOMAIN)


def test_suricata_sids_count_up_from_the_base():
    rendered = render_suricata_pass_rules(METERING, sid_base=1000100)
    assert re.findall(r"sid:(\d+);", rendered) == ["1000100", "1000101", "1000102"]
    assert render_suricata_pass_rules(METERING, sid_base="1000100") == rendered
    assert all(line.startswith("pass tls ") for line in rendered.splitlines() if line and not line.startswith("#"))


# Squid


def test_squid_splices_a_tunnel_whose_connect_name_and_server_name_share_a_pattern():
    lines = [line for line in render_squid_splice(METERING).splitlines() if line and not line.startswith("#")]
    pairs = []
    for index, domain in enumerate(["cognitive.microsoft.com", "cognitiveservices.azure.com", TRANSLATOR_DOMAIN]):
        forms = f".{domain} .{domain}."
        pairs += [
            f"acl aicontainers-metering-tunnel{index} dstdomain -n {forms}",
            f"acl aicontainers-metering-sni{index} ssl::server_name --client-requested {forms}",
            f"acl aicontainers-metering-pair{index} all-of aicontainers-metering-tunnel{index} "
            f"aicontainers-metering-sni{index}",
        ]
    assert lines == [
        *pairs,
        "acl aicontainers-metering any-of aicontainers-metering-pair0 aicontainers-metering-pair1 "
        "aicontainers-metering-pair2",
        "acl aicontainers-metering-step1 at_step SslBump1",
        "ssl_bump peek aicontainers-metering-step1",
        "ssl_bump splice aicontainers-metering",
    ]


def test_no_splice_rule_matches_the_server_name_alone():
    """A client chooses its SNI: CONNECT blocked.example.net (or an address) with a metering SNI must not match."""
    lines = render_squid_splice(METERING).splitlines()
    assert [line for line in lines if line.startswith("ssl_bump splice")] == ["ssl_bump splice aicontainers-metering"]
    sni_only = [line.split()[1] for line in lines if line.startswith("acl ") and " ssl::server_name " in line]
    assert sni_only and all(name.startswith("aicontainers-metering-sni") for name in sni_only)


@pytest.mark.skipif(shutil.which("squid") is None, reason="squid is not installed")
def test_squid_parses_the_splice_lines(tmp_path):
    snippet = tmp_path / "dpi.conf"
    snippet.write_text(render_squid_splice(METERING))
    config = tmp_path / "squid.conf"
    config.write_text(f"include {snippet}\nhttp_access deny all\n")
    result = subprocess.run(["squid", "-k", "parse", "-f", str(config)], capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    if "Invalid ACL type 'ssl::server_name'" in output:
        pytest.skip("this squid is built without OpenSSL (Debian and Ubuntu: squid-openssl)")
    assert "Bungled" not in output, output
    assert not [line for line in output.splitlines() if "WARNING" in line and DEFAULT_NAME in line], output


SPLICE = "acl m ssl::server_name .cognitive.microsoft.com\nssl_bump splice m\n"
BEGIN = "# BEGIN aicontainers.hardening dpi_exemption: never bump the metering channels"
END = "# END aicontainers.hardening dpi_exemption: never bump the metering channels"


@pytest.mark.parametrize(
    "before",
    [
        "http_port 3128 ssl-bump\nssl_bump bump all\n",
        f"{BEGIN}\nacl old ssl::server_name .old.example\n{END}\nhttp_port 3128 ssl-bump\nssl_bump bump all\n",
        f"http_port 3128 ssl-bump\nssl_bump bump all\n{BEGIN}\nacl old ssl::server_name .old.example\n{END}\n",
    ],
    ids=["new file", "block already first", "a bump rule added above the block"],
)
def test_the_splice_block_ends_up_first_once_and_the_rest_keeps_its_order(before):
    after = squid_conf_with_splice(before, SPLICE)
    assert after.splitlines() == [
        BEGIN,
        "acl m ssl::server_name .cognitive.microsoft.com",
        "ssl_bump splice m",
        END,
        "http_port 3128 ssl-bump",
        "ssl_bump bump all",
    ]
    assert squid_conf_with_splice(after, SPLICE) == after


# Filters


def test_appliance_filter_renders_like_the_renderer():
    assert dpi_appliance_policy(METERING, "panos") == render_panos(METERING)
    assert dpi_appliance_policy(METERING, "fortigate", ssl_ssh_profile="x") == render_fortigate(
        METERING, ssl_ssh_profile="x"
    )


def test_squid_and_suricata_filters_take_their_own_options():
    assert "acl meter-sni0 ssl::server_name" in dpi_squid_splice(METERING, acl_name="meter")
    assert "ssl_bump peek ai_meter_step1" in dpi_squid_splice(METERING, acl_name="ai_meter")
    assert "sid:1000100;" in dpi_suricata_pass_rules(METERING, sid_base=1000100)


def test_filters_fail_with_the_sentence():
    sentence = "dpi_exemption_domains: '*cognitive.microsoft.com' has a '*' that is not the whole leftmost label"
    with pytest.raises(AnsibleFilterError, match="^" + re.escape(sentence)):
        dpi_appliance_policy(["*cognitive.microsoft.com"], "cisco")
    with pytest.raises(AnsibleFilterError, match="sid_base"):
        dpi_appliance_policy(METERING, "panos", sid_base=1)


# Squid: the allowlist for the AI hosts' traffic (measured in a Squid 5.7
# container: without these lines blocked.example.net, an address and a
# mismatched SNI were bumped through; with them each was refused or terminated).


def test_with_sources_the_block_refuses_everything_but_connect_to_a_metering_name_on_443():
    lines = render_squid_splice(["*.cognitive.microsoft.com"], sources=["10.0.0.21", "10.0.0.20/32"]).splitlines()
    assert "acl aicontainers-metering-sources src 10.0.0.20/32 10.0.0.21/32" in lines
    assert "acl aicontainers-metering-names dstdomain -n .cognitive.microsoft.com .cognitive.microsoft.com." in lines
    assert "deny_info TCP_RESET aicontainers-metering-sources" in lines
    denies = [line for line in lines if line.startswith("http_access")]
    assert denies == [
        "http_access deny !aicontainers-metering-connect aicontainers-metering-sources",
        "http_access deny !aicontainers-metering-https aicontainers-metering-sources",
        "http_access deny !aicontainers-metering-names aicontainers-metering-sources",
    ]


def test_with_sources_a_tunnel_the_general_splice_does_not_take_is_terminated():
    lines = render_squid_splice(METERING, sources=["10.0.0.20"]).splitlines()
    bump = [line for line in lines if line.startswith("ssl_bump")]
    assert bump == [
        "ssl_bump peek aicontainers-metering-step1",
        "ssl_bump terminate aicontainers-metering-sources !aicontainers-metering",
        "ssl_bump splice aicontainers-metering",
    ]


def test_without_sources_the_block_only_splices():
    assert "http_access" not in render_squid_splice(METERING)


def test_a_source_that_is_not_an_address_is_one_sentence_naming_the_variable():
    with pytest.raises(DpiPolicyError, match=r"^dpi_exemption_squid_allowlist_sources: 'aihost' is not an IP"):
        render_squid_splice(METERING, sources=["aihost"])
    with pytest.raises(AnsibleFilterError, match=r"^dpi_exemption_squid_allowlist_sources: '10.0.0.300'"):
        dpi_squid_splice(METERING, sources=["10.0.0.300"])
