"""Validated detection of personal data in text, and the share of records that contain any.

This is the data side of the leakage risk θ: ``θ_data`` is the share of a dataset's records with at least
one *validated* hit. A hit counts only when the value passes the check that its format defines, so an
arbitrary long number is not a card and a date-like number is not an identity number:

- e-mail addresses: a pragmatic RFC 5322 subset with a top-level domain of two letters or more;
- phone numbers: ``phonenumbers`` at ``Leniency.VALID``, numbers with a ``+`` country code from any
  country, national numbers from the regions of ``PHONE_REGIONS`` (China and the US by default);
- payment cards: 13 to 19 digits, a known issuer prefix with its lengths, and the Luhn check;
- IBANs: a registered country, its length, and the ISO 7064 MOD 97-10 check (ISO 13616);
- Chinese resident identity numbers (GB 11643): a GB/T 2260 province, a real birth date, and the
  ISO 7064 MOD 11-2 check character;
- public IP addresses, IPv4 and IPv6: globally routable unicast only.

Where spans of several kinds overlap, the most specific validated kind wins (an identity number over a
card or a phone number, an IBAN or a card over a phone number), so every character counts once.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

PII_TYPES = ("email", "phone", "payment_card", "iban", "cn_resident_id", "ip_address")
PII_TITLES = {
    "email": "E-mail address",
    "phone": "Phone number",
    "payment_card": "Payment card number",
    "iban": "IBAN",
    "cn_resident_id": "Chinese resident identity number",
    "ip_address": "Public IP address",
}

# Regions whose national numbers (written without a "+" country code) are recognised. Numbers written
# with a "+" country code are recognised for every country whatever this list holds.
PHONE_REGIONS = ("CN", "US")

# When spans overlap, the kind listed first is kept: the stricter its validation, the earlier.
_PRIORITY = ("cn_resident_id", "iban", "payment_card", "email", "ip_address", "phone")
_RANK = {kind: rank for rank, kind in enumerate(_PRIORITY)}


# --- Validators ---------------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of digits; spaces and dashes are ignored."""
    digits = digits.replace(" ", "").replace("-", "")
    if len(digits) < 2 or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# Issuer prefixes (IIN ranges) with the card lengths each network issues.
_CARD_NETWORKS: tuple[tuple[str, tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    ("visa", ((4, 4),), frozenset({13, 16, 19})),
    ("mastercard", ((51, 55), (2221, 2720)), frozenset({16})),
    ("amex", ((34, 34), (37, 37)), frozenset({15})),
    ("discover", ((6011, 6011), (65, 65), (644, 649)), frozenset(range(16, 20))),
    ("unionpay", ((62, 62),), frozenset(range(16, 20))),
    ("jcb", ((3528, 3589),), frozenset(range(16, 20))),
    ("diners", ((36, 36), (38, 38), (300, 305)), frozenset(range(14, 20))),
)


def card_network(digits: str) -> str | None:
    """The network whose issuer prefix and card lengths fit ``digits`` (no separators), else None."""
    for network, ranges, lengths in _CARD_NETWORKS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if low <= int(digits[:width]) <= high:
                return network
    return None


def payment_card_valid(text: str) -> bool:
    """A card number: 13 to 19 digits (spaces or dashes allowed), a known issuer prefix, the Luhn check."""
    digits = text.replace(" ", "").replace("-", "")
    if not (13 <= len(digits) <= 19 and digits.isascii() and digits.isdigit()):
        return False
    return card_network(digits) is not None and luhn_valid(digits)


# IBAN lengths of the countries in the SWIFT IBAN registry (ISO 13616).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")


def iban_valid(text: str) -> bool:
    """ISO 13616: a registered country, that country's length, and ``mod 97 == 1``.

    The printed form with spaces ("GB82 WEST 1234 5698 7654 32") and lower case are accepted.
    """
    iban = text.replace(" ", "").upper()
    if not iban.isascii() or not _IBAN_SHAPE.fullmatch(iban):
        return False
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    # Move the country and check digits to the end, letters become 10..35, the number mod 97 must be 1.
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# First two digits of the GB/T 2260 administrative division codes: the provinces, autonomous regions,
# municipalities, Taiwan, Hong Kong and Macau.
CN_PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54}
    | {61, 62, 63, 64, 65, 71, 81, 82}
)
_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK_CHARS = "10X98765432"
_CN_ID_EARLIEST_BIRTH = dt.date(1900, 1, 1)


