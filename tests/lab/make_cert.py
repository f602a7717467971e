"""Make a client certificate for frontend tests, signed by a given CA or by a new one.

usage: python3 make_cert.py OUT_PREFIX COMMON_NAME [--ca CA_CERT CA_KEY] [--expired | --days N] [--key KEY]

Writes OUT_PREFIX.key and OUT_PREFIX.crt (and OUT_PREFIX-ca.crt for a new CA);
with --key, signs that existing key and writes only OUT_PREFIX.crt.
Used for the certificates a frontend must refuse: another CA's, an expired
one, one that forges a good client's subject under another CA; and for one
close to its end, which the role must issue again.
"""

import argparse
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# The one certificate builder ships with the unit tests; the lab uses it from there.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "unit" / "plugins"))
from certificates import build, name, pem_key


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
