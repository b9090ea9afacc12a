"""Envelope schema, sealing and opening, and the documented test vector."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import typing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.crypto.errors import IntegrityError
from gateway.crypto.identity import (
    GatewayIdentity,
    load_signer,
    load_tenant_private_key,
    x25519_key_id,
)
from gateway.sync.envelope import (
    UnknownSignerError,
    hpke_info,
    open_sealed,
    open_sealed_with_header,
    seal,
)
from gateway.sync.metadata import (
    audit_checkpoint_envelope,
    correction_envelope,
    deletion_envelope,
    health_envelope,
)
from gateway.sync.schema import (
    BODY_TYPES,
    ID_PATTERN,
    MAX_TAGS,
    TAG_PATTERN,
    AuditCheckpoint,
    ConversationMetadata,
    Correction,
    DeletionNotice,
    Envelope,
    EnvelopeError,
    GatewayHealth,
    TagSpan,
    checkpoint_signing_input,
    from_json,
    to_json,
    topic_gateway_id,
    upstream_topic,
)

ROOT = Path(__file__).resolve().parents[1]
VECTOR = ROOT / "tests" / "data" / "envelope-vector"
TENANT = X25519PrivateKey.generate()
IDENTITY = GatewayIdentity(Ed25519PrivateKey.generate(), "gw-1")
TRUSTED = {IDENTITY.key_id: IDENTITY.public_key()}


def metadata(**changes: object) -> ConversationMetadata:
    fields: dict[str, typing.Any] = {
        "conversation_id": "c-1",
        "gateway_id": "gw-1",
        "site": "store-1",
        "badge_id": "badge-1",
        "rep_id": "rep-1",
        "started_at": 1700000000.0,
        "ended_at": 1700000060.0,
        "duration_s": 60.0,
        "speech_s": 42.5,
        "tags": (TagSpan("pricing", 1.0, 5.5, 0.9),),
        "gaps": 0,
    }
    return ConversationMetadata(**{**fields, **changes})


def envelope(body: ConversationMetadata | None = None) -> Envelope:
    return Envelope("conversation", "conversation:c-1", 1700000061.0, body or metadata())


def sealed(env: Envelope | None = None) -> bytes:
    return seal(env or envelope(), identity=IDENTITY, recipient_public_key=TENANT.public_key())


def test_round_trip() -> None:
    env = envelope()
    blob = sealed(env)
    assert open_sealed(blob, recipient_private_key=TENANT, trusted_signers=TRUSTED) == env
    opened, header = open_sealed_with_header(
        blob, recipient_private_key=TENANT, trusted_signers=TRUSTED
    )
    assert opened == env
    assert (header.gateway_id, header.signer_key_id) == ("gw-1", IDENTITY.key_id)
    assert header.recipient_key_id == x25519_key_id(TENANT)
    for secret in (b"rep-1", b"store-1", b"pricing", b"c-1"):
        assert secret not in blob


def test_every_flipped_byte_is_refused() -> None:
    blob = sealed()
    outer = json.loads(blob)
    positions = {name: blob.index(outer[name].encode()) for name in ("ct", "hdr", "sig")}
    assert min(positions.values()) > 0 and len(outer["sig"]) == 86
    for index in range(len(blob)):
        for mask in (0x01, 0x20, 0x80):
            tampered = bytearray(blob)
            tampered[index] ^= mask
            with pytest.raises((IntegrityError, EnvelopeError)):
                open_sealed(bytes(tampered), recipient_private_key=TENANT, trusted_signers=TRUSTED)


@pytest.mark.parametrize("change", [lambda b: b[:-1], lambda b: b + b" ", lambda b: b" " + b])
def test_truncated_or_padded_blob_is_refused(change: typing.Callable[[bytes], bytes]) -> None:
    with pytest.raises(IntegrityError):
        open_sealed(change(sealed()), recipient_private_key=TENANT, trusted_signers=TRUSTED)


def test_unknown_signer_is_refused() -> None:
    stranger = GatewayIdentity(Ed25519PrivateKey.generate(), "gw-1")
    blob = seal(envelope(), identity=stranger, recipient_public_key=TENANT.public_key())
    with pytest.raises(UnknownSignerError):
        open_sealed(blob, recipient_private_key=TENANT, trusted_signers=TRUSTED)


def test_signer_lookup_binds_key_to_gateway() -> None:
    def only_gw2(key_id: str, gateway_id: str) -> Ed25519PublicKey | None:
        return TRUSTED.get(key_id) if gateway_id == "gw-2" else None

    with pytest.raises(UnknownSignerError):
        open_sealed(sealed(), recipient_private_key=TENANT, trusted_signers=only_gw2)


def test_wrong_recipient_is_refused() -> None:
    with pytest.raises(IntegrityError, match="not ours"):
        open_sealed(
            sealed(), recipient_private_key=X25519PrivateKey.generate(), trusted_signers=TRUSTED
        )


def test_seal_refuses_another_gateways_metadata() -> None:
    with pytest.raises(EnvelopeError):
        sealed(envelope(metadata(gateway_id="gw-2")))


def test_schema_has_no_text_or_bytes_fields() -> None:
    allowed = {
        "str", "float", "int", "str | None", "tuple[TagSpan, ...]", "tuple[str, ...]", "Kind",
        "Body", "DeletionReason", "CorrectionAction",
    }  # fmt: skip
    classes = (Envelope, TagSpan, *BODY_TYPES.values())
    for cls in classes:
        for field in dataclasses.fields(cls):
            assert field.type in allowed, (cls.__name__, field.name, field.type)


@pytest.mark.parametrize(
    "changes",
    [
        {"rep_id": "the customer said her card number is 4111 1111"},
        {"site": "Main Street store"},
        {"badge_id": b"badge-1"},
        {"conversation_id": ""},
        {"tags": (TagSpan("pricing", 0, 1, 0.5),) * (MAX_TAGS + 1)},
        {"tags": [TagSpan("pricing", 0, 1, 0.5)]},
        {"speech_s": float("nan")},
        {"ended_at": 1.0},
        {"gaps": -1},
        {"gaps": True},
        {"gateway_id": "gw/1"},
    ],
)
def test_free_text_bytes_and_nonsense_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(EnvelopeError):
        metadata(**changes)


@pytest.mark.parametrize(
    "args",
    [("I will mention the price", 0, 1, 0.5), ("pricing", 2, 1, 0.5), ("pricing", 0, 1, 1.5)],
)
def test_bad_tag_spans_are_refused(args: tuple[typing.Any, ...]) -> None:
    with pytest.raises(EnvelopeError):
        TagSpan(*args)


def test_size_cap() -> None:
    tags = tuple(TagSpan("t" * 64, 1e9, 1e9, 0.123456789) for _ in range(MAX_TAGS))
    with pytest.raises(EnvelopeError, match="limit"):
        sealed(envelope(metadata(tags=tags)))


def test_strict_parsing_of_the_plaintext() -> None:
    good = json.loads(to_json(envelope()))
    assert from_json(to_json(envelope())) == envelope()
    bad_documents = [
        {**good, "transcript": "hello"},
        {**good, "body": {**good["body"], "audio": "AAAA"}},
        {k: v for k, v in good.items() if k != "created_at"},
        {**good, "kind": "deletion"},
        {**good, "body": {**good["body"], "tags": [{"tag": "x", "start": 0, "end": 1}]}},
        {**good, "body": {**good["body"], "tags": "pricing"}},
        {**good, "created_at": "yesterday"},
    ]
    for document in bad_documents:
        with pytest.raises(EnvelopeError):
            from_json(json.dumps(document).encode())
    with pytest.raises(EnvelopeError, match="duplicate"):
        from_json(b'{"kind":"conversation","kind":"conversation"}')
    with pytest.raises(EnvelopeError):
        from_json(b"[" * 100_000)


def test_topics() -> None:
    assert upstream_topic("gw-1") == "salestag/v1/hq/gw-1/envelopes"
    assert topic_gateway_id("salestag/v1/hq/gw-1/envelopes") == "gw-1"
    assert topic_gateway_id("salestag/v1/hq/gw-1/other") is None
    with pytest.raises(ValueError):
        upstream_topic("#")


identifiers = st.from_regex(ID_PATTERN, fullmatch=True)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
tag_spans = st.builds(
    lambda tag, a, b, c: TagSpan(tag, min(a, b), max(a, b), c),
    st.from_regex(TAG_PATTERN, fullmatch=True),
    seconds,
    seconds,
    st.floats(min_value=0, max_value=1),
)
metadatas = st.builds(
    lambda ids, t0, span, dur, speech, tags, gaps: ConversationMetadata(
        ids[0], "gw-1", ids[1], ids[2], ids[3], t0, t0 + span, dur, speech, tuple(tags), gaps
    ),
    st.lists(identifiers, min_size=4, max_size=4),
    st.floats(min_value=0, max_value=4e9, allow_nan=False),
    seconds,
    seconds,
    seconds,
    st.lists(tag_spans, max_size=20),
    st.integers(min_value=0, max_value=10_000),
)


@settings(max_examples=60, deadline=None)
@given(metadatas, identifiers, st.floats(min_value=0, max_value=4e9))
def test_round_trip_property(body: ConversationMetadata, key: str, created: float) -> None:
    env = Envelope("conversation", key, created, body)
    assert from_json(to_json(env)) == env
    assert open_sealed(sealed(env), recipient_private_key=TENANT, trusted_signers=TRUSTED) == env


def doc_blocks() -> dict[str, str]:
    text = (ROOT / "docs" / "envelope.md").read_text()
    pattern = r"<!-- file: tests/data/envelope-vector/([\w.-]+) -->\n```[a-z]*\n(.*?)```\n"
    return dict(re.findall(pattern, text, re.S))


def test_doc_shows_the_vector_files() -> None:
    blocks = doc_blocks()
    names = {"keys.json", "tenant-private.pem", "tenant-public.pem", "gateway-signer.json",
             "sealed.json", "plaintext.json", "other-kinds.jsonl",
             "audit-checkpoint.json"}  # fmt: skip
    assert set(blocks) == names
    for name, block in blocks.items():
        assert (VECTOR / name).read_text() == block, f"docs/envelope.md is stale for {name}"


def test_documented_vector_opens(tmp_path: Path) -> None:
    shutil.copy(VECTOR / "tenant-private.pem", tmp_path / "tenant.pem")
    (tmp_path / "tenant.pem").chmod(0o600)
    private_key = load_tenant_private_key(tmp_path / "tenant.pem")
    signer = load_signer(VECTOR / "gateway-signer.json")
    keys = json.loads((VECTOR / "keys.json").read_text())
    blob = (VECTOR / "sealed.json").read_text().rstrip("\n").encode()
    env = open_sealed(blob, recipient_private_key=private_key,
                      trusted_signers={signer.key_id: signer.public_key})  # fmt: skip
    assert to_json(env) == (VECTOR / "plaintext.json").read_text().rstrip("\n").encode()
    assert bytes.fromhex(keys["tenant_private_key_hex"]) == private_key.private_bytes_raw()
    assert keys["tenant_key_id"] == x25519_key_id(private_key)
    assert keys["gateway_key_id"] == signer.key_id
    raw_seed = bytes.fromhex(keys["gateway_signing_seed_hex"])
    assert GatewayIdentity(Ed25519PrivateKey.from_private_bytes(raw_seed), "gw-test-01").key_id == (
        signer.key_id
    )
    assert keys["hpke_info"].encode() == hpke_info(keys["gateway_id"])
    assert json.loads(blob)["hdr"] == keys["header_b64url"]


def test_documented_further_kinds_and_checkpoint_signature() -> None:
    lines = (VECTOR / "other-kinds.jsonl").read_text().splitlines()
    kinds = [from_json(line.encode()) for line in lines]
    assert [e.kind for e in kinds] == ["deletion", "correction", "audit_checkpoint", "health"]
    assert [to_json(e).decode() for e in kinds] == lines
    vector = json.loads((VECTOR / "audit-checkpoint.json").read_text())
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(vector["audit_public_key_hex"]))
    checkpoint = kinds[2].body
    assert isinstance(checkpoint, AuditCheckpoint)
    data = checkpoint_signing_input(checkpoint.gateway_id, checkpoint.seq, checkpoint.head_hash,
                                    checkpoint.entries, checkpoint.at)
    assert data == vector["signing_input"].encode()
    assert checkpoint.signature == vector["signature_hex"]
    key.verify(bytes.fromhex(vector["signature_hex"]), data)


def other_kinds() -> list[Envelope]:
    return [
        deletion_envelope(DeletionNotice(("c-1", "c-2"), "subject_request", 1.7e9, "gw-1",
                                         "0f" * 32)),
        deletion_envelope(DeletionNotice(("c-3",), "retention", 1.7e9, "gw-1")),
        correction_envelope(Correction("c-1", "gw-1", "pricing", "change", 1.0, 2.5,
                                       "financing", "user-7", 1.7e9)),
        correction_envelope(Correction("c-1", "gw-1", "pricing", "add", 1.0, 2.5, None,
                                       "user-7", 1.7e9)),
        audit_checkpoint_envelope(AuditCheckpoint("gw-1", 4, "ab" * 32, 120, 1.7e9, "cd" * 64)),
        health_envelope(GatewayHealth("gw-1", 1.7e9, 3600.0, 12, 42.5, 3, 2)),
    ]


@pytest.mark.parametrize("env", other_kinds(), ids=lambda e: e.kind)
def test_every_kind_round_trips_sealed(env: Envelope) -> None:
    assert from_json(to_json(env)) == env
    assert open_sealed(sealed(env), recipient_private_key=TENANT, trusted_signers=TRUSTED) == env


def test_idempotency_keys_are_stable_per_fact() -> None:
    first, second = other_kinds(), other_kinds()
    assert [e.idempotency_key for e in first] == [e.idempotency_key for e in second]
    assert len({e.idempotency_key for e in first}) == len(first)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("deletion", {"conversation_ids": ["c-1"], "reason": "because", "requested_at": 1.0,
                      "gateway_id": "gw-1", "subject_ref": None}),
        ("deletion", {"conversation_ids": ["c-1"], "reason": "opt_out", "requested_at": 1.0,
                      "gateway_id": "gw-1", "subject_ref": "jane.doe@example.com"}),
        ("deletion", {"conversation_ids": [], "reason": "opt_out", "requested_at": 1.0,
                      "gateway_id": "gw-1", "subject_ref": None}),
        ("deletion", {"conversation_ids": ["c-1"], "reason": "opt_out", "requested_at": 1.0,
                      "gateway_id": "gw-1"}),
        ("correction", {"conversation_id": "c-1", "gateway_id": "gw-1", "tag": "pricing",
                        "action": "change", "start": 1.0, "end": 2.0, "new_tag": None,
                        "corrected_by": "u-1", "corrected_at": 1.0}),
        ("correction", {"conversation_id": "c-1", "gateway_id": "gw-1", "tag": "pricing",
                        "action": "add", "start": 1.0, "end": 2.0, "new_tag": None,
                        "corrected_by": "the manager said so", "corrected_at": 1.0}),
        ("audit_checkpoint", {"gateway_id": "gw-1", "seq": 1, "head_hash": "xyz", "entries": 1,
                              "at": 1.0, "signature": "cd" * 64}),
        ("audit_checkpoint", {"gateway_id": "gw-1", "seq": -1, "head_hash": "ab" * 32,
                              "entries": 1, "at": 1.0, "signature": "cd" * 64}),
        ("health", {"gateway_id": "gw-1", "at": 1.0, "uptime_s": 1.0, "outbox_backlog": 0,
                    "disk_free_pct": 140.0, "conversations_pending": 0, "badges_online": 0}),
        ("health", {"gateway_id": "gw-1", "at": 1.0, "uptime_s": 1.0, "outbox_backlog": 0,
                    "disk_free_pct": 40.0, "conversations_pending": 0, "badges_online": 0,
                    "note": "free text"}),
        ("conversation", {"gateway_id": "gw-1", "at": 1.0, "uptime_s": 1.0, "outbox_backlog": 0,
                          "disk_free_pct": 40.0, "conversations_pending": 0,
                          "badges_online": 0}),
        ("transcript", {"text": "hello"}),
    ],
)
def test_other_kinds_are_parsed_strictly(kind: str, body: dict[str, object]) -> None:
    document = {"kind": kind, "idempotency_key": "k-1", "created_at": 1.0, "body": body}
    with pytest.raises(EnvelopeError):
        from_json(json.dumps(document).encode())


def test_kind_and_body_must_match() -> None:
    health = GatewayHealth("gw-1", 1.0, 1.0, 0, 50.0, 0, 0)
    with pytest.raises(EnvelopeError):
        Envelope("conversation", "k", 1.0, health)
