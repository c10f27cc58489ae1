"""The network CA: node certificates for mutual TLS between the hub and the agency nodes.

The Information Provision Network has its own certification authority, separate from JPKI
(``openmyna.pki``): JPKI certifies people, this CA certifies the machines of the network.
ECDSA P-256 with SHA-256 throughout; the CA certificate is valid 10 years, a node
certificate 1 year by default (at most 2). This module keeps the CA's keys, files and
revocations; what its certificates and CRL contain is ``netca_profiles``.

Layout under the data dir (folders 0700, files 0600), all state in files so that every
process sharing the data dir sees the same CA, nodes and revocations whatever the database:

    keys/network.kek              the key-encryption secret (hex), created on first use
    keys/network/ca.key|ca.pem    the CA key (PKCS#8, encrypted) and certificate
    keys/network/nodes/<id>.pem   the current certificate of agency <id> (or ``hub``)
    keys/network/nodes/<id>-<serial hex>.key   its private key (PKCS#8, encrypted)
    keys/network/revoked.json     revoked serial numbers: {"<hex>": {"agency", "at"}}
    keys/network/crl.pem          a CRL of the revoked serials, signed by the CA

A key file is named after the serial of its certificate, so that a process reading the
certificate and then its key never pairs a new certificate with an old key. Keys and the
secret never appear in a log or an error message.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.network import netca_profiles as profiles
from openmyna.network.agencies import find_agency
from openmyna.network.codes import ensure_secret_file
from openmyna.network.errors import HubKeyError, InvalidNodeRequest, NetworkKeyError
from openmyna.pki.errors import PkiKeyError
from openmyna.pki.keys import KeyFiles, load_or_create_kek
from openmyna.store import files

HUB_ID = "hub"
NODE_VALIDITY = dt.timedelta(days=365)
MAX_NODE_VALIDITY = dt.timedelta(days=731)
RENEW_BEFORE = dt.timedelta(days=30)
DEFAULT_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1")


def network_dir(data_dir: Path) -> Path:
    """The folder of the network CA's files."""
    return data_dir / "keys" / "network"


def _agency_kind(agency_id: str) -> str:
    """The kind of an agency id (``hub`` for the hub); ``UNKNOWN_AGENCY`` otherwise."""
    if agency_id == HUB_ID:
        return HUB_ID
    return str(find_agency(agency_id).kind)


@dataclass(frozen=True)
class NodeIdentity:
    """A node's TLS identity: certificate, private key, and their files for TLS libraries."""

    agency_id: str
    kind: str
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    ca_certificate: x509.Certificate
    cert_path: Path
    key_path: Path
    #: The password of the encrypted key file (what ``ssl`` and uvicorn ask for).
    key_password: str = field(repr=False)

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """The certificate chain, leaf first: (node certificate, CA certificate)."""
        return (self.certificate, self.ca_certificate)

    @property
    def serial_number(self) -> int:
        """The serial number of the node certificate."""
        return self.certificate.serial_number


