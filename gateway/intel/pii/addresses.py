"""Street addresses: "1234 Oak Street", "twelve thirty four Elm Avenue, apartment 5"."""

from __future__ import annotations

import re

from gateway.intel.pii.spans import Finding, Span

_NUMBER_WORD = (
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|thousand)"
)
_ORDINAL = (
    r"(?:[0-9]+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth|eleventh|twelfth)"
)
_STREET_SUFFIX = (
    r"(?:street|st|avenue|ave|road|rd|drive|dr|lane|ln|boulevard|blvd|court|ct|way|place|pl|"
    r"circle|cir|terrace|parkway|pkwy|highway|hwy|trail|square|loop|alley|row)"
)
_ADDRESS = re.compile(
    rf"""
    (?<![\w$.,])
    (?:[0-9]{{1,6}}[A-Za-z]?|{_NUMBER_WORD}(?:[\s-]+{_NUMBER_WORD}){{0,5}})  # house number
    \s+
    (?:(?:north|south|east|west|n|s|e|w)\.?\s+)?                            # direction
    (?:(?:[A-Z][A-Za-z'.-]*|(?i:{_ORDINAL}))\s+){{1,3}}?                      # street name
    (?i:{_STREET_SUFFIX})\b
    (?:,?\s+(?i:apartment|apt\.?|unit|suite|number|\#)\s*
       (?:[0-9]+[A-Za-z]?|[A-Za-z]\b|{_NUMBER_WORD}(?:[\s-]+{_NUMBER_WORD}){{0,2}}))?  # unit
    """,
    re.VERBOSE | re.IGNORECASE,
)
# The street name must hold a capitalised word or an ordinal (lower-case common words like
# "3 cars on the way" are not addresses); the case-blind pattern above cannot tell.
_ADDRESS_NAME = re.compile(rf"\s(?:[A-Z][a-z'.-]*|{_ORDINAL})\s")


def find_addresses(text: str, taken: list[Span]) -> list[Finding]:
    """Street addresses that do not overlap ``taken``."""
    found = []
    for whole in _ADDRESS.finditer(text):
        clash = min((s for s, e in taken if s < whole.end() and whole.start() < e), default=None)
        # "12 Oak Street, number 555 0199": the address stops before the phone number.
        match = whole if clash is None else _ADDRESS.match(text, whole.start(), clash)
        if match is None or not _ADDRESS_NAME.search(match.group()):
            continue
        found.append(Finding("address", match.start(), match.end(),
                             " ".join(match.group().lower().split())))
    return found
