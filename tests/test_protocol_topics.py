"""The badge topic tree."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol.errors import TopicError
from gateway.protocol.topics import BadgeTopic, TopicKind, badge_topic, parse_topic, subscription

ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)


@given(ids, ids, st.sampled_from(TopicKind))
def test_round_trip(site: str, badge_id: str, kind: TopicKind) -> None:
    topic = badge_topic(site, badge_id, kind)
    assert topic == f"salestag/v1/{site}/badges/{badge_id}/{kind.value}"
    assert parse_topic(topic) == BadgeTopic(site, badge_id, kind)


def test_kind_may_be_given_as_text() -> None:
    assert badge_topic("hq", "b-01", "status") == "salestag/v1/hq/badges/b-01/status"
    assert parse_topic("salestag/v1/hq/badges/b-01/ack").kind is TopicKind.ACK


def test_subscription_covers_inbound_kinds_only() -> None:
    assert subscription("store_12") == [
        "salestag/v1/store_12/badges/+/audio",
        "salestag/v1/store_12/badges/+/control",
        "salestag/v1/store_12/badges/+/status",
    ]


@pytest.mark.parametrize("topic", [
    "",
    "/",
    "salestag/v1/hq/badges/b-01",
    "salestag/v1/hq/badges/b-01/audio/extra",
    "/salestag/v1/hq/badges/b-01/audio",
    "salestag/v1/hq/badges/b-01/audio/",
    "salestag/v2/hq/badges/b-01/audio",
    "SalesTag/v1/hq/badges/b-01/audio",
    "salestag/v1/hq/badge/b-01/audio",
    "salestag/v1/hq/badges/b-01/video",
    "salestag/v1/hq/badges/b-01/Audio",
    "salestag/v1/hq/badges//audio",
    "salestag/v1//badges/b-01/audio",
    "salestag/v1/hq/badges/+/audio",
    "salestag/v1/#",
    "salestag/v1/hq/badges/b.01/audio",
    "salestag/v1/hq/badges/b 01/audio",
    "salestag/v1/hq/badges/b\u00e901/audio",
    "salestag/v1/hq/badges/" + "b" * 65 + "/audio",
    "$SYS/broker/uptime",
])
def test_foreign_topics_are_refused(topic: str) -> None:
    with pytest.raises(TopicError) as caught:
        parse_topic(topic)
    assert caught.value.reason == "bad_topic"


@pytest.mark.parametrize(("site", "badge_id", "kind"), [
    ("hq", "+", "audio"),
    ("#", "b-01", "audio"),
    ("", "b-01", "audio"),
    ("hq", "b/01", "audio"),
    ("hq", "b-01", "video"),
])
def test_bad_parts_cannot_be_built(site: str, badge_id: str, kind: str) -> None:
    with pytest.raises(TopicError):
        badge_topic(site, badge_id, kind)


def test_bad_site_has_no_subscription() -> None:
    with pytest.raises(TopicError):
        subscription("a/b")


@given(st.text(max_size=120))
def test_arbitrary_text_raises_only_topic_errors(topic: str) -> None:
    try:
        parsed = parse_topic(topic)
    except TopicError:
        return
    assert badge_topic(parsed.site, parsed.badge_id, parsed.kind) == topic