class NetworkCA:
    """The network CA of one data dir: issues, loads and revokes node certificates."""

    def __init__(self, data_dir: Path, kek: bytes, clock: Clock) -> None:
        self.clock = clock
        self.folder = network_dir(data_dir)
        self._files = KeyFiles(self.folder, kek)
        (self.folder / "nodes").mkdir(exist_ok=True, mode=0o700)
        self._password = kek.hex()
        self._revoked: dict[int, str] = {}
        self._revoked_stamp: tuple[int, int] | None = None
        self._ca_key: ec.EllipticCurvePrivateKey | None = None
        self._cert_cache: dict[str, tuple[tuple[int, int], x509.Certificate]] = {}
        with self._files.lock():
            if not self._files.has("ca"):
                self._create_ca()
        try:
            self._ca_cert = self._files.load_cert("ca")
        except PkiKeyError:
            raise NetworkKeyError("the network CA certificate cannot be read") from None

    @classmethod
    def open(cls, settings: Settings, clock: Clock) -> NetworkCA:
        """The network CA in ``settings.data_dir``, created (key and certificate) on first use."""
        data_dir = settings.ensure_data_dir()
        try:
            kek = load_or_create_kek(data_dir / "keys" / "network.kek")
        except PkiKeyError as exc:
            raise NetworkKeyError(exc.message, **exc.context) from None
        return cls(data_dir, kek, clock)

    # -- files ---------------------------------------------------------------------------

    def _encrypt(self, key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._password.encode("ascii")),
        )

    def _write_key(self, path: Path, key: ec.EllipticCurvePrivateKey) -> None:
        pem = self._encrypt(key)
        try:
            ensure_secret_file(path, lambda: pem)
        except HubKeyError as exc:
            raise NetworkKeyError("a network key file cannot be written", file=path.name) from exc

    def _read_key(self, path: Path) -> ec.EllipticCurvePrivateKey:
        if not path.exists():
            raise NetworkKeyError("a network key file is missing", file=path.name)
        try:
            pem = ensure_secret_file(path, lambda: b"")
            key = serialization.load_pem_private_key(pem, self._password.encode("ascii"))
        except HubKeyError:
            raise NetworkKeyError(
                "a network key file is unreadable or not mode 0600", file=path.name
            ) from None
        except (ValueError, TypeError):
            raise NetworkKeyError(
                "a network key file cannot be decrypted (wrong secret?)", file=path.name
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise NetworkKeyError("a network key file does not hold a P-256 key", file=path.name)
        return key

    def _create_ca(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = profiles.ca_certificate(key, self.clock.now().astimezone(dt.UTC))
        key_path = self._files.key_path("ca")
        key_path.unlink(missing_ok=True)
        self._write_key(key_path, key)
        self._files.save_cert("ca", cert)
        self._ca_key = key
        self._ca_cert = cert
        self._write_crl({})

    def _ca_private_key(self) -> ec.EllipticCurvePrivateKey:
        if self._ca_key is None:
            self._ca_key = self._read_key(self._files.key_path("ca"))
        return self._ca_key

    def _node_cert_path(self, agency_id: str) -> Path:
        return self.folder / "nodes" / f"{agency_id}.pem"

    def _node_key_path(self, agency_id: str, serial: int) -> Path:
        return self.folder / "nodes" / f"{agency_id}-{serial:x}.key"

    # -- the CA --------------------------------------------------------------------------

    def ca_certificate(self) -> x509.Certificate:
        """The network CA certificate: the trust anchor of every node."""
        return self._ca_cert

    @property
    def ca_path(self) -> Path:
        """The CA certificate file (PEM), for TLS libraries that take files."""
        return self._files.cert_path("ca")

    @property
    def crl_path(self) -> Path:
        """The CA's current CRL file (PEM)."""
        return self.folder / "crl.pem"

    def crl(self) -> x509.CertificateRevocationList:
        """The CA's current CRL (every revoked node certificate)."""
        try:
            return x509.load_pem_x509_crl(self.crl_path.read_bytes())
        except (OSError, ValueError):
            raise NetworkKeyError("the network CRL cannot be read") from None

    # -- nodes ---------------------------------------------------------------------------

    def issue_node(
        self,
        agency_id: str,
        hosts: Sequence[str] = DEFAULT_HOSTS,
        validity: dt.timedelta = NODE_VALIDITY,
    ) -> NodeIdentity:
        """Generate a key pair for ``agency_id`` and issue its node certificate (replacing any)."""
        kind = _agency_kind(agency_id)
        with self._files.lock():
            return self._issue(agency_id, kind, hosts, validity)

    def _issue(
        self, agency_id: str, kind: str, hosts: Sequence[str], validity: dt.timedelta
    ) -> NodeIdentity:
        """Issue and store a node certificate; the caller holds the folder lock."""
        if not dt.timedelta(days=1) <= validity <= MAX_NODE_VALIDITY:
            raise InvalidNodeRequest("node certificate validity must be 1 day to 2 years")
        key = ec.generate_private_key(ec.SECP256R1())
        now = self.clock.now().astimezone(dt.UTC)
        cert = profiles.node_certificate(
            key.public_key(),
            agency_id,
            kind,
            hosts,
            ca_cert=self._ca_cert,
            ca_key=self._ca_private_key(),
            now=now,
            not_after=min(now + validity, self._ca_cert.not_valid_after_utc),
        )
        old = self._current_node_cert(agency_id)
        self._write_key(self._node_key_path(agency_id, cert.serial_number), key)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        files.replace(self._node_cert_path(agency_id), cert_pem)
        if old is not None:
            self._node_key_path(agency_id, old.serial_number).unlink(missing_ok=True)
        return self._identity(agency_id, kind, cert, key)

    def _current_node_cert(self, agency_id: str) -> x509.Certificate | None:
        path = self._node_cert_path(agency_id)
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise NetworkKeyError(
                "a node certificate file cannot be read", file=path.name
            ) from None

    def _identity(
        self, agency_id: str, kind: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
    ) -> NodeIdentity:
        return NodeIdentity(
            agency_id=agency_id,
            kind=kind,
            certificate=cert,
            private_key=key,
            ca_certificate=self._ca_cert,
            cert_path=self._node_cert_path(agency_id),
            key_path=self._node_key_path(agency_id, cert.serial_number),
            key_password=self._password,
        )

    def node(self, agency_id: str, hosts: Sequence[str] = DEFAULT_HOSTS) -> NodeIdentity:
        """The agency's node identity: loaded, or issued if absent, revoked or expiring.

        A certificate within 30 days of its end is renewed. ``hosts`` is used only when a
        certificate is issued.
        """
        kind = _agency_kind(agency_id)
        with self._files.lock():  # two processes starting one node end with one certificate
            cert = self._current_node_cert(agency_id)
            if (
                cert is None
                or self.is_revoked(cert.serial_number)
                or cert.not_valid_after_utc - RENEW_BEFORE <= self.clock.now()
            ):
                return self._issue(agency_id, kind, hosts, NODE_VALIDITY)
            key = self._read_key(self._node_key_path(agency_id, cert.serial_number))
        return self._identity(agency_id, kind, cert, key)

    def resolver(self) -> Callable[[str], x509.Certificate | None]:
        """The message key resolver of this CA: ``certificate_of``."""
        return self.certificate_of

    def certificate_of(self, agency_id: str) -> x509.Certificate | None:
        """The agency's current node certificate if it is valid now and not revoked, else None.

        This is how messages are verified: a message's ``kid`` names its sender's agency, and
        only that agency's live certificate from this CA verifies it. Files are re-read only
        when they change.
        """
        try:
            _agency_kind(agency_id)  # also keeps odd ids away from file paths
        except OpenMynaError:
            return None
        path = self._node_cert_path(agency_id)
        try:
            st = path.stat()
        except (FileNotFoundError, ValueError):
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._cert_cache.get(agency_id)
        if cached is None or cached[0] != stamp:
            cert = self._current_node_cert(agency_id)
            if cert is None:
                return None
            try:
                cert.verify_directly_issued_by(self._ca_cert)
            except (ValueError, TypeError, InvalidSignature):
                return None
            cached = (stamp, cert)
            self._cert_cache[agency_id] = cached
        cert = cached[1]
        now = self.clock.now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return None
        if self.is_revoked(cert.serial_number):
            return None
        return cert

    # -- revocation ----------------------------------------------------------------------

    @property
    def _revoked_path(self) -> Path:
        return self.folder / "revoked.json"

    def _load_revoked(self) -> dict[str, dict[str, str]]:
        try:
            body = json.loads(self._revoked_path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise NetworkKeyError("the network revocation file cannot be read") from None
        if not isinstance(body, dict):
            raise NetworkKeyError("the network revocation file is malformed")
        return body

    def revoked(self) -> dict[int, str]:
        """The revoked node certificates: serial number → agency id (re-read when changed)."""
        try:
            st = self._revoked_path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._revoked_stamp or stamp is None:
            self._revoked = {int(k, 16): v["agency"] for k, v in self._load_revoked().items()}
            self._revoked_stamp = stamp
        return dict(self._revoked)

    def is_revoked(self, serial_number: int) -> bool:
        """Whether the node certificate with that serial number is revoked."""
        return serial_number in self.revoked()

    def revoke(self, agency_id: str) -> int | None:
        """Revoke the agency's current node certificate; its serial, or None if it had none."""
        _agency_kind(agency_id)
        with self._files.lock():
            cert = self._current_node_cert(agency_id)
            if cert is None:
                return None
            body = self._load_revoked()
            at = self.clock.now().astimezone(dt.UTC)
            body.setdefault(
                f"{cert.serial_number:x}",
                {"agency": agency_id, "at": at.isoformat().replace("+00:00", "Z")},
            )
            text = json.dumps(body, sort_keys=True, indent=1) + "\n"
            files.replace(self._revoked_path, text.encode("utf-8"))
            self._write_crl(body)
        return cert.serial_number

    def _write_crl(self, body: dict[str, dict[str, str]]) -> None:
        crl = profiles.revocation_list(
            body,
            ca_cert=self._ca_cert,
            ca_key=self._ca_private_key(),
            now=self.clock.now().astimezone(dt.UTC),
        )
        files.replace(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))
