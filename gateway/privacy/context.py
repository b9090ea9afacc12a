"""Everything the privacy layer needs, built once per process and shared by its threads.

Database connections are not part of it: each thread opens its own and hands it to an
:class:`~gateway.privacy.access.AccessLayer`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from gateway.config import Config
from gateway.crypto.datakeys import KeyStore
from gateway.crypto.identity import GatewayIdentity, TrustedSigner, load_signer
from gateway.crypto.identity import load_tenant_public_key as _load_tenant
from gateway.privacy.audit import signer_of
from gateway.privacy.consent import ConsentPolicy
from gateway.privacy.retention import RetentionPolicy
from gateway.privacy.subjects import SubjectKey
from gateway.store.keyvault import KeyVault
from gateway.store.spool import AudioSpool

VAULT_FILE = "datakeys.db"
SUBJECT_KEY_FILE = "subject.key"


@dataclass(frozen=True)
class Upstream:
    """Who signs envelopes for HQ and the HQ keys they are sealed to."""

    identity: GatewayIdentity
    recipients: Sequence[X25519PublicKey]


@dataclass
class PrivacyContext:
    """Keys, policies and adapters of the privacy layer (thread-safe to share)."""

    keys: KeyStore
    vault: KeyVault
    spool: AudioSpool
    subject_key: SubjectKey
    identity: GatewayIdentity
    signer: TrustedSigner
    consent: ConsentPolicy = field(default_factory=ConsentPolicy)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    upstream: Upstream | None = None
    kek_path: Path | None = None
    config_path: Path | None = None
    clock: Callable[[], float] = time.time

    @property
    def gateway_id(self) -> str:
        return self.identity.gateway_id

    def free_bytes(self) -> int:
        """Free space on the spool's disk."""
        return shutil.disk_usage(self.spool.directory).free

    def close(self) -> None:
        self.vault.close()


def consent_policy(config: Config) -> ConsentPolicy:
    c = config.consent
    return ConsentPolicy(
        jurisdiction="one_party" if c.jurisdiction == "one_party" else "all_party",
        disclosure_window_s=c.disclosure_window_s,
        action="purge" if c.policy_action == "purge" else "hold",
        disclosure_version=c.disclosure_version, min_confidence=c.min_confidence)


def retention_policy(config: Config) -> RetentionPolicy:
    r = config.retention
    return RetentionPolicy(raw_audio_days=r.raw_audio_days, transcript_days=r.transcript_days,
                           tags_days=r.tags_days, held_days=r.held_days,
                           audit_days=r.audit_days, min_free_bytes=r.min_free_mb * 1024 * 1024)


def upstream_of(config: Config, identity: GatewayIdentity) -> Upstream | None:
    """The HQ recipients when upstream sync is enabled, else None."""
    if not config.upstream.enabled:
        return None
    files = [config.upstream.tenant_public_key,
             *getattr(config.upstream, "extra_tenant_public_keys", [])]
    return Upstream(identity, [_load_tenant(config.data_path(f)) for f in files])


def open_privacy(config: Config, *, keys_dir: Path, kek_path: Path, signing_key: Path,
                 signing_public: Path, spool_dir: Path, config_path: Path | None = None,
                 clock: Callable[[], float] = time.time) -> PrivacyContext:
    """Open the key vault, subject key and signing identity under the data directory.

    Wrapped keys still kept in the database by an older version move into the vault.
    """
    keys = KeyStore.load(kek_path)
    identity = GatewayIdentity.load_or_create(signing_key, config.site.gateway_id)
    signer = load_signer(signing_public) if signing_public.exists() else signer_of(identity)
    return PrivacyContext(
        keys=keys, vault=KeyVault(keys_dir / VAULT_FILE, keys), spool=AudioSpool(spool_dir),
        subject_key=SubjectKey.open_or_create(keys_dir / SUBJECT_KEY_FILE), identity=identity,
        signer=signer, consent=consent_policy(config), retention=retention_policy(config),
        upstream=upstream_of(config, identity), kek_path=kek_path, config_path=config_path,
        clock=clock)