def cn_resident_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits of a resident identity number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CHECK_CHARS[total % 11]


def cn_resident_id_valid(text: str, *, today: dt.date | None = None) -> bool:
    """An 18-character resident identity number (GB 11643-1999) whose parts all check out.

    17 digits and a check character (0-9 or X), a GB/T 2260 province, a birth date (YYYYMMDD, characters
    7 to 14) that exists and lies between 1900-01-01 and ``today``, and the MOD 11-2 check character.
    """
    if len(text) != 18 or not text.isascii() or not text[:17].isdigit():
        return False
    check = text[17].upper()
    if not (check.isdigit() or check == "X"):
        return False
    if int(text[:2]) not in CN_PROVINCE_CODES:
        return False
    try:
        birth = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    if not _CN_ID_EARLIEST_BIRTH <= birth <= (today or dt.date.today()):
        return False
    return cn_resident_id_check_char(text[:17]) == check


# Ranges that the standard library (3.11) still reports as global but that carry no host on the
# Internet: IPv6 documentation (RFC 9637) and the shared address space (RFC 6598).
_NOT_PUBLIC_NETWORKS = (ipaddress.ip_network("3fff::/20"), ipaddress.ip_network("100.64.0.0/10"))


def is_public_ip(text: str) -> bool:
    """True for a globally routable unicast IPv4 or IPv6 address.

    Private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback, link-local, shared, documentation,
    benchmarking, multicast, reserved and unspecified addresses are not public.
    """
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _NOT_PUBLIC_NETWORKS if network.version == address.version):
        return False
    return (
        address.is_global
        and not address.is_private
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_unspecified
        and not (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


_EMAIL_LOCAL = r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*"
_EMAIL_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
_EMAIL_RE = re.compile(
    rf"(?<![A-Za-z0-9_%+\-.])({_EMAIL_LOCAL})@({_EMAIL_DOMAIN})(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
)
# "icon@2x.png" is an image name: file extensions are not top-level domains.
_FILE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff"})


def email_valid(text: str) -> bool:
    """A whole string that is one e-mail address (the same rule ``find_pii`` applies)."""
    match = _EMAIL_RE.fullmatch(text)
    return match is not None and _email_accepted(match)


def _email_accepted(match: re.Match[str]) -> bool:
    local, domain = match.group(1), match.group(2)
    return (
        len(local) <= 64 and len(domain) <= 253 and domain.rsplit(".", 1)[1].lower() not in _FILE_EXTENSIONS
    )


def phone_valid(text: str, region: str | None = None) -> bool:
    """A valid personal phone number: with a "+" country code, or a national number of ``region``."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _PERSONAL_PHONE_TYPES


# --- Findings -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One validated hit: its kind, where it lies in the scanned text (``text[start:end] == value``)."""

    type: str
    start: int
    end: int
    value: str
    # The phone number in E.164 form, which its redaction needs (a national number lacks its country).
    normalized: str = field(default="", compare=False, repr=False)

    @property
    def title(self) -> str:
        return PII_TITLES[self.type]

    @property
    def redacted(self) -> str:
        """Enough of the value to recognise its kind, never the value itself."""
        return _REDACTORS[self.type](self)


def _mask(text: str, keep_first: int = 0) -> str:
    return text[:keep_first] + "*" * max(len(text) - keep_first, 0)


def _redact_email(finding: Finding) -> str:
    local, domain = finding.value.rsplit("@", 1)
    *labels, top_level = domain.split(".")
    masked_labels = [_mask(labels[0], 1), *(_mask(label) for label in labels[1:])]
    return f"{_mask(local, 1) if len(local) > 1 else '*'}@{'.'.join(masked_labels)}.{top_level}"


def _redact_phone(finding: Finding) -> str:
    number = phonenumbers.parse(finding.normalized or finding.value, None)
    national = str(phonenumbers.national_significant_number(number))
    return f"+{number.country_code} {'*' * (len(national) - 2)}{national[-2:]}"


def _redact_card(finding: Finding) -> str:
    digits = re.sub(r"\D", "", finding.value)
    return f"**** **** **** {digits[-4:]}"


def _redact_iban(finding: Finding) -> str:
    iban = finding.value.replace(" ", "").upper()
    hidden_groups = -(-(len(iban) - 8) // 4)  # between "CC**" and the last four, in groups of four
    return " ".join([f"{iban[:2]}**", *["****"] * hidden_groups, iban[-4:]])


def _redact_cn_resident_id(finding: Finding) -> str:
    return finding.value[:6] + "*" * 11 + finding.value[-1]


def _redact_ip(finding: Finding) -> str:
    address = ipaddress.ip_address(finding.value)
    if isinstance(address, ipaddress.IPv4Address):
        return ".".join([*finding.value.split(".")[:3], "x"])
    if address.ipv4_mapped is not None:
        return "::ffff:" + _redact_ip(Finding("ip_address", 0, 0, str(address.ipv4_mapped)))
    # Keep the routing prefix (/64), hide the interface identifier.
    groups = address.exploded.split(":")[:4]
    return ":".join([format(int(group, 16), "x") for group in groups] + ["x"] * 4)


_REDACTORS = {
    "email": _redact_email,
    "phone": _redact_phone,
    "payment_card": _redact_card,
    "iban": _redact_iban,
    "cn_resident_id": _redact_cn_resident_id,
    "ip_address": _redact_ip,
}


# --- Detection ----------------------------------------------------------------------------------------

_ANY_DIGIT = re.compile(r"\d")
# Candidates are plain ASCII digits bounded by anything that is not part of a longer token.
_CN_ID_RE = re.compile(r"(?<![A-Za-z0-9])[0-9]{17}[0-9Xx](?![A-Za-z0-9])")
# Digit groups separated by single spaces or dashes; a run longer than a card is searched for a card
# that starts and ends on group boundaries ("4111 1111 1111 1111 12/26").
_DIGIT_RUN_RE = re.compile(r"(?<![A-Za-z0-9_.,])[0-9]+(?:[ -][0-9]+)*(?![A-Za-z0-9_]|[.,][0-9])")
_DIGIT_GROUP_RE = re.compile(r"[0-9]+")
# IBAN candidates: country, check digits, then letters/digits optionally separated by single spaces.
_IBAN_RE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}")
_IPV4_RE = re.compile(r"(?<![A-Za-z0-9_.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?!\.?[0-9]|[A-Za-z0-9_])")
_IPV6_RE = re.compile(
    r"(?<![A-Za-z0-9_:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:[0-9]{1,3}\.){3}[0-9]{1,3})?"
    r"(?![A-Za-z0-9_:]|\.[0-9])"
)
# Four-part version numbers ("version 1.2.3.4", "v2.0.0.1") are not addresses.
_VERSION_BEFORE_RE = re.compile(r"(?:\bversion|\bver\.?|\bv|\bbuild|\brelease)\s*$", re.IGNORECASE)
# Toll-free, premium-rate, shared-cost and other service numbers belong to businesses, not to persons.
_PERSONAL_PHONE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.VOIP,
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
        phonenumbers.PhoneNumberType.PAGER,
    }
)
# Phone matching is slow; only texts with seven digits close together can hold a number.
_PHONE_GATE_RE = re.compile(r"[0-9](?:[\s().\-/]{0,3}[0-9]){6,}")
_DATE_RE = re.compile(r"[0-9]{4}([-./])[0-9]{1,2}\1[0-9]{1,2}|[0-9]{1,2}([-./])[0-9]{1,2}\2[0-9]{4}")


