"""Which speaker a tag can come from.

An objection, a competitor mention, a buying signal or an opt-out is the customer's; the
recording disclosure is the rep's. When the speaker is known (two-channel badges) a tag from the
other side is dropped: a rep saying "unlike Tesla, we ..." is not a competitor mention. When the
speaker is unknown every tag stands.
"""

from __future__ import annotations

CUSTOMER_TAGS = ("objection.", "competitor.mention", "buying_signal", "consent.opt_out")
REP_TAGS = ("consent.disclosure",)


def allowed(tag: str, speaker: str) -> bool:
    """Can ``speaker`` earn ``tag``?"""
    if speaker == "rep":
        return not tag.startswith(CUSTOMER_TAGS)
    if speaker == "customer":
        return not tag.startswith(REP_TAGS)
    return True
