# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container networks whose traffic the host's firewall never sees.

A macvlan or ipvlan network puts its containers straight onto the parent
interface's LAN: their packets leave without crossing the host's forward or
output hooks, so no rule of the inet table can filter them; the uplink guard
(uplink_guard.py) drops them instead. The egress_firewall role refuses to run
while such a network exists (unless the user accepts it by name, which turns
the guard off), and the audit reports them either way.
"""

from __future__ import annotations

UNFILTERABLE_DRIVERS = ("macvlan", "ipvlan")
ACCEPT_VARIABLE = "egress_firewall_unfiltered_networks_accepted"


def unfilterable(networks):
    """Names of the networks (dicts with Name and Driver) the host cannot filter."""
    return sorted(
        str(network.get("Name", "?")) for network in networks or [] if network.get("Driver") in UNFILTERABLE_DRIVERS
    )


def describe(networks, names):
    by_name = {str(network.get("Name")): network.get("Driver") for network in networks or []}
    return ", ".join("{0} ({1})".format(name, by_name.get(name, "?")) for name in names)


def unfiltered_network_errors(networks, accepted):
    """One sentence naming the unfilterable networks the user has not accepted, or no sentence."""
    refused = [name for name in unfilterable(networks) if name not in set(accepted or [])]
    if not refused:
        return []
    return [
        "Docker network(s) {0} put their containers straight onto the LAN, past this host's forward and "
        "output rules (the uplink guard drops all they send); remove them, or list them in {1} to accept "
        "that their egress is not filtered.".format(describe(networks, refused), ACCEPT_VARIABLE)
    ]