def _find_cn_resident_ids(text: str) -> Iterable[Finding]:
    for match in _CN_ID_RE.finditer(text):
        if cn_resident_id_valid(match.group()):
            yield Finding("cn_resident_id", match.start(), match.end(), match.group())


def _find_payment_cards(text: str) -> Iterable[Finding]:
    for run in _DIGIT_RUN_RE.finditer(text):
        groups = [(g.start(), g.end()) for g in _DIGIT_GROUP_RE.finditer(run.group())]
        if sum(end - start for start, end in groups) < 13:
            continue
        base = run.start()
        first = 0
        while first < len(groups):
            found = _card_in_groups(run.group(), groups, first)
            if found is None:
                first += 1
                continue
            start, end, last = found
            yield Finding("payment_card", base + start, base + end, run.group()[start:end])
            first = last + 1


def _card_in_groups(run: str, groups: list[tuple[int, int]], first: int) -> tuple[int, int, int] | None:
    """The longest card that starts at group ``first``: (start, end, index of its last group)."""
    best = None
    digits = 0
    for last in range(first, len(groups)):
        digits += groups[last][1] - groups[last][0]
        if digits > 19:
            break
        # A separated card is written in groups of 3 to 8 digits ("4111 1111 ...", "3782 822463 10005").
        if last > first and not all(3 <= end - start <= 8 for start, end in groups[first : last + 1]):
            break
        if digits >= 13:
            candidate = run[groups[first][0] : groups[last][1]]
            if payment_card_valid(candidate):
                best = (groups[first][0], groups[last][1], last)
    return best


