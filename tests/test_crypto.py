"""Key files, data-key wrapping, content sealing and identities."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.crypto.content import open_content, seal_content
from gateway.crypto.datakeys import WRAPPED_SIZE, KeyStore
from gateway.crypto.errors import CryptoError, IntegrityError, KeyFileError
from gateway.crypto.identity import (
    GatewayIdentity,
    generate_tenant_keypair,
    key_id,
    load_signer,
    load_signer_public_key,
    load_tenant_private_key,
    load_tenant_public_key,
    x25519_key_id,
)
from gateway.crypto.keyfiles import read_secret, write_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_secret_creates_0600_in_a_0700_dir(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "kek"
    write_secret(path, b"s" * 32)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert read_secret(path) == b"s" * 32
    assert [p.name for p in path.parent.iterdir()] == ["kek"]  # no temp file left behind


def test_write_secret_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "kek"
    write_secret(path, b"first")
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        write_secret(path, b"second")
    assert read_secret(path) == b"first"


def test_write_secret_refuses_a_world_writable_parent(tmp_path: Path) -> None:
    parent = tmp_path / "open"
    parent.mkdir()
    parent.chmod(0o777)
    with pytest.raises(KeyFileError, match="chmod go-w"):
        write_secret(parent / "kek", b"x")


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o644])
def test_read_secret_refuses_loose_permissions(tmp_path: Path, loose: int) -> None:
    path = tmp_path / "kek"
    write_secret(path, b"x" * 32)
    path.chmod(loose)
    with pytest.raises(KeyFileError, match=f"chmod 600 {path}"):
        read_secret(path)
    with pytest.raises(KeyFileError):
        KeyStore.load(path)


def test_read_secret_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        read_secret(tmp_path / "nope")


def test_wrap_unwrap_round_trip(tmp_path: Path) -> None:
    store = KeyStore.create(tmp_path / "kek")
    data_key, wrapped = store.new_data_key(b"conv-1")
    assert len(data_key) == 32 and len(wrapped) == WRAPPED_SIZE and wrapped[0] == 1
    assert store.unwrap(wrapped, context=b"conv-1") == data_key
    reloaded = KeyStore.load(tmp_path / "kek")
    assert reloaded.unwrap(wrapped, context=b"conv-1") == data_key
    assert KeyStore.open_or_create(tmp_path / "kek").unwrap(wrapped, context=b"conv-1") == data_key


def test_open_or_create_creates_once(tmp_path: Path) -> None:
    first = KeyStore.open_or_create(tmp_path / "k" / "kek")
    _, wrapped = first.new_data_key(b"c")
    second = KeyStore.open_or_create(tmp_path / "k" / "kek")
    second.unwrap(wrapped, context=b"c")
    assert mode(tmp_path / "k" / "kek") == 0o600


def test_wrapped_key_is_bound_to_its_context(tmp_path: Path) -> None:
    store = KeyStore.create(tmp_path / "kek")
    _, wrapped = store.new_data_key(b"conv-1")
    with pytest.raises(IntegrityError):
        store.unwrap(wrapped, context=b"conv-2")
    with pytest.raises(CryptoError):
        store.new_data_key(b"")


def test_wrong_kek_is_refused(tmp_path: Path) -> None:
    _, wrapped = KeyStore.create(tmp_path / "a").new_data_key(b"c")
    with pytest.raises(IntegrityError):
        KeyStore.create(tmp_path / "b").unwrap(wrapped, context=b"c")


def test_every_flipped_bit_of_a_wrapped_key_is_refused(tmp_path: Path) -> None:
    store = KeyStore.create(tmp_path / "kek")
    _, wrapped = store.new_data_key(b"c")
    for index in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[index] ^= 0x01
        with pytest.raises(IntegrityError):
            store.unwrap(bytes(tampered), context=b"c")
    with pytest.raises(IntegrityError):
        store.unwrap(wrapped[:-1], context=b"c")


def test_kek_file_of_the_wrong_size(tmp_path: Path) -> None:
    write_secret(tmp_path / "kek", b"short")
    with pytest.raises(KeyFileError, match="5 bytes"):
        KeyStore.load(tmp_path / "kek")


def test_content_round_trip_and_tamper() -> None:
    key = os.urandom(32)
    blob = seal_content(key, b"transcript text", b"conv-1")
    assert b"transcript" not in blob
    assert open_content(key, blob, b"conv-1") == b"transcript text"
    with pytest.raises(IntegrityError):
        open_content(key, blob, b"conv-2")
    with pytest.raises(IntegrityError):
        open_content(os.urandom(32), blob, b"conv-1")
    for index in (0, 11, 12, len(blob) - 1):
        tampered = bytearray(blob)
        tampered[index] ^= 0x80
        with pytest.raises(IntegrityError):
            open_content(key, bytes(tampered), b"conv-1")
    with pytest.raises(IntegrityError):
        open_content(key, blob[:20], b"conv-1")
    with pytest.raises(CryptoError):
        seal_content(b"short", b"x", b"")


def test_gateway_identity_persists_and_exports(tmp_path: Path) -> None:
    identity = GatewayIdentity.load_or_create(tmp_path / "id" / "signing.pem", "gw-1")
    assert mode(tmp_path / "id" / "signing.pem") == 0o600
    again = GatewayIdentity.load_or_create(tmp_path / "id" / "signing.pem", "gw-1")
    assert again.public_key_bytes() == identity.public_key_bytes()
    assert identity.key_id == key_id(identity.public_key_bytes()) and len(identity.key_id) == 16
    identity.export_public(tmp_path / "gw-1.signer.json")
    identity.export_public(tmp_path / "gw-1.signer.json")  # re-export replaces the file
    found_id, public_key = load_signer_public_key(tmp_path / "gw-1.signer.json")
    assert found_id == identity.key_id
    public_key.verify(identity.sign(b"data"), b"data")
    assert load_signer(tmp_path / "gw-1.signer.json").gateway_id == "gw-1"


def test_signer_file_with_a_wrong_key_id_is_refused(tmp_path: Path) -> None:
    identity = GatewayIdentity.load_or_create(tmp_path / "signing.pem", "gw-1")
    path = tmp_path / "signer.json"
    identity.export_public(path)
    path.write_text(path.read_text().replace(identity.key_id, "0" * 16))
    with pytest.raises(KeyFileError, match="key_id"):
        load_signer(path)


def test_gateway_id_must_be_a_topic_level(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="gateway id"):
        GatewayIdentity.load_or_create(tmp_path / "signing.pem", "gw/+")


def test_tenant_keypair_files(tmp_path: Path) -> None:
    public = generate_tenant_keypair(tmp_path / "hq" / "tenant.pem", tmp_path / "tenant.pub.pem")
    assert mode(tmp_path / "hq" / "tenant.pem") == 0o600
    private = load_tenant_private_key(tmp_path / "hq" / "tenant.pem")
    assert x25519_key_id(private) == x25519_key_id(public)
    assert x25519_key_id(load_tenant_public_key(tmp_path / "tenant.pub.pem")) == x25519_key_id(
        public
    )
    (tmp_path / "hq" / "tenant.pem").chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_tenant_private_key(tmp_path / "hq" / "tenant.pem")
    with pytest.raises(KeyFileError):
        generate_tenant_keypair(tmp_path / "hq" / "tenant.pem", tmp_path / "other.pem")
