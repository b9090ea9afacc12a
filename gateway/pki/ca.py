"""The gateway's local certificate authority: badge client certificates, the broker's server
certificate and the certificate revocation list.

Keys are ECDSA P-256 (fast to verify on a small CPU); every private key is a 0600 file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.crypto.errors import KeyFileError
from gateway.crypto.keyfiles import read_secret, write_file_atomically
from gateway.pki.errors import PkiError

CA_DAYS = 20 * 365
_PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes
    serial: int
    fingerprint: str  #: SHA-256 of the DER certificate, hex

    @property
    def not_after(self) -> float:
        return x509.load_pem_x509_certificate(self.cert_pem).not_valid_after_utc.timestamp()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def fingerprint(cert: x509.Certificate) -> str:
    """The certificate's SHA-256 fingerprint (of its DER form), lowercase hex: the one format
    the registry stores, enrolment bundles carry and the web UI prints."""
    return cert.fingerprint(hashes.SHA256()).hex()


def load_certificate(path: Path) -> x509.Certificate:
    """A PEM certificate from a file."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read the certificate {path}: {exc}") from exc


class LocalCA:
    """The gateway's CA: its key (a 0600 file, or a systemd credential) and its certificate."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert

    @classmethod
    def load_or_create(cls, key_path: Path, cert_path: Path, common_name: str) -> LocalCA:
        """Load the CA, or create it when neither its key nor its certificate exists."""
        if key_path.exists() and cert_path.exists():
            return cls.load(key_path, cert_path)
        if key_path.exists() or cert_path.exists():
            missing = cert_path if key_path.exists() else key_path
            raise PkiError(f"the local CA's {missing} is missing: restore it from a backup (on an "
                           "appliance the key is in the credential store: run with "
                           "CREDENTIALS_DIRECTORY=/etc/credstore/salestag); a new CA would "
                           "orphan every paired badge")
        return cls.create(key_path, cert_path, common_name)

    @classmethod
    def load(cls, key_path: Path, cert_path: Path) -> LocalCA:
        """The CA of these files, checked to be one pair."""
        try:
            key = serialization.load_pem_private_key(read_secret(key_path), password=None)
        except (OSError, ValueError, KeyFileError) as exc:
            raise PkiError(f"cannot load the local CA ({key_path}): {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{key_path} is not an EC key")
        cert = load_certificate(cert_path)
        if cert.public_key() != key.public_key():
            raise PkiError(f"{cert_path} does not belong to the CA key {key_path}")
        return cls(key, cert)

    @classmethod
    def create(cls, key_path: Path, cert_path: Path, common_name: str) -> LocalCA:
        """A new P-256 CA; its key file is never overwritten."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SalesTag Gateway"),
                          x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                             crl_sign=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False)
                .sign(key, hashes.SHA256()))
        cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        write_file_atomically(key_path, _key_pem(key), 0o600)
        write_file_atomically(cert_path, cert.public_bytes(_PEM), 0o644, replace=True)
        return cls(key, cert)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(_PEM)

    def _issue(self, common_name: str, days: int, usage: x509.ObjectIdentifier,
               sans: list[x509.GeneralName]) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        serial = x509.random_serial_number()
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                               common_name)]))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(serial)
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.KeyUsage(True, False, True, False, False, False, False,
                                                False, False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.key.public_key()), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(cert.public_bytes(_PEM), _key_pem(key), serial, fingerprint(cert))

    def issue_client(self, badge_id: str, days: int) -> Issued:
        """A badge's client certificate; its common name is the badge id (the broker user)."""
        return self._issue(badge_id, days, ExtendedKeyUsageOID.CLIENT_AUTH, [])

    def issue_server(self, hosts: list[str], days: int) -> Issued:
        """The broker's and upload server's certificate for these names and addresses."""
        sans: list[x509.GeneralName] = []
        for host in dict.fromkeys(hosts):
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        return self._issue(hosts[0], days, ExtendedKeyUsageOID.SERVER_AUTH, sans)

    def crl(self, revoked: list[tuple[int, float]], *, days: int = 3650) -> bytes:
        """A signed revocation list of (serial, revoked at unix seconds)."""
        now = _now()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(now - dt.timedelta(minutes=5))
                   .next_update(now + dt.timedelta(days=days)))
        for serial, when in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(dt.datetime.fromtimestamp(when, dt.UTC)).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(_PEM)
