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
import grp
import json
import logging
import os
import pwd
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gateway.accounts.setup_code import ISSUE_FILE, new_setup_code, setup_code_digest
from gateway.broker import broker_dir
from gateway.config import Config
from gateway.credentials import ENV as CREDENTIALS_ENV
from gateway.crypto.datakeys import KeyStore
from gateway.crypto.identity import GatewayIdentity
from gateway.errors import GatewayError
from gateway.pki.broker_files import configure_broker
from gateway.pki.ca import LocalCA
from gateway.pki.certificates import ca_name
from gateway.store.layout import Layout

log = logging.getLogger(__name__)

DEFAULT_WEB_PORT = 8443


class ProvisionError(GatewayError):
    """First-boot setup could not complete."""


@dataclass
class ProvisionResult:
    """What provisioning created this time (names only) and the setup code, if a new one."""

    created: list[str] = field(default_factory=list)
    setup_code: str | None = None
    signing_key_id: str = ""


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
    layout = Layout(data)
    layout.keys.mkdir(exist_ok=True, mode=0o700)
    identity.export_public(layout.signing_public)
    layout.signing_public.chmod(0o644)
    ca_key, ca_cert = credstore / "ca.key", layout.ca_cert
    if not (ca_key.exists() or ca_cert.exists()):
        result.created.append("local CA")
    LocalCA.load_or_create(ca_key, ca_cert, ca_name(config))  # checks an existing pair
    with _credentials_from(credstore):  # the broker's config reads the CA key as the service does
        configure_broker(config)

    code_file = layout.setup_code
    if not code_file.exists() and not layout.setup_done.exists():
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
