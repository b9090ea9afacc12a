"""The badge topic tree: ``salestag/v1/<site>/badges/<badge_id>/<kind>``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from gateway.protocol.errors import TopicError

PREFIX = "salestag/v1"
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class TopicKind(StrEnum):
    """The last level of a badge topic."""

    AUDIO = "audio"  #: badge -> gateway, binary audio frames
    CONTROL = "control"  #: badge -> gateway, session start/stop JSON
    STATUS = "status"  #: badge -> gateway, retained online/offline JSON (and the last-will)
    ACK = "ack"  #: gateway -> badge: acknowledgements (see acks.py)


#: The kinds a gateway subscribes to; it publishes on ``ack`` and never reads it.
INBOUND = (TopicKind.AUDIO, TopicKind.CONTROL, TopicKind.STATUS)


@dataclass(frozen=True, slots=True)
class BadgeTopic:
    """A parsed badge topic."""

    site: str
    badge_id: str
    kind: TopicKind


def _check(name: str, value: object) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise TopicError(f"{name} must match {_ID.pattern}", reason="bad_topic")
    return value


def badge_topic(site: str, badge_id: str, kind: TopicKind | str) -> str:
    """Return the topic of one badge's ``kind`` messages; raises TopicError for bad ids."""
    try:
        kind = TopicKind(kind)
    except ValueError:
        raise TopicError("unknown topic kind", reason="bad_topic") from None
    return f"{PREFIX}/{_check('site', site)}/badges/{_check('badge_id', badge_id)}/{kind}"


def parse_topic(topic: str) -> BadgeTopic:
    """Parse a badge topic; raises TopicError for any other topic."""
    parts = topic.split("/") if isinstance(topic, str) else []
    if len(parts) != 6 or parts[0:2] != PREFIX.split("/") or parts[3] != "badges":
        raise TopicError("not a salestag/v1 badge topic", reason="bad_topic")
    try:
        kind = TopicKind(parts[5])
    except ValueError:
        raise TopicError("unknown topic kind", reason="bad_topic") from None
    return BadgeTopic(_check("site", parts[2]), _check("badge_id", parts[4]), kind)


def subscription(site: str) -> list[str]:
    """The topic filters a gateway of ``site`` subscribes to (QoS 1)."""
    site = _check("site", site)
    return [f"{PREFIX}/{site}/badges/+/{kind}" for kind in INBOUND]


def gateway_status_topic(site: str) -> str:
    """The retained presence topic of the site's gateway: online, or offline as its will."""
    return f"{PREFIX}/{_check('site', site)}/gateway/status"
