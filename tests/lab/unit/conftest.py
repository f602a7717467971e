"""Fixtures of the lab-only tests (not shipped): load the lab's scripts as modules and make a throwaway PKI."""

import importlib.util
import ipaddress
import pathlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis.configuration import set_hypothesis_home_dir

# The lab's own code: tests/lab (this file is tests/lab/unit/conftest.py).
LAB = pathlib.Path(__file__).resolve().parents[1]
# Hypothesis keeps its examples and caches in .cache (ignored), like Ansible's state, not in ./.hypothesis.
set_hypothesis_home_dir(LAB.parents[1] / ".cache" / "hypothesis")


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


@pytest.fixture(scope="session")
def make_cert():
    """The lab's one certificate builder (tests/lab/make_cert.py)."""
    return load_script("make_cert", "make_cert.py")


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1/localhost, as PEM files."""
    make_cert = load_script("make_cert", "make_cert.py")
    directory = tmp_path_factory.mktemp("pki")
    ca_name = make_cert.name("unit test CA")
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = make_cert.build(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True, days=1)
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_cert = make_cert.build(
        make_cert.name("localhost"),
        ca_name,
        server_key.public_key(),
        ca_key,
        ca=False,
        days=1,
        sans=(x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
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
