"""Shared fixtures: load the lab's scripts as modules and make a throwaway PKI."""

import datetime
import importlib.util
import ipaddress
import pathlib
import sys
import tempfile

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAB = ROOT / "tests" / "lab"


def _expose_collection():
    """Make this checkout importable as ansible_collections.aicontainers.hardening.

    ansible_collections is a namespace package (the ansible package ships one
    too), so a symlinked tree on sys.path adds our collection beside those.
    """
    tree = pathlib.Path(tempfile.mkdtemp(prefix="aich-unit-"))
    (tree / "ansible_collections" / "aicontainers").mkdir(parents=True)
    (tree / "ansible_collections" / "aicontainers" / "hardening").symlink_to(ROOT)
    sys.path.insert(0, str(tree))


_expose_collection()


def load_script(name, relative_path):
    spec = importlib.util.spec_from_file_location(name, LAB / relative_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def standin():
    return load_script("standin", "images/standin/standin.py")


@pytest.fixture(scope="session")
def labnet():
    return load_script("labnet", "internet/labnet.py")


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, *, ca, sans=()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1/localhost, as PEM files."""
    directory = tmp_path_factory.mktemp("pki")
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = _certificate("unit test CA", "unit test CA", ca_key.public_key(), ca_key, ca=True)
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_cert = _certificate(
        "localhost",
        "unit test CA",
        server_key.public_key(),
        ca_key,
        ca=False,
        sans=(x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
    )
    paths = {name: directory / (name + ".pem") for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    return {name: str(path) for name, path in paths.items()}
