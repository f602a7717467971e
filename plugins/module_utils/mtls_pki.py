# Copyright: aicontainers.hardening contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan the client credentials of the fleet's PKI.

:func:`client_plan` turns ``mtls_frontend_clients`` (names, or dictionaries
naming the inventory host that uses the credentials) and
``mtls_frontend_revoked_clients`` into the files to make, where, and the CA's
record of each certificate, or raises PlanError with one sentence per
problem, naming the variable. A client name becomes a file name and the
certificate's subject CN, so only a safe set of characters is accepted.
"""

from __future__ import annotations

import posixpath
import re

from ansible_collections.aicontainers.hardening.plugins.module_utils.mtls_authz import normalise_identity

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
NAME_RULE = "use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"


class PlanError(ValueError):
    def __init__(self, errors):
        super().__init__(errors[0])
        self.errors = errors


def _entry(client, errors):
    if isinstance(client, dict):
        name, host, directory = client.get("name"), client.get("host"), client.get("dir")
        sans = client.get("san") or []
    else:
        name, host, directory, sans = client, None, None, []
    if not isinstance(name, str) or not NAME.match(name):
        errors.append("mtls_frontend_clients: {0!r} is not a client name; {1}.".format(name, NAME_RULE))
        return None
    normalised = [normalise_identity(san) for san in (sans if isinstance(sans, list) else [sans])]
    if not isinstance(sans, list) or any(san is None or san.startswith("CN=") for san in normalised):
        errors.append(
            "mtls_frontend_clients: san of client {0} must be a list of DNS:<name>, URI:<uri> (a SPIFFE ID: "
            "URI:spiffe://<trust domain>/<path>) or email:<address>.".format(name)
        )
        return None
    return name, host, directory, normalised


def _audit_clients(audit_client, revocable, errors):
    """The audit's own clients: ``audit_client`` (authorised on /status) and,
    when this CA revokes, ``<audit_client>-revoked``, issued and revoked at
    once, which every frontend must refuse (playbooks/verify.yml calls with both)."""
    if not audit_client:
        return [], []
    if not isinstance(audit_client, str) or not NAME.match(audit_client + "-revoked"):
        errors.append(
            "mtls_frontend_audit_client: {0!r} is not a client name; {1} (at most 56, the revoked twin adds "
            "'-revoked').".format(audit_client, NAME_RULE)
        )
        return [], []
    return [audit_client] + ([audit_client + "-revoked"] if revocable else []), (
        [audit_client + "-revoked"] if revocable else []
    )


def _reserved(clients, revoked, audit_issued):
    """Sentences for user clients or revocations that take the audit's names."""
    errors = []
    for name in (c.get("name") if isinstance(c, dict) else c for c in clients or []):
        if name in audit_issued:
            errors.append(
                "mtls_frontend_clients: {0} is the audit's own client (mtls_frontend_audit_client); give your "
                "client another name.".format(name)
            )
    for name in revoked or []:
        if name in audit_issued:
            errors.append(
                "mtls_frontend_revoked_clients: {0} is the audit's own client (mtls_frontend_audit_client); set "
                "mtls_frontend_audit_client to another name to replace it.".format(name)
            )
    return errors


def client_plan(clients, revoked, ca_dir, client_dir, inventory_hosts, *, audit_client=None, revocable=True):
    """Where each client's key and certificate live.

    A client with a ``host`` gets its key made on that host, in ``dir``
    (default ``client_dir``), next to its certificate and the CA certificate;
    the key never leaves it. Any other client's files are made on the
    controller, in ``<ca_dir>/clients``. The CA keeps a copy of every
    certificate it issued in ``<ca_dir>/issued`` (what a revocation lists).
    The audit's clients (see :func:`_audit_clients`) join both lists; their
    names are reserved.
    """
    errors = []
    audit_issued, audit_revoked = _audit_clients(audit_client, revocable, errors)
    errors.extend(_reserved(clients, revoked, audit_issued))
    if errors:
        raise PlanError(errors)
    planned, seen = [], set()
    for client in list(clients or []) + audit_issued:
        entry = _entry(client, errors)
        if entry is None:
            continue
        name, host, directory, sans = entry
        if name in seen:
            errors.append("mtls_frontend_clients: {0} is listed twice; list each client once.".format(name))
            continue
        seen.add(name)
        if host is not None and host not in inventory_hosts:
            errors.append(
                "mtls_frontend_clients: the host {0!r} of client {1} is not in the inventory; give an inventory "
                "host name (its key is made there), or leave host out to keep the files on the controller.".format(
                    host, name
                )
            )
            continue
        if directory is not None and not posixpath.isabs(str(directory)):
            errors.append(
                "mtls_frontend_clients: dir {0!r} of client {1} must be an absolute path.".format(directory, name)
            )
            continue
        base = str(directory or client_dir) if host else posixpath.join(ca_dir, "clients")
        planned.append(
            {
                "name": name,
                "host": host,
                "san": sans,
                "dir": base,
                "key": posixpath.join(base, name + ".key"),
                "cert": posixpath.join(base, name + ".crt"),
                "ca": posixpath.join(base, "ca.crt"),
                "record": posixpath.join(ca_dir, "issued", name + ".crt"),
            }
        )
    revocations = []
    for name in list(revoked or []) + audit_revoked:
        if not isinstance(name, str) or not NAME.match(name):
            errors.append("mtls_frontend_revoked_clients: {0!r} is not a client name; {1}.".format(name, NAME_RULE))
        elif name in seen and name not in audit_revoked:
            errors.append(
                "mtls_frontend_revoked_clients: {0} is also in mtls_frontend_clients; remove it from "
                "mtls_frontend_clients, or its certificate would be issued again.".format(name)
            )
        else:
            record = posixpath.join(ca_dir, "issued", name + ".crt")
            # crl_entry is what community.crypto.x509_crl takes in revoked_certificates.
            revocations.append({"name": name, "record": record, "crl_entry": {"path": record}})
    if errors:
        raise PlanError(errors)
    return {"clients": planned, "revoked": revocations}