def _find_ibans(text: str) -> Iterable[Finding]:
    position = 0
    while match := _IBAN_RE.search(text, position):
        end = _iban_end(text, match)
        if end is not None and iban_valid(text[match.start() : end]):
            yield Finding("iban", match.start(), end, text[match.start() : end])
            position = end
        else:
            # The candidate may have run into a following IBAN: look again from its next character.
            position = match.start() + 1


def _iban_end(text: str, match: re.Match[str]) -> int | None:
    """Where the IBAN that ``match`` starts ends: its country fixes its length, spaces aside."""
    length = IBAN_LENGTHS.get(match.group()[:2])
    if length is None:
        return None
    seen = 0
    for index in range(match.start(), match.end()):
        if text[index] != " ":
            seen += 1
            if seen == length:
                end = index + 1
                return end if end == len(text) or not text[end].isalnum() else None
    return None


def _find_emails(text: str) -> Iterable[Finding]:
    if "@" not in text:
        return
    for match in _EMAIL_RE.finditer(text):
        if _email_accepted(match):
            yield Finding("email", match.start(), match.end(), match.group())


def _find_ip_addresses(text: str) -> Iterable[Finding]:
    if "." in text:
        for match in _IPV4_RE.finditer(text):
            if is_public_ip(match.group()) and not _VERSION_BEFORE_RE.search(
                text, max(0, match.start() - 16), match.start()
            ):
                yield Finding("ip_address", match.start(), match.end(), match.group())
    if "::" in text or text.count(":") >= 7:
        for match in _IPV6_RE.finditer(text):
            if is_public_ip(match.group()):
                yield Finding("ip_address", match.start(), match.end(), match.group())


def _may_hold_phone(text: str, taken: Sequence[Finding]) -> bool:
    """Whether seven digits close together remain outside ``taken`` spans, dates aside."""
    if taken:
        chars = list(text)
        for finding in taken:
            chars[finding.start : finding.end] = "x" * (finding.end - finding.start)
        text = "".join(chars)
    return any(not _DATE_RE.fullmatch(match.group()) for match in _PHONE_GATE_RE.finditer(text))


def _find_phones(text: str, regions: Sequence[str]) -> Iterable[Finding]:
    seen: set[tuple[int, int]] = set()
    for region in regions:
        # Every region's pass also finds the numbers written with a "+" country code.
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            span = (match.start, match.end)
            if span in seen or not _dialled_as_written(match, region):
                continue
            if phonenumbers.number_type(match.number) not in _PERSONAL_PHONE_TYPES:
                continue
            seen.add(span)
            normalized = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            yield Finding("phone", match.start, match.end, match.raw_string, normalized)


