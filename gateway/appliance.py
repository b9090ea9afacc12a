"""First boot of an appliance: keys and a local CA in the root-only credential store, a setup code.

Run as root by ``salestag-firstboot.service`` (``salestag-gateway provision``). It is safe to run
again: existing keys are kept, and a setup code is made only while the wizard has not used it.

Files (the credential store is 0700 root; systemd hands its files to the service):

- ``CREDSTORE/kek.key``, ``CREDSTORE/gateway-signing.key``, ``CREDSTORE/ca.key`` (0600 root)
- ``DATA_DIR/keys/gateway-signing.pub``: the public key HQ must trust
- ``DATA_DIR/tls/ca.crt``: the local CA's certificate (badges and browsers trust it)
- ``DATA_DIR/setup-code.json``: ``{"sha256": hex, "created_at": unix}``; the web wizard hashes
  what the installer types and compares; it deletes this file (and the console banner) when done
- ``/etc/issue.d/salestag-setup.issue``: the code on the login console, beside the box's address
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import hashlib
import json
import logging
import os
import pwd
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.broker import broker_dir, write_mosquitto_config
from gateway.config import Config
from gateway.credentials import ENV as CREDENTIALS_ENV
from gateway.crypto.datakeys import KeyStore
from gateway.crypto.identity import GatewayIdentity
from gateway.crypto.keyfiles import read_secret, write_secret
from gateway.errors import GatewayError

log = logging.getLogger(__name__)

#: Crockford's base32 without look-alikes (no I, L, O, U)
SETUP_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SETUP_GROUPS = 3
SETUP_GROUP_LEN = 4
CA_YEARS = 20
ISSUE_FILE = Path("/etc/issue.d/salestag-setup.issue")
DEFAULT_WEB_PORT = 8443


class ProvisionError(GatewayError):
    """First-boot setup could not complete."""


@dataclass
class ProvisionResult:
    """What provisioning created this time (names only) and the setup code, if a new one."""

    created: list[str] = field(default_factory=list)
    setup_code: str | None = None
    signing_key_id: str = ""


def new_setup_code() -> str:
    """A one-time code like ``7K2Q-M9XD-4TRB`` (60 bits)."""
    groups = ("".join(secrets.choice(SETUP_ALPHABET) for _ in range(SETUP_GROUP_LEN))
              for _ in range(SETUP_GROUPS))
    return "-".join(groups)


def setup_code_digest(code: str) -> str:
    """The digest stored for a code; case, spaces and dashes do not matter when typed."""
    canonical = "".join(ch for ch in code.upper() if ch in SETUP_ALPHABET)
    return hashlib.sha256(b"salestag/setup-code/v1\x00" + canonical.encode()).hexdigest()


def create_ca(key_path: Path, cert_path: Path, gateway_id: str) -> x509.Certificate:
    """A P-256 CA key (written 0600, never overwritten) and its self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    write_secret(key_path, key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SalesTag Gateway"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"SalesTag local CA {gateway_id}")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert


def ca_certificate_for(key_path: Path, cert_path: Path) -> x509.Certificate:
    """The CA certificate, checked to belong to the CA key."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(read_secret(key_path), password=None)
    if cert.public_key() != key.public_key():
        raise ProvisionError(f"{cert_path} does not belong to the CA key {key_path}")
    return cert


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    tmp.replace(path)


def provision(config: Config, credstore: Path, *, owner: str | None = None,
              broker_group: str | None = None, issue_file: Path | None = ISSUE_FILE
              ) -> ProvisionResult:
    """Create whatever of the appliance's keys, CA, data directory and setup code is missing."""
    result = ProvisionResult()
    credstore.mkdir(parents=True, exist_ok=True, mode=0o700)
    credstore.chmod(0o700)
    kek = credstore / "kek.key"
    if not kek.exists():
        KeyStore.create(kek)
        result.created.append("key-encryption key")
    signing = credstore / "gateway-signing.key"
    if not signing.exists():
        result.created.append("gateway signing key")
    identity = GatewayIdentity.load_or_create(signing, config.site.gateway_id)
    result.signing_key_id = identity.key_id

    data = config.data_dir
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o711)
    (data / "keys").mkdir(exist_ok=True, mode=0o700)
    identity.export_public(data / "keys" / "gateway-signing.pub")
    (data / "keys" / "gateway-signing.pub").chmod(0o644)
    ca_key, ca_cert = credstore / "ca.key", data / "tls" / "ca.crt"
    if not ca_key.exists():
        create_ca(ca_key, ca_cert, config.site.gateway_id)
        result.created.append("local CA")
    elif not ca_cert.exists():
        raise ProvisionError(f"{ca_cert} is missing but the CA key exists: restore it from a "
                             "backup (a new CA would orphan every paired badge)")
    else:
        ca_certificate_for(ca_key, ca_cert)
    with _credentials_from(credstore):  # the broker's config reads the CA key as the service does
        write_mosquitto_config(config)

    code_file = data / "setup-code.json"
    if not code_file.exists() and not (data / "setup-done").exists():
        result.setup_code = new_setup_code()
        code_file.write_text(json.dumps({"sha256": setup_code_digest(result.setup_code),
                                         "created_at": int(time.time())}) + "\n")
        result.created.append("setup code")
        if issue_file is not None and issue_file.parent.is_dir():
            port = getattr(getattr(config, "web", None), "port", DEFAULT_WEB_PORT)
            issue_file.write_text(f"SalesTag setup code: {result.setup_code}  -  open "
                                  f"https://\\4:{port}/ to set up this gateway\n\n")
            issue_file.chmod(0o644)
    if owner:
        _hand_over(config, owner, broker_group)
    return result


@contextlib.contextmanager
def _credentials_from(credstore: Path) -> Iterator[None]:
    """Let code that reads systemd credentials find them in the store, as the service will."""
    saved = os.environ.get(CREDENTIALS_ENV)
    os.environ[CREDENTIALS_ENV] = str(credstore)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(CREDENTIALS_ENV, None)
        else:
            os.environ[CREDENTIALS_ENV] = saved


def _hand_over(config: Config, owner: str, broker_group: str | None) -> None:
    """Make the data directory the service user's; the broker's folder shared with the broker."""
    try:
        user = pwd.getpwnam(owner)
    except KeyError:
        raise ProvisionError(f"no user {owner!r}: create the service user first") from None
    for root, dirs, files in os.walk(config.data_dir):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), user.pw_uid, user.pw_gid)
    os.chown(config.data_dir, user.pw_uid, user.pw_gid)
    if broker_group:
        try:
            gid = grp.getgrnam(broker_group).gr_gid
        except KeyError:
            raise ProvisionError(f"no group {broker_group!r}: install mosquitto first") from None
        folder = broker_dir(config)
        os.chown(folder, user.pw_uid, gid)
        folder.chmod(0o770)
        for item in folder.iterdir():
            os.chown(item, user.pw_uid, gid)
            item.chmod(0o640 if item.is_file() else 0o770)
