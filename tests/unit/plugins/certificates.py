"""The one builder of test certificates: unit tests, the lab's make_cert.py and the frontend benchmark use it.

It ships with the unit tests (ansible-test units runs them on the installed
collection, where the lab's files are not), so the lab imports it from here.
"""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def name(common_name, organization=None):
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)] if organization else []
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def build(
    subject,
    issuer,
    public_key,
    signing_key,
    *,
    ca,
    days=1,
    not_after=None,
    sans=(),
    usage=ExtendedKeyUsageOID.CLIENT_AUTH,
):
    """A certificate valid for ``days`` (negative: expired ``days`` ago) or until ``not_after``.

    ``usage`` (an extended key usage) applies to leaf certificates; None leaves it out.
    """
    now = datetime.datetime.now(datetime.UTC)
    start, end = (
        (now - datetime.timedelta(days=10), now - datetime.timedelta(days=-days))
        if days < 0
        else (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days))
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if not ca and usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
