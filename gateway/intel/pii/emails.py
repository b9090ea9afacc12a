"""E-mail addresses, written ("jane.doe@example.com") or read out ("jane dot doe at example
dot com")."""

from __future__ import annotations

import re

from gateway.intel.pii.spans import Finding, Token, inside, tokens

_WRITTEN_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,}(?![A-Za-z0-9-])",
    re.ASCII,
)
_EMAIL_SYMBOLS = {
    "dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-", "at": "@",
}  # fmt: skip
_TLDS = frozenset(
    "com net org edu gov mil io co us uk ca au de fr nl es it info biz me tv app dev ai ly "
    "email online site tech".split()
)
_NOT_LOCAL = frozenset(
    "me us you him her them it i we they he she a an the and or is are was be am look "
    "here there online website site web page that this out home work in on up visit find "
    "go check available listed email mail contact reach call".split()
)


def find_emails(text: str) -> list[Finding]:
    """Written e-mail addresses, then spoken ones in the rest of the text."""
    found = [
        Finding("email", m.start(), m.end(), m.group().lower())
        for m in _WRITTEN_EMAIL.finditer(text)
    ]
    taken = [(f.start, f.end) for f in found]
    words = [t for t in tokens(text) if not inside(t, taken)]
    index = 0
    while index < len(words):
        spoken = _spoken_email(text, words, index)
        if spoken is None:
            index += 1
            continue
        finding, index = spoken
        found.append(finding)
    return found


def _symbol(token: Token) -> str:
    """The e-mail character a token stands for, or '' for an ordinary word."""
    if token.text in "@._-" and len(token.text) == 1:
        return token.text
    return _EMAIL_SYMBOLS.get(token.low, "")


def _is_label(token: Token) -> bool:
    return token.text[0].isalnum() and not _symbol(token)


def _adjacent(text: str, left: Token, right: Token) -> bool:
    gap = text[left.end : right.start]
    return len(gap) <= 3 and all(ch.isspace() or ch == "," for ch in gap)


def _spoken_email(text: str, words: list[Token], at: int) -> tuple[Finding, int] | None:
    """Recognise "<local> at <domain> dot <tld>" around the token at index ``at``."""
    if _symbol(words[at]) != "@":
        return None
    # Domain: label ("." label)+ ending in a known top-level domain.
    labels: list[str] = []
    end = at
    probe = at + 1
    while probe < len(words) and _is_label(words[probe]) and (
        _adjacent(text, words[probe - 1], words[probe])
    ):
        labels.append(words[probe].low)
        end = probe
        nxt = probe + 1
        if nxt + 1 < len(words) and _symbol(words[nxt]) == "." and (
            _adjacent(text, words[probe], words[nxt])
        ):
            probe = nxt + 1
            continue
        break
    while len(labels) >= 2 and labels[-1] not in _TLDS:
        labels.pop()
        end -= 2
    if len(labels) < 2:
        return None
    # Local part: label (connector label)* before the "at".
    first = at - 1
    if first < 0 or not _is_label(words[first]) or not _adjacent(text, words[first], words[at]):
        return None
    local = [words[first].low]
    while first >= 2 and _symbol(words[first - 1]) in {".", "_", "-"} and _is_label(
        words[first - 2]
    ) and _adjacent(text, words[first - 2], words[first - 1]):
        local[:0] = [words[first - 2].low, _symbol(words[first - 1])]
        first -= 2
    while first >= 1 and len(local[0]) == 1 and len(words[first - 1].text) == 1 and (
        words[first - 1].text.isalnum()
    ):
        first -= 1
        local.insert(0, words[first].low)
    if len(local) == 1 and local[0] in _NOT_LOCAL:
        return None
    address = "".join(local) + "@" + ".".join(labels)
    return Finding("email", words[first].start, words[end].end, address), end + 1
