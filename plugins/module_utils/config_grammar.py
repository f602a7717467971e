# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The grammar of values pasted into NGINX's configuration and certificates.

A role variable rendered into ``server_name {{ ... }};`` is NGINX syntax, not
data: ``front.lab; return 200 pwned`` adds a directive that ``nginx -t``
accepts. Each predicate here says whether a value is one word of its kind
(a DNS name, a path, a size...), checked whole (``fullmatch``: ``$`` in a
regex also matches before a final newline), and returns None or one
sentence naming the variable: ``<variable>: <value> is not <what>; <fix>.``
"""

from __future__ import annotations

import ipaddress
import re

# A label: 1 to 63 letters, digits and hyphens, no hyphen at either end.
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_DNS_NAME = re.compile(r"{0}(?:\.{0})*".format(_LABEL))
# Digits and dots only reads as an IPv4 address, never as a host name.
_NUMERIC = re.compile(r"[0-9.]+")
# One word NGINX reads as it is: no quote, space, ';', brace, '#' (comment),
# '$' (variable) or backslash (escape) can sit in it.
_PATH = re.compile(r"/[A-Za-z0-9._/@%+=,~:-]{0,4094}")
_SIZE = re.compile(r"[0-9]{1,18}[kKmMgG]?")
_TIME = re.compile(r"[0-9]{1,9}|(?:[0-9]{1,9}(?:ms|[smhdwMy]))+")
_RATE = re.compile(r"[1-9][0-9]{0,8}r/[sm]")
_NUMBER = re.compile(r"[0-9]{1,10}")
# A certificate's subject CN: at most 64 characters (RFC 5280's upper bound);
# spaces inside, none at either end, and no DN or shell punctuation.
_COMMON_NAME = re.compile(r"[A-Za-z0-9._@-](?:[A-Za-z0-9 ._@-]{0,62}[A-Za-z0-9._@-])?")
# What breaks out of an NGINX word or quoted string, or out of the line.
UNSAFE = re.compile(r"[\s;{}\"'#$\\\x00-\x1f\x7f]")

DNS_LABELS = "letters, digits and hyphens in dot-separated labels of at most 63 characters, 253 in all"
PATH_RULE = (
    "an absolute path NGINX reads as one word (/ then letters, digits and . _ - / @ % + = , ~ :, without spaces,"
    " quotes, ';', '#', '$' or braces)"
)


def sentence(variable, value, rule, fix):
    """The one error sentence: the variable, the value as Python writes it (a newline shows as \\n), what to do."""
    return "{0}: {1!r} is not {2}; {3}.".format(variable, value, rule, fix)


def is_dns_name(value, wildcard=False):
    """A DNS name, ``*.<name>`` too when ``wildcard``; digits and dots alone are an address, not a name."""
    if not isinstance(value, str) or len(value) > 253:
        return False
    name = value[2:] if wildcard and value.startswith("*.") else value
    return _DNS_NAME.fullmatch(name) is not None and _NUMERIC.fullmatch(name) is None


def is_ipv4(value):
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return isinstance(value, str)


def is_ipv6(value):
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return isinstance(value, str) and "%" not in value


def _match(pattern, value):
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def dns_name(variable, value, fix, wildcard=False):
    rule = "a DNS name{0} ({1})".format(" or *.<DNS name>" if wildcard else "", DNS_LABELS)
    return None if is_dns_name(value, wildcard) else sentence(variable, value, rule, fix)


def listen_address(variable, value, fix):
    """An address NGINX's ``listen <address>:<port>`` takes: IPv4, or IPv6 in brackets."""
    ok = is_ipv4(value) or (isinstance(value, str) and value[:1] == "[" and value[-1:] == "]" and is_ipv6(value[1:-1]))
    return None if ok else sentence(variable, value, "an IP address (IPv4, or IPv6 in brackets: [::])", fix)


def host_port(variable, value, fix):
    """``host:port`` of an NGINX server: IPv4, [IPv6] or a DNS name, and a port from 1 to 65535."""
    host, _colon, port = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    ok_host = is_ipv4(host) or is_dns_name(host) or (host[:1] == "[" and host[-1:] == "]" and is_ipv6(host[1:-1]))
    ok_port = _match(_NUMBER, port) and 1 <= int(port) <= 65535
    return None if ok_host and ok_port else sentence(variable, value, "host:port", fix)


def absolute_path(variable, value, fix, empty=False):
    ok = (empty and value == "") or _match(_PATH, value)
    return None if ok else sentence(variable, value, PATH_RULE, fix)


def nginx_size(variable, value, fix):
    return None if _match(_SIZE, value) else sentence(variable, value, "an NGINX size (digits, then k, m or g)", fix)


def nginx_time(variable, value, fix):
    rule = "an NGINX time (digits, each number followed by ms, s, m, h, d, w, M or y: 300s, 1h30m)"
    return None if _match(_TIME, value) else sentence(variable, value, rule, fix)


def nginx_rate(variable, value, fix):
    rule = "an NGINX rate (requests per second or minute: 20r/s, 600r/m)"
    return None if _match(_RATE, value) else sentence(variable, value, rule, fix)


def number(variable, value, fix, minimum=0, maximum=9999999999):
    """A whole number (an int, or its digits as a string from -e); never a boolean."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    ok = _match(_NUMBER, text) and minimum <= int(text) <= maximum
    return None if ok else sentence(variable, value, "a whole number from {0} to {1}".format(minimum, maximum), fix)


def common_name(variable, value, fix):
    rule = "a certificate CN (1 to 64 letters, digits, spaces, '.', '_', '@' or '-', no space at either end)"
    return None if _match(_COMMON_NAME, value) else sentence(variable, value, rule, fix)
