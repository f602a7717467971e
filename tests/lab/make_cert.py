"""Make a client certificate for frontend tests, signed by a given CA or by a new one.

usage: python3 make_cert.py OUT_PREFIX COMMON_NAME [--ca CA_CERT CA_KEY] [--expired | --days N] [--key KEY]

Writes OUT_PREFIX.key and OUT_PREFIX.crt (and OUT_PREFIX-ca.crt for a new CA);
with --key, signs that existing key and writes only OUT_PREFIX.crt.
Used for the certificates a frontend must refuse: another CA's, an expired
one, one that forges a good client's subject under another CA; and for one
close to its end, which the role must issue again.
"""

import argparse
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def build(subject, issuer, public_key, signing_key, *, ca, days, sans=(), usage=ExtendedKeyUsageOID.CLIENT_AUTH):
    """A certificate valid for ``days`` (negative: expired ``days`` ago); the lab's one builder.

    The unit tests and the frontend benchmark load this file too, so there is
    one way to make a test certificate. ``usage`` applies to leaf certificates.
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
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix")
    parser.add_argument("common_name")
    parser.add_argument("--ca", nargs=2, metavar=("CA_CERT", "CA_KEY"))
    parser.add_argument("--expired", action="store_true")
    parser.add_argument("--days", type=int, default=30, help="validity in days")
    parser.add_argument("--key", help="sign this existing private key instead of making one")
    args = parser.parse_args()
    if args.ca:
        with open(args.ca[0], "rb") as handle:
            ca_cert = x509.load_pem_x509_certificate(handle.read())
        with open(args.ca[1], "rb") as handle:
            ca_key = serialization.load_pem_private_key(handle.read(), password=None)
        issuer = ca_cert.subject
    else:
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issuer = name("some other CA")
        ca_cert = build(issuer, issuer, ca_key.public_key(), ca_key, ca=True, days=30)
        with open(args.prefix + "-ca.crt", "wb") as handle:
            handle.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    if args.key:
        with open(args.key, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with open(args.prefix + ".key", "wb") as handle:
            handle.write(pem_key(key))
    cert = build(
        name(args.common_name), issuer, key.public_key(), ca_key, ca=False, days=-1 if args.expired else args.days
    )
    with open(args.prefix + ".crt", "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))


if __name__ == "__main__":
    main()