def _dialled_as_written(match: phonenumbers.PhoneNumberMatch, region: str) -> bool:
    """Whether the digits are written the way the number is dialled.

    A number counts with its country code (``+86 ...``, ``0086 ...``, ``1-650-...``) or in the national
    form of its region, trunk prefix included. China writes a landline with its "0" (``0755-8601 3388``),
    so ten bare digits that only a missing "0" would make a Chinese landline are not taken for one: they
    are most often order numbers and the like.
    """
    if match.raw_string.lstrip("(").startswith("+"):
        return True
    number = match.number
    written = _digits(match.raw_string)
    national = _digits(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    with_country = f"{number.country_code}{phonenumbers.national_significant_number(number)}"
    if not (written == national or written.endswith(with_country)):
        return False
    # Without a "+", the digit groups must also be the region's own ("650-253-0000", not "65025-30000").
    strict = phonenumbers.PhoneNumberMatcher(
        match.raw_string, region, leniency=phonenumbers.Leniency.STRICT_GROUPING
    )
    return any(other.raw_string == match.raw_string for other in strict)


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def find_pii(text: str, *, phone_regions: Sequence[str] = PHONE_REGIONS) -> list[Finding]:
    """Every validated hit in ``text``, in order of position, no two overlapping."""
    if not text or ("@" not in text and not _ANY_DIGIT.search(text)):
        return []  # every kind holds a digit except an e-mail address, which holds an "@"
    kept = _without_overlaps(
        [
            *_find_cn_resident_ids(text),
            *_find_ibans(text),
            *_find_payment_cards(text),
            *_find_emails(text),
            *_find_ip_addresses(text),
        ]
    )
    # Phone numbers rank last, so they are only looked for outside what is already found.
    if _may_hold_phone(text, kept):
        kept = _without_overlaps([*kept, *_find_phones(text, phone_regions)])
    return sorted(kept, key=lambda f: f.start)


def _without_overlaps(candidates: list[Finding]) -> list[Finding]:
    """Keep candidates by rank (then position, longest first) while they overlap none kept so far."""
    candidates.sort(key=lambda f: (_RANK[f.type], f.start, -(f.end - f.start)))
    kept: list[Finding] = []
    for candidate in candidates:
        if all(candidate.end <= other.start or other.end <= candidate.start for other in kept):
            kept.append(candidate)
    return kept


# --- Datasets -----------------------------------------------------------------------------------------

Record = str | Mapping[str, Any] | Sequence[Any]


@dataclass
class ScanResult:
    """How many records hold personal data, by kind, with a few redacted examples."""

    records: int = 0
    flagged: int = 0
    by_type: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PII_TYPES, 0))
    # {"type", "redacted", "record"}: the record is its 0-based position in the scanned sequence.
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        """θ_data: flagged records / records; None (n/a) for no records."""
        return self.flagged / self.records if self.records else None

    @property
    def rate_by_type(self) -> dict[str, float | None]:
        return {
            kind: (count / self.records if self.records else None) for kind, count in self.by_type.items()
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "flagged": self.flagged,
            "rate": self.rate,
            "by_type": dict(self.by_type),
            "rate_by_type": self.rate_by_type,
            "examples": [dict(example) for example in self.examples],
        }


def _record_texts(record: Record) -> list[str]:
    """The strings a record holds: itself, a mapping's string values, or a sequence's strings."""
    if isinstance(record, str):
        return [record]
    values = record.values() if isinstance(record, Mapping) else record
    return [value for value in values if isinstance(value, str)]


def scan_records(
    records: Iterable[Record],
    *,
    max_examples_per_type: int = 5,
    phone_regions: Sequence[str] = PHONE_REGIONS,
) -> ScanResult:
    """Scan every record; a record counts once however many hits, and once per kind it holds."""
    result = ScanResult()
    examples_by_type = dict.fromkeys(PII_TYPES, 0)
    for index, record in enumerate(records):
        result.records += 1
        kinds_seen: set[str] = set()
        for text in _record_texts(record):
            for finding in find_pii(text, phone_regions=phone_regions):
                if finding.type in kinds_seen:
                    continue
                kinds_seen.add(finding.type)
                if examples_by_type[finding.type] < max_examples_per_type:
                    examples_by_type[finding.type] += 1
                    result.examples.append(
                        {"type": finding.type, "redacted": finding.redacted, "record": index}
                    )
        if kinds_seen:
            result.flagged += 1
            for kind in kinds_seen:
                result.by_type[kind] += 1
    return result
