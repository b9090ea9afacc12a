"""E-mail addresses, written ("jane.doe@example.com") or read out ("jane dot doe at example
dot com")."""

from __future__ import annotations

import re
from dataclasses import replace

from gateway.intel.distance import edit_distance
from gateway.intel.pii.spans import CUE_START, Finding, Token, inside, merged, tokens

# Not right after a digit group's comma: no address is cut out of a number ("1,000x.com").
NOT_IN_A_NUMBER = r"(?<![0-9],)"
_WRITTEN_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])" + NOT_IN_A_NUMBER
    + r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,}(?![A-Za-z0-9\[-])",  # "[": as before a digit that became "[PHONE]"
    re.ASCII,
)
_EMAIL_SYMBOLS = {
    "dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-", "at": "@",
    "under": "_", "under score": "_",  # as the recognizer splits or clips "underscore"
}  # fmt: skip
# Said for "at" before a domain the recognizer wrote out: "Alex and Northwind.io".
_MISHEARD_AT = frozenset({"and", "had", "add"})
_TLDS = frozenset(
    "com net org edu gov mil io co us uk ca au de fr nl es it info biz me tv app dev ai ly "
    "email online site tech".split()
)
_NOT_LOCAL = frozenset(
    "me us you him her them it i we they he she a an the and or is are was be am look "
    "here there online website site web page that this out home work in on up visit find "
    "go check available listed email mail contact reach call to for from with by my our your "
    "their his its it's that's address send write please just so also try use copy".split()
)
_TLD = "(?:" + "|".join(sorted(_TLDS)) + ")"
_DOMAIN = re.compile(rf"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.{_TLD}")
# "dot" spoken into a word of a domain: "gmaildotcom", "gmaildot", "dotcom".
_GLUED_DOT = re.compile(rf"(?<=[a-z0-9])dot(?={_TLD}$)|(?<=[a-z0-9])dot$|^dot(?=[a-z])")
_ANNOUNCED_DOMAIN = re.compile(
    # Not a placeholder's word, nor across a placeholder: "[EMAIL]", "email [ADDRESS] x.com".
    CUE_START + r"(?:e-?mail|address|underscore)\b(?:[^\w\[]+\w+){0,3}?[^\w\[]+"
    + NOT_IN_A_NUMBER
    + rf"(?P<domain>[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.(?i:{_TLD}))(?![A-Za-z0-9\[-])",
    re.IGNORECASE | re.ASCII,
)
# "Write to" (also heard "right to") or "send it to" a name and a written domain: the name and
# the domain of an address whose "at" was lost ("Right to Riven Raynet, beproofing.net").
_ADDRESSED = re.compile(
    CUE_START + r"(?:write|right|send\s+(?:it|this|that|them))\s+to\s+"
    rf"(?P<address>(?:(?P<name>[A-Za-z][A-Za-z'-]*[\s,]+){{1,2}})"
    rf"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.(?i:{_TLD}))(?![A-Za-z0-9\[.-])",
    re.IGNORECASE | re.ASCII,
)
# Mail providers: their domain is only ever said as part of somebody's address, so it is
# hidden with whatever is glued before it even when the "at" and the name were lost ("You
# steam over that hotmail.com").
_NAME_PART = rf"(?![A-Za-z0-9._-]*\.{_TLD}(?![A-Za-z0-9]))[A-Za-z0-9._-]+"
_PROVIDER_DOMAIN = re.compile(
    # "Ava and iCloud.com": "at" misheard; a name of up to three words ("Patel 70 well")
    # (no written domain is a word of the name: "x.com call me at outlook.com" holds two)
    # (the name starts a word: "pm@x.comfive and outlook.com" holds no name "comfive")
    r"(?:(?<![A-Za-z0-9'._@-])(?P<name>(?:" + _NAME_PART + r"\s+){0,2}" + _NAME_PART
    + r")\s+(?:at|and)\s+)?"
    r"(?P<domain>(?<![A-Za-z0-9.@_-])[A-Za-z0-9._-]*?(?:g[\s-]?mail|googlemail|yahoo"
    r"|hot\s?mail|out\s?look|aol|i[\s-]?cloud|proton\s?mail|proton|comcast|msn|ymail|gmx"
    r"|e-?mail|female)"  # "gmail" as tiny.en writes it in noise
    # "dot com" heard as "not come": only after a provider's name
    r"(?:\.(?:com|net|me)|\s+dot\s+(?:com|net|me)|,?\s+not\s+(?:com|come|calm|net)))\b",
    re.IGNORECASE | re.ASCII,
)
# A word, then "com", "net" or "org" (or "come" after a word said for "dot"), at most two
# words said for "dot" between: a provider's domain when the word is a provider's name
# misheard (see _misheard_providers), with the name said before an "at" or "and".
_PROVIDER_SHAPED = re.compile(
    r"(?:(?<![A-Za-z0-9'._@-])(?P<name>(?:" + _NAME_PART + r"\s+){0,2}" + _NAME_PART
    + r")\s+(?:at|and)\s+)?(?<![A-Za-z0-9.@_-])(?P<domain>(?P<word>[A-Za-z]{4,})"
    r",?\s+(?:(?:dot|not|that|to|the|on)\s+){0,2}(?P<tld>com|come|net|org))\b",
    re.IGNORECASE | re.ASCII,
)
# Mail providers whose name the recognizer mishears ("hotmate", "yahu"), with the letters a
# misheard name may differ by; "email" and "mail" are words, never a misheard "gmail".
_PROVIDERS = {"gmail": 1, "yahoo": 1, "hotmail": 2, "outlook": 2, "icloud": 1}
_PROVIDER_LOOKALIKES = frozenset({"email", "mail"})
# Ordinary words a provider's name is, or is near: a domain only after a name and "at" or
# "and" ("Ben and outlook to come"; "the market outlook to come" is no address).
_WORD_PROVIDERS = frozenset({"outlook", "outlooks", "cloud", "clouds"})
_TLD_SAID = re.compile(r"\b(?:com|come|net|org)\b", re.IGNORECASE)
_LETTERS = re.compile(r"[A-Za-z]")
# Cues of an address after which a name may be left apart from its domain.
_LOCAL_CUE = re.compile(
    CUE_START + r"(?:copy|send\s+(?:it|this|that|them)(?:\s+over)?\s+to|write\s+to|right\s+to"
    r"|e-?mail(?:\s+(?:is|me\s+at|it\s+to))?|address\s+is)\b",
    re.IGNORECASE,
)
_LOCAL_REACH = 60
# Cues after which the sentence spells out somebody's address: "my e-mail is", "e-mail the quote
# to", "address is", "copy", "send it to", "write to". A written domain a few garbled words
# after one is that address ("My work address is right on that greenfield.org"), unless it
# reads as a site ("our website acme.com", "the sunrun.com page", "sunrun.com is cheaper").
_ADDRESS_CUE = re.compile(
    CUE_START + r"(?:e-?mail(?:\s+address)?\s+is|e-?mail\s+(?:me|it|the\s+[a-z]+)\s+(?:at|to)"
    r"|address\s+is|copy|send\s+(?:it|this|that|them)(?:\s+over)?\s+to|write\s+to)\b",
    re.IGNORECASE,
)
_MAX_CUE_WORDS = 8
_DASHED_AT = re.compile(r"[a-z0-9]-at-[a-z0-9]")
# A domain said with its "dot" heard as "not" or "that": "proofing not net", "energy dot com".
_SPOKEN_DOMAIN = re.compile(
    r"(?<![A-Za-z0-9.@_-])[A-Za-z][A-Za-z0-9_-]*,?\s+(?:dot|not|that)\s+(?:com|net|org)\b",
    re.IGNORECASE | re.ASCII,
)
_MISHEARD_DOT = re.compile(r",?\s+(?:dot|not|that)\s+(?=(?:com|net|org)$)")
# A name (capitalised, not the first word) then "at" and up to three garbled words before such a
# domain: "Ruby Warden at the proof in Not Net". Without a name before the "at" it is a place:
# "We met at the expo dot com booth".
_NAME_AT_SPOKEN_DOMAIN = re.compile(
    r"(?<=[a-z,] )(?P<name>[A-Z][a-z]+[0-9]*)\s+at\s+(?P<domain>(?:[A-Za-z0-9'-]+\s+){0,3}?"
    r"[A-Za-z][A-Za-z0-9_-]*,?\s+(?:dot|not|that)\s+(?:com|net|org))\b",
    re.ASCII,
)
# A written domain, not capitalised as a brand is, right after "be" or "have to": the "at" of
# an address garbled into a verb ("you have to be proofing.net", "I had to look.com"); a site
# is named after other words ("It has to be cheaper than Sunrun.com", "I have acme.com open").
_AFTER_LOST_AT = re.compile(
    r"\b(?:be|(?:have|had|has)\s+to)\s+(?P<domain>(?<![A-Za-z0-9.@_-])[a-z][a-z0-9_-]*"
    rf"(?:\.[a-z0-9_-]+)*\.{_TLD})(?![A-Za-z0-9\[-]|\.[A-Za-z0-9])",
    re.IGNORECASE | re.ASCII,
)
_SITE_BEFORE = frozenset(
    "our your their website site web page link visit check see compare on from than like".split()
)
_SITE_AFTER = re.compile(
    r"\s*(?:page|site|website|store|booth|link|prices?|deals?|is|are|has|was|offers?|sells?)\b",
    re.IGNORECASE,
)
_BETWEEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.'_-]*")
_NAME_LIKE = re.compile(r"(?!I\b|I'|The\b|A\b)[A-Z][a-z]+[0-9]*|[A-Za-z]+\.[A-Za-z]+")
_SENTENCE_OR_PLACEHOLDER = re.compile(r"[.?!](?:\s|$)|[,\[@]")
_SENTENCE_END_OR_MARK = re.compile(r"[.?!](?:\s|$)|[\[@]")
_CLAUSE = frozenset("i i'll i'm we we'll you you'll they and but if when".split())
_MAX_NAME_GAP = 5
_NAME_WORD = re.compile(r"[A-Za-z0-9._-]+")
_PROVIDER_HINT = re.compile(r"mail|male|yahoo|look|aol|cloud|proton|comcast|msn|gmx", re.IGNORECASE)
_DOTTED = re.compile(
    rf"(?<![A-Za-z0-9.@_-])[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.(?i:{_TLD})"
    r"(?![A-Za-z0-9\[-]|\.[A-Za-z0-9])",
    re.ASCII,
)
_SPOKEN_DOT = re.compile(r",?\s+[dn]ot\s+")
_NOT_DOMAIN = frozenset("the a an my our your his her their this that".split())
_MAX_DOMAIN_TOKENS = 9
_MAX_GLUED_WORDS = 3
_MAX_LOCAL_WORDS = 3


def find_emails(text: str) -> list[Finding]:
    """Written e-mail addresses, then spoken ones in the rest of the text."""
    found = [
        Finding("email", m.start(), m.end(), m.group().lower())
        for m in _WRITTEN_EMAIL.finditer(text)
    ]
    taken = [(f.start, f.end) for f in found]
    words = _joined(text, [t for t in tokens(text) if not inside(t, taken)])
    index = 0
    while index < len(words):
        spoken = _spoken_email(text, words, index)
        if spoken is None:
            index += 1
            continue
        finding, index = spoken
        found.append(finding)
    for extra in (_announced_domains(text), _provider_domains(text), _misheard_providers(text),
                  _glued_addresses(text),
                  _named_spoken_domains(text), _domains_after_cue(text),
                  _domains_after_lost_at(text)):
        for finding in extra:
            found = _with_widest(found, finding)
    # a name taken back before an address may reach into another address ("quote at
    # Lucas.gov that Icloud.com"): the two are joined
    return merged([_with_name_before(text, f) for f in found])


def _with_widest(found: list[Finding], finding: Finding) -> list[Finding]:
    """``found`` with ``finding`` added where it overlaps nothing, or put in place of the
    findings it overlaps when it covers them all: a provider's address with its name ("price
    and outlook.com") wins over its bare domain found after an earlier cue."""
    overlapping = [f for f in found if f.start < finding.end and finding.start < f.end]
    if not overlapping:
        return [*found, finding]
    if all(finding.start <= f.start and f.end <= finding.end for f in overlapping) and any(
        (f.start, f.end) != (finding.start, finding.end) for f in overlapping
    ):
        return [f for f in found if f not in overlapping] + [finding]
    return found


def _with_name_before(text: str, finding: Finding) -> Finding:
    """``finding`` with the name the recognizer left a few words before it, after a cue of an
    address ("Please copy Murphy for the 7 at email.com", "My e-mail is max.mor for that
    gmail.com"): from the first name-like word (capitalised, or dotted like "max.mor") after
    the cue; never across a sentence end, a comma, a placeholder or a new clause ("I'll",
    "we"), nor to an address written out whole."""
    if "@" in text[finding.start : finding.end]:
        return finding  # written out whole: "jo@x.com"
    cues = list(_LOCAL_CUE.finditer(text, max(0, finding.start - _LOCAL_REACH), finding.start))
    if not cues:
        return finding
    cue = cues[-1]  # the nearest
    words = list(_BETWEEN.finditer(text, cue.end(), finding.start))
    if not words or _SENTENCE_OR_PLACEHOLDER.search(text, cue.end(), finding.start) or any(
        w.group().lower() in _CLAUSE for w in words
    ):
        return _with_name_after_cue(text, finding, cue)
    first = next((w for w in words if _NAME_LIKE.fullmatch(w.group())), None)
    if first is None or len(words) - words.index(first) > _MAX_NAME_GAP:
        return finding
    return _with_name(finding, words[words.index(first) :])


def _with_name_after_cue(text: str, finding: Finding, cue: re.Match[str]) -> Finding:
    """``finding`` from the name said right after a cue of an address and cut off by a comma,
    the rest of the address garbled after it ("Send it to turner 40, I'd have to be
    groofing.net", "My email is Liam Andres, course to ask on mynenergy.com"): one to three
    words, one of them a name (capitalised, dotted or with a digit), at most
    :data:`_MAX_CUE_WORDS` words after the one comma; never across a sentence end or a
    placeholder, nor with a name after "and" ("Send it to Tom and I will check gmail.com")."""
    comma = text.find(",", cue.end(), finding.start)
    if comma < 0 or text.count(",", comma + 1, finding.start) or _SENTENCE_END_OR_MARK.search(
        text, cue.end(), finding.start
    ):
        return finding  # "Send it to Tom, Ann, Bo and me at x.com": a list of names
    name = list(_BETWEEN.finditer(text, cue.end(), comma))
    if not 1 <= len(name) <= _MAX_LOCAL_WORDS or len(
        _BETWEEN.findall(text, comma, finding.start)
    ) > _MAX_CUE_WORDS or not any(
        _NAME_LIKE.fullmatch(w.group()) or any(ch.isdigit() for ch in w.group()) for w in name
    ) or any(w.group().lower() in _CLAUSE or w.group().lower() in _NOT_LOCAL for w in name):
        return finding
    return _with_name(finding, name)


def _with_name(finding: Finding, name: list[re.Match[str]]) -> Finding:
    """``finding`` (a domain, or an address) widened back to the words of ``name`` and read
    as their address: "Murphy for the 7" + "email.com" -> "murphyforthe7@email.com"."""
    user = "".join(w.group().lower() for w in name)
    address = user + (finding.normalized if "@" in finding.normalized else f"@{finding.normalized}")
    return replace(finding, start=name[0].start(), normalized=address)


def _announced_domains(text: str) -> list[Finding]:
    """What the recognizer glued into one written domain ("rd7d2matteamail.com") shortly after
    "email", "address" or "underscore": the whole address, with its "at" lost; and a name
    with a written domain after "write to" or "send it to"."""
    found = [
        Finding("email", m.start("domain"), m.end("domain"), m.group("domain").lower())
        for m in _ANNOUNCED_DOMAIN.finditer(text)
    ]
    return found + [
        Finding("email", m.start("address"), m.end("address"),
                "".join(ch for ch in m.group("address").lower() if ch not in " ,"))
        for m in _ADDRESSED.finditer(text)
        if not set(re.findall(r"[a-z']+", m.group("address").lower())) & _NOT_LOCAL
    ]


def _domains_after_cue(text: str) -> list[Finding]:
    """A written domain at most :data:`_MAX_CUE_WORDS` words after a cue of an address
    (:data:`_ADDRESS_CUE`) in the same sentence, with no placeholder or other address between:
    the address with its name and "at" garbled ("Email the quote to me and I do you have to be
    proofing.net"), also said with its "dot" misheard ("Please copy sun right energy not com").
    A domain named as a site stays ("Send it to our website acme.com")."""
    found: list[Finding] = []
    for cue in _ADDRESS_CUE.finditer(text):
        domains = [_DOTTED.search(text, cue.end()), _SPOKEN_DOMAIN.search(text, cue.end())]
        for m in sorted((d for d in domains if d), key=lambda d: d.start())[:1]:
            between = _BETWEEN.findall(text, cue.end(), m.start())
            if len(between) > _MAX_CUE_WORDS or _SENTENCE_END_OR_MARK.search(
                text, cue.end(), m.start()
            ):
                break
            before = between[-1].lower() if between else ""
            if before not in _SITE_BEFORE and not _SITE_AFTER.match(text, m.end()):
                found.append(Finding("email", m.start(), m.end(), _domain_said(m.group())))
            break
    return found


def _domains_after_lost_at(text: str) -> list[Finding]:
    """A written domain right after "be" or "have to" (:data:`_AFTER_LOST_AT`) that is not named
    as a site ("have to be sunrun.com prices"): an address whose name and "at" were garbled."""
    return [
        Finding("email", m.start("domain"), m.end("domain"), m.group("domain").lower())
        for m in _AFTER_LOST_AT.finditer(text)
        if m.group("domain")[0].islower() and not _SITE_AFTER.match(text, m.end())
    ]


def _named_spoken_domains(text: str) -> list[Finding]:
    """A name, "at" and a domain said with its "dot" misheard (:data:`_NAME_AT_SPOKEN_DOMAIN`):
    "Ryan Stone at the proof in that net"."""
    return [
        Finding("email", m.start(), m.end(),
                f"{m.group('name').lower()}@{_domain_said(m.group('domain'))}")
        for m in _NAME_AT_SPOKEN_DOMAIN.finditer(text)
    ]


def _domain_said(words: str) -> str:
    """A domain as said, written: "the proof in that net" -> "theproofin.net"."""
    return "".join(_MISHEARD_DOT.sub(".", words.lower()).replace(",", "").split())


def _glued_addresses(text: str) -> list[Finding]:
    """A written domain that is somebody's address with its "at" lost: a name's capital before
    two more labels ("Ethan.res.com" for "ethan reyes dot com") or two top-level domains in a
    row ("Lucas.prise.net.com", "Liam.co.io.com"); also an address the recognizer joined with
    dashes, its "at" among them ("not-stone-at-greenfield.org"). "Amazon.co.uk", "x.com.au"
    and "www.x.com" stay."""
    found: list[Finding] = []
    for m in _DOTTED.finditer(text):
        labels = m.group().split(".")
        lows = [label.lower() for label in labels]
        doubled = lows[-2] in _TLDS and len(lows[-1]) > 2  # "co.io.com", not "com.au"
        named = labels[0][0].isupper() and lows[-2] not in _TLDS and lows[0] != "www"
        dashed = _DASHED_AT.search(lows[0]) is not None
        if len(labels) >= 3 and (doubled or named) or dashed:
            found.append(Finding("email", m.start(), m.end(), m.group().lower()))
    return found


def _provider_domains(text: str) -> list[Finding]:
    """A mail provider's domain (also split: "I Cloud.com") and what is glued before it
    ("xgmaildotcom"), with the name before an "at" or "and" ("ava and icloud.com")."""
    found: list[Finding] = []
    if not _PROVIDER_HINT.search(text):  # the full pattern is slow to fail
        return found
    for m in _PROVIDER_DOMAIN.finditer(text):
        domain = "".join(_SPOKEN_DOT.sub(".", m.group("domain").lower()).replace(",", "").split())
        found.append(_provider_address(text, m, _name_words(text, m), domain))
    return found


def _misheard_providers(text: str) -> list[Finding]:
    """A mail provider's domain whose name the recognizer misheard by a letter or two and whose
    "dot" it heard as another word ("hotmate on the com", "outlook to come"), with the name
    before an "at" or "and": read as the provider's address (edit distance, see
    :data:`_PROVIDERS`)."""
    found: list[Finding] = []
    if not _TLD_SAID.search(text):  # the pattern is slow to fail
        return found
    for m in _PROVIDER_SHAPED.finditer(text):
        word, tld = m.group("word").lower(), m.group("tld").lower()
        provider = _provider_misheard(word)
        name = _name_words(text, m)
        dot_said = _LETTERS.search(text, m.end("word"), m.start("tld")) is not None
        if provider is None or word in _WORD_PROVIDERS and not name or (
            tld == "come" and not dot_said
        ):  # "the outlook, come spring": no address
            continue
        domain = f"{provider}.{'com' if tld == 'come' else tld}"
        found.append(_provider_address(text, m, name, domain))
    return found


def _provider_address(text: str, match: re.Match[str], name: list[re.Match[str]],
                      domain: str) -> Finding:
    """A provider's address found by ``match``: from its ``name`` words to the domain, or the
    domain alone when no name was heard."""
    if name:
        user = "".join(word.group().lower() for word in name)
        return Finding("email", name[0].start(), match.end(), f"{user}@{domain}")
    return Finding("email", match.start("domain"), match.end(), domain)


def _provider_misheard(word: str) -> str | None:
    """The mail provider ``word`` is, or is a mishearing of (as long as its name, give or take
    a letter, and within its :data:`_PROVIDERS` letters of it), if any."""
    if word in _PROVIDER_LOOKALIKES:
        return None
    return next(
        (name for name, limit in _PROVIDERS.items()
         if abs(len(word) - len(name)) <= 1 and edit_distance(word, name, limit) <= limit),
        None,
    )


def _name_words(text: str, match: re.Match[str]) -> list[re.Match[str]]:
    """The words of a provider address's name after the last ordinary word ("Right to
    Patel 70 well" -> "Patel 70 well"; "send it to" -> none)."""
    if match.group("name") is None:
        return []
    kept: list[re.Match[str]] = []
    for word in reversed(list(_NAME_WORD.finditer(text, match.start("name"), match.end("name")))):
        if word.group().lower() in _NOT_LOCAL:
            break
        kept.insert(0, word)
    return kept


def _joined(text: str, words: list[Token]) -> list[Token]:
    """``words`` with "under score" as one token."""
    out: list[Token] = []
    for token in words:
        if out and out[-1].low == "under" and token.low == "score" and (
            text[out[-1].end : token.start].isspace()
        ):
            token = Token("under score", out.pop().start, token.end)
        out.append(token)
    return out


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
    """Recognise "<local> at <domain> dot <tld>" around the token at index ``at``; an "at"
    heard as "and" counts before a written domain and after a one-word name."""
    misheard = words[at].low in _MISHEARD_AT
    if _symbol(words[at]) != "@" and not misheard:
        return None
    domain = _domain_after(text, words, at)
    local = _local_before(text, words, at)
    if local is None:
        return None
    if domain is None and not misheard and _article_before_written_domain(text, words, at) and (
        _name_like(text, words[local[1] : at])
    ):  # "Sure, Chloe at the Avo.com": an article heard before a written domain
        domain = _domain_after(text, words, at + 1)
    if domain is None:
        return None
    written = (text[words[at + 1].start : words[domain[1]].end],  # both written out, no
               text[words[local[1]].start : words[at - 1].end])  # spaces: "Lucas.2 and x.com"
    if misheard and (any(" " in part for part in written) or _DOMAIN.fullmatch(written[1].lower())):
        return None  # nor a domain before it: "sunrun.com and tesla.com" names two sites
    (name, end), (user, first) = domain, local
    if text.startswith("[", words[end].end):  # glued to a placeholder, as in the written form
        return None
    return Finding("email", words[first].start, words[end].end, f"{user}@{name}"), end + 1


def _article_before_written_domain(text: str, words: list[Token], at: int) -> bool:
    """True for "the" right after the "at" at index ``at`` and before a written label."""
    return at + 2 < len(words) and words[at + 1].low == "the" and _dotted(text, words[at + 2])


def _name_like(text: str, local: list[Token]) -> bool:
    """True for a user part that reads as a name, not an ordinary word: a capital not at the
    start of the text ("Sure, Chloe"), a digit ("toward 22") or a symbol ("m-rocks")."""
    return any(
        any(ch.isdigit() for ch in t.text) or _symbol(t) or t.text[0].isupper() and t.start > 0
        for t in local
    )


def _domain_after(text: str, words: list[Token], at: int) -> tuple[str, int] | None:
    """The domain spoken after the "at" at index ``at`` and the index of its last token: labels
    (up to three words glued, as in "summit roofing dot com") joined by dots, ending in a known
    top-level domain; "dot" may be glued to a word ("gmaildotcom", "gmaildot com")."""
    pieces: list[str] = []
    best: tuple[str, int] | None = None
    glued = 0
    probe = at + 1
    while probe < len(words) and probe - at <= _MAX_DOMAIN_TOKENS and (
        _adjacent(text, words[probe - 1], words[probe])
        and "," not in text[words[probe - 1].end : words[probe].start]  # "at 10 p.m., it"
    ):
        token = words[probe]
        symbol = _symbol(token)
        if symbol in {".", "-"}:
            pieces.append(symbol)
            glued = 0
        elif _is_label(token) and glued < _MAX_GLUED_WORDS and (
            _dotted(text, token) or len(token.text) > 1 and token.low not in _NOT_DOMAIN
        ):
            spelled = _GLUED_DOT.sub(".", token.low)
            pieces.append(spelled)
            glued = 0 if spelled.endswith(".") else glued + 1
        else:
            break
        name = "".join(pieces)
        if _DOMAIN.fullmatch(name):
            best = name, probe
        probe += 1
    return best


def _dotted(text: str, token: Token) -> bool:
    """True for a letter written next to a dot: "a.l.com" (the recognizer's "aol.com")."""
    return text[token.start - 1 : token.start] == "." or text[token.end : token.end + 1] == "."


def _spelled(token: Token, parts: list[str]) -> bool:
    """True for a letter in a spelled-out run: the "i" of "k o b r i e n"."""
    return len(token.text) == 1 and bool(parts) and len(parts[0]) == 1


def _digit_group(text: str, left: Token, right: Token) -> bool:
    """True for two tokens of one written number, "1" and "000five" in "1,000five": an
    address is never cut out of the middle of a number."""
    return text[left.end : right.start] == "," and text[left.end - 1].isdigit() and (
        text[right.start].isdigit())


def _local_before(text: str, words: list[Token], at: int) -> tuple[str, int] | None:
    """The user part spoken before the "at" at index ``at`` and the index of its first token:
    up to three words ("jane doe", "r green seventy two") and any initials, joined by nothing
    or by a spoken dot, underscore or dash."""
    parts: list[str] = []
    named = 0
    first = at
    while first >= 1 and _adjacent(text, words[first - 1], words[first]):
        token = words[first - 1]
        symbol = _symbol(token)
        if parts and not symbol and "," in text[token.end : words[first].start] and not (
            _digit_group(text, token, words[first])
        ):
            break  # "Right, info at ...": two words of a name are not split by a comma
        if symbol in {".", "_", "-"} and parts and first >= 2 and _is_label(words[first - 2]):
            parts.insert(0, symbol)
        elif _is_label(token) and (
            token.low not in _NOT_LOCAL or _spelled(token, parts)
        ):
            named += len(token.text) > 1
            if named > _MAX_LOCAL_WORDS:
                break
            parts.insert(0, token.low)
        else:
            break
        first -= 1
    if not parts:
        return None
    return "".join(parts), first


