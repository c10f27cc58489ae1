"""The network CA: its key and certificate, node certificates, renewal and revocation."""

from __future__ import annotations

import datetime as dt
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.network.errors import InvalidNodeRequest, NetworkKeyError, UnknownAgency
from openmyna.network.netca import NetworkCA, network_dir


@pytest.fixture
def ca(tmp_path: Path, clock: FixedClock) -> NetworkCA:
    return NetworkCA.open(Settings(data_dir=tmp_path), clock)


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_ca_certificate_profile(ca: NetworkCA, clock: FixedClock) -> None:
    cert = ca.ca_certificate()
    assert cert.subject == cert.issuer
    cert.verify_directly_issued_by(cert)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=3650) <= life <= dt.timedelta(days=3653)
    assert cert.not_valid_before_utc <= clock.now()
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca
    assert bc.path_length == 0
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign
    assert ku.crl_sign
    assert not ku.digital_signature


def test_ca_key_encrypted_private_and_reused(tmp_path: Path, ca: NetworkCA) -> None:
    folder = network_dir(tmp_path)
    key_file = folder / "ca.key"
    assert b"ENCRYPTED PRIVATE KEY" in key_file.read_bytes()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "keys" / "network.kek").stat().st_mode) == 0o600
    again = NetworkCA.open(Settings(data_dir=tmp_path), FixedClock(dt.datetime.now(dt.UTC)))
    assert again.ca_certificate() == ca.ca_certificate()
    # the reopened CA signs with the same key: its node verifies against the first CA
    again.issue_node("nenkin").certificate.verify_directly_issued_by(ca.ca_certificate())


def test_node_certificate_profile(ca: NetworkCA, clock: FixedClock) -> None:
    node = ca.issue_node("lg-102016")
    cert = node.certificate
    cert.verify_directly_issued_by(ca.ca_certificate())
    assert _cn(cert) == "lg-102016"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "municipality"
    )
    assert node.kind == "municipality"
    assert node.chain == (cert, ca.ca_certificate())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature
    assert not ku.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.not_valid_after_utc - clock.now() == dt.timedelta(days=365)
    assert node.private_key.public_key() == cert.public_key()
    assert b"ENCRYPTED PRIVATE KEY" in node.key_path.read_bytes()
    assert stat.S_IMODE(node.key_path.stat().st_mode) == 0o600
    assert "key_password" not in repr(node)
    assert node.key_password not in repr(node)


def test_hub_and_configured_hosts(ca: NetworkCA) -> None:
    hub = ca.issue_node("hub", hosts=["hub.example.jp", "10.0.0.7", "::1"])
    assert hub.kind == "hub"
    assert _cn(hub.certificate) == "hub"
    san = hub.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["hub.example.jp"]
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"10.0.0.7", "::1"}
    two_years = ca.issue_node("nenkin", validity=dt.timedelta(days=730)).certificate
    assert two_years.not_valid_after_utc - two_years.not_valid_before_utc > dt.timedelta(700)


@pytest.mark.parametrize(
    ("hosts", "validity"),
    [
        ([], dt.timedelta(days=365)),
        (["bad host"], dt.timedelta(days=365)),
        (["localhost"], dt.timedelta(days=800)),
        (["localhost"], dt.timedelta(hours=1)),
    ],
)
def test_bad_node_request(ca: NetworkCA, hosts: list[str], validity: dt.timedelta) -> None:
    with pytest.raises(InvalidNodeRequest) as err:
        ca.issue_node("nenkin", hosts=hosts, validity=validity)
    assert err.value.code == "INVALID_NODE_REQUEST"


@pytest.mark.parametrize("agency", ["nobody", "lg-999999", "", "../hub"])
def test_unknown_agency(ca: NetworkCA, agency: str) -> None:
    for call in (ca.node, ca.issue_node, ca.revoke):
        with pytest.raises(UnknownAgency) as err:
            call(agency)
        assert err.value.code == "UNKNOWN_AGENCY"


def test_node_loads_the_same_identity(tmp_path: Path, ca: NetworkCA, clock: FixedClock) -> None:
    first = ca.node("nenkin")
    assert ca.node("nenkin").serial_number == first.serial_number
    other = NetworkCA.open(Settings(data_dir=tmp_path), clock)
    loaded = other.node("nenkin")
    assert loaded.serial_number == first.serial_number
    assert loaded.private_key.private_numbers() == first.private_key.private_numbers()


def test_node_renewed_near_expiry(ca: NetworkCA, clock: FixedClock) -> None:
    first = ca.node("jasso")
    clock.advance(dt.timedelta(days=300))
    assert ca.node("jasso").serial_number == first.serial_number
    clock.advance(dt.timedelta(days=40))
    renewed = ca.node("jasso")
    assert renewed.serial_number != first.serial_number
    assert not first.key_path.exists()
    assert renewed.key_path.exists()


def test_revoke(tmp_path: Path, ca: NetworkCA, clock: FixedClock) -> None:
    assert ca.revoke("hellowork") is None  # nothing issued yet
    node = ca.node("hellowork")
    other = NetworkCA.open(Settings(data_dir=tmp_path), clock)
    assert not other.is_revoked(node.serial_number)  # cached state read once here
    assert ca.revoke("hellowork") == node.serial_number
    assert ca.is_revoked(node.serial_number)
    assert other.is_revoked(node.serial_number)  # another process sees the file change
    assert other.revoked() == {node.serial_number: "hellowork"}
    crl = other.crl()
    assert crl.is_signature_valid(ca.ca_certificate().public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(node.serial_number)
    assert entry is not None
    assert entry.revocation_date_utc == clock.now()
    fresh = ca.node("hellowork")  # a revoked node gets a new certificate
    assert fresh.serial_number != node.serial_number
    assert not ca.is_revoked(fresh.serial_number)
    assert not node.key_path.exists()


def test_key_file_readable_by_others_is_refused(tmp_path: Path, ca: NetworkCA) -> None:
    node = ca.node("nenkin")
    os.chmod(node.key_path, 0o640)
    with pytest.raises(NetworkKeyError) as err:
        NetworkCA.open(Settings(data_dir=tmp_path), ca.clock).node("nenkin")
    assert err.value.code == "NETWORK_KEY_ERROR"


def test_wrong_secret_is_refused(tmp_path: Path, ca: NetworkCA, clock: FixedClock) -> None:
    ca.node("nenkin")
    (tmp_path / "keys" / "network.kek").write_text("00" * 32 + "\n")
    reopened = NetworkCA.open(Settings(data_dir=tmp_path), clock)
    with pytest.raises(NetworkKeyError) as err:
        reopened.node("nenkin")
    assert "00" * 8 not in str(err.value)
    with pytest.raises(NetworkKeyError):
        reopened.issue_node("jasso")  # needs the CA key


def test_concurrent_node_calls_end_with_one_identity(tmp_path: Path, clock: FixedClock) -> None:
    cas = [NetworkCA.open(Settings(data_dir=tmp_path), clock) for _ in range(4)]
    serials: list[int] = []

    def start(ca: NetworkCA) -> None:
        node = ca.node("lg-102016")
        assert node.key_path.exists()
        serials.append(node.serial_number)

    threads = [threading.Thread(target=start, args=(ca,)) for ca in cas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(serials)) == 1
    assert len(list((network_dir(tmp_path) / "nodes").glob("lg-102016-*.key"))) == 1
