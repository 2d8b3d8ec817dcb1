"""Validated PII detection: each validator on good and bad values, no hits in ordinary text, exact rates.

The check digits used to build valid values are computed here with independently written arithmetic,
not with the functions under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path

import phonenumbers
import pytest

from governance.metrics.pii import (
    IBAN_LENGTHS,
    PHONE_REGIONS,
    PII_TITLES,
    PII_TYPES,
    Finding,
    cn_resident_id_valid,
    email_valid,
    find_pii,
    iban_valid,
    is_public_ip,
    luhn_valid,
    payment_card_valid,
    phone_valid,
    scan_records,
)

DEMO_REVIEWS = Path(__file__).resolve().parents[2] / "demo" / "data" / "uci-sentiment" / "reviews.csv"


def hits(text: str) -> list[tuple[str, str]]:
    return [(finding.type, finding.value) for finding in find_pii(text)]


# --- Independent constructions of valid values -------------------------------------------------------


def luhn_complete(payload: str) -> str:
    """``payload`` followed by the digit that makes the Luhn sum a multiple of 10."""
    total = 0
    # Digits at odd distance from the (future) check digit are doubled.
    for distance, char in enumerate(reversed(payload), start=1):
        value = int(char) * (2 if distance % 2 == 1 else 1)
        total += value // 10 + value % 10
    return payload + str((10 - total % 10) % 10)


def iban_complete(country: str, bban: str) -> str:
    """The IBAN of ``bban``: check digits = 98 − (BBAN + country + "00" as a number) mod 97."""
    numeric = "".join(str(ord(char) - 55) if char.isalpha() else char for char in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def cn_id_complete(first17: str) -> str:
    """GB 11643 check character: weights 2^(17−i) mod 11, check = (12 − sum mod 11) mod 11, 10 is X."""
    total = sum(int(digit) * (2 ** (17 - i) % 11) for i, digit in enumerate(first17))
    check = (12 - total % 11) % 11
    return first17 + ("X" if check == 10 else str(check))


def change_one_digit(value: str, position: int) -> str:
    digit_positions = [i for i, char in enumerate(value) if char.isdigit()]
    i = digit_positions[position]
    return value[:i] + str((int(value[i]) + 1) % 10) + value[i + 1 :]


def test_independent_constructions_agree_with_known_values():
    assert luhn_complete("411111111111111") == "4111111111111111"
    assert iban_complete("GB", "WEST12345698765432") == "GB82WEST12345698765432"
    assert iban_complete("DE", "370400440532013000") == "DE89370400440532013000"
    assert cn_id_complete("11010519491231002") == "11010519491231002X"


# --- Payment cards -----------------------------------------------------------------------------------

VALID_CARDS = [
    "4111 1111 1111 1111",  # Visa
    "5555-5555-5555-4444",  # Mastercard
    "2223000048400011",  # Mastercard 2-series
    "378282246310005",  # American Express
    "6011111111111117",  # Discover
    "3530111333300000",  # JCB
    "30569309025904",  # Diners Club
    "6212345678901265",  # UnionPay
]


@pytest.mark.parametrize("card", VALID_CARDS)
def test_valid_card_is_found_and_one_changed_digit_is_not(card):
    assert luhn_valid(card)
    assert hits(f"Paid with {card} yesterday.") == [("payment_card", card)]
    for position in (3, -2):
        broken = change_one_digit(card, position)
        assert not luhn_valid(broken)
        assert hits(f"Paid with {broken} yesterday.") == []


def test_card_needs_a_known_issuer_prefix_and_its_length():
    # Luhn-valid numbers that no network issues: prefix 1, 9, and a Visa prefix at 17 digits.
    for payload in ("123456789012345", "900000000000000", "4111111111111111"):
        number = luhn_complete(payload)
        assert luhn_valid(number)
        assert not payment_card_valid(number)
        assert hits(f"ref {number}") == []


def test_card_is_found_inside_a_longer_run_of_digit_groups():
    assert hits("card 4111 1111 1111 1111 2026 ok") == [("payment_card", "4111 1111 1111 1111")]
    assert hits("SKU4111111111111111") == []  # part of a product code, not a card


# --- IBAN --------------------------------------------------------------------------------------------

VALID_IBANS = ["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00", "NL91ABNA0417164300"]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_valid_iban_is_found_and_one_changed_digit_is_not(iban):
    assert iban_valid(iban)
    assert hits(f"Transfer to {iban} please") == [("iban", iban)]
    broken = change_one_digit(iban, 5)
    assert not iban_valid(broken)
    assert hits(f"Transfer to {broken} please") == []


def test_iban_needs_a_registered_country_and_its_length():
    assert IBAN_LENGTHS["DE"] == 22 and IBAN_LENGTHS["GB"] == 22 and IBAN_LENGTHS["NO"] == 15
    assert iban_valid("gb82west12345698765432")  # case and spaces do not matter
    unknown_country = iban_complete("ZZ", "WEST12345698765432")
    assert not iban_valid(unknown_country)
    # A correct mod-97 check digit pair on a BBAN one character too long for Germany.
    too_long = iban_complete("DE", "3704004405320130001")
    assert not iban_valid(too_long)
    assert hits(f"to {too_long}") == []


def test_adjacent_ibans_are_both_found():
    text = "GB82 WEST 1234 5698 7654 32 DE89 3704 0044 0532 0130 00"
    assert [value for _, value in hits(text)] == [
        "GB82 WEST 1234 5698 7654 32",
        "DE89 3704 0044 0532 0130 00",
    ]
    # An invalid candidate must not swallow the valid IBAN right after it.
    assert hits("GB00 WEST 1234 5698 7654 32 DE89 3704 0044 0532 0130 00") == [
        ("iban", "DE89 3704 0044 0532 0130 00")
    ]


# --- Chinese resident identity numbers ---------------------------------------------------------------


def test_cn_resident_id_valid_and_invalid():
    known = "11010519491231002X"
    assert cn_resident_id_valid(known)
    assert hits(f"身份证号{known}。") == [("cn_resident_id", known)]
    assert cn_resident_id_valid(known.lower())

    built = cn_id_complete("44030419900307123")
    assert cn_resident_id_valid(built)
    wrong_check = built[:17] + ("0" if built[17] != "0" else "1")
    assert not cn_resident_id_valid(wrong_check)
    assert hits(f"ID {wrong_check}") == []


@pytest.mark.parametrize(
    "first17",
    [
        "11010519990230123",  # 30 February
        "11010519991301123",  # month 13
        "11010518991231123",  # born before 1900
        "11010520990101123",  # born in the future
        "99010519800101123",  # no such province
        "00010519800101123",
    ],
)
def test_cn_resident_id_rejects_impossible_parts_even_with_a_correct_check(first17):
    value = cn_id_complete(first17)
    assert not cn_resident_id_valid(value)
    assert hits(f"ID {value}") == []


def test_cn_resident_id_birth_date_is_compared_with_today():
    value = cn_id_complete("11010520240101123")
    assert cn_resident_id_valid(value, today=dt.date(2024, 1, 1))
    assert not cn_resident_id_valid(value, today=dt.date(2023, 12, 31))


def test_cn_resident_id_wins_over_a_card_on_the_same_digits():
    # A Gansu (62) number that is also a Luhn-valid UnionPay-looking 18-digit card.
    value = next(
        candidate
        for sequence in range(1000)
        if (candidate := cn_id_complete(f"62010219850612{sequence:03d}"))[-1] != "X" and luhn_valid(candidate)
    )
    assert payment_card_valid(value)
    assert hits(f"no {value}") == [("cn_resident_id", value)]


# --- IP addresses ------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "2606:4700:4700::1111"])
def test_public_ip_is_found(address):
    assert is_public_ip(address)
    assert hits(f"server at {address}, down") == [("ip_address", address)]


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "192.168.1.20",
        "172.16.5.4",
        "127.0.0.1",
        "169.254.10.1",
        "100.64.0.1",  # shared address space
        "192.0.2.10",  # documentation
        "203.0.113.7",
        "224.0.0.1",  # multicast
        "0.1.2.3",  # "this network"
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fd12:3456::1",
        "2001:db8::1",  # documentation
        "ff02::1",
        "300.1.1.1",  # not an address
    ],
)
def test_non_public_ip_is_not_found(address):
    assert not is_public_ip(address)
    assert hits(f"server at {address}, down") == []


def test_version_numbers_are_not_addresses():
    assert hits("Upgraded to version 1.2.3.4 today, v2.0.0.1 was worse") == []


# --- Phone numbers -----------------------------------------------------------------------------------


def test_phone_regions_cover_china_and_the_us():
    assert {"CN", "US"} <= set(PHONE_REGIONS)


@pytest.mark.parametrize(
    "number",
    [
        "+86 138 0013 8000",
        "+8613800138000",
        "13800138000",  # Chinese mobile, national form
        "138-0013-8000",
        "0755-86013388",  # Chinese landline with its trunk prefix
        "(010) 6552 9988",
        "+1 650-253-0000",
        "(650) 253-0000",  # US, national form
        "+44 20 7946 0958",
    ],
)
def test_valid_phone_is_found(number):
    assert hits(f"Call me on {number} tomorrow") == [("phone", number)]


@pytest.mark.parametrize(
    "number",
    [
        "+1 650-253-000",  # a digit short
        "+86 138 0013 800",
        "12345678",
        "555-0173",
        "+1 800-555-0199",  # toll-free: a business line, not personal data
        "1065529988",  # a Beijing landline only without its "0", and not a US number
        "87576-81954",
    ],
)
def test_invalid_phone_is_not_found(number):
    assert hits(f"Call me on {number} tomorrow") == []


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("order 1065529988", "CN"),  # a Beijing landline only without its trunk prefix "0"
        ("order 46840-10796", "US"),  # ten US digits, but not grouped the way the US writes them
    ],
)
def test_national_numbers_phonenumbers_accepts_but_nobody_writes_are_rejected(text, region):
    matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    assert [match.raw_string for match in matcher] == [text.split()[1]]
    assert hits(text) == []


def test_phone_valid():
    assert phone_valid("+86 138 0013 8000")
    assert phone_valid("13800138000", "CN")
    assert not phone_valid("13800138000", "US")
    assert not phone_valid("+1 800-555-0199")


# --- E-mail ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["john.doe@example.com", "a.b-c+tag@mail.example.co.uk", "zhang_san@qq.com", "x1@sub.domain.io"],
)
def test_valid_email_is_found(address):
    assert email_valid(address)
    assert hits(f"Write to {address}.") == [("email", address)]


@pytest.mark.parametrize(
    "text",
    ["a@b", "john@localhost", "john@example.c", "@handle", "john@.com", "icon@2x.png", "john@@example.com"],
)
def test_invalid_email_is_not_found(text):
    assert not email_valid(text)
    assert hits(f"see {text} now") == []


def test_email_wins_over_the_phone_number_in_it():
    assert hits("mail 13800138000@139.com") == [("email", "13800138000@139.com")]


# --- Ordinary text -----------------------------------------------------------------------------------

ORDINARY = [
    "I paid $1,299.99 in 2019 and it broke after 18 months.",
    "Rated 10/10, would buy again; 5 stars out of 5.",
    "The battery lasts 4-5 hours, 3,500 mAh is not 4000 mAh.",
    "Upgraded to v2.3.1 on 2021-03-04 at 12:30:45 and nothing changed.",
    "Shipped on 12/25/2020, arrived 01/02/2021.",
    "Model SCH-r450 vs D807 vs W810i, the 8530 is best.",
    "Order 12345678 took 2 weeks; 100% refund of EUR 49,90.",
    "ISBN 978-3-16-148410-0, page 123 of 456.",
    "Score 0.9123 over 1000000 steps, seed 42, lr 3e-4.",
    "Call of Duty 4 scored 9.5 in 2007 with 1.2.3 patch.",
    "std::vector<int> v; a::b::c; time 10:30:00.",
    "Room 1203, floor 12, 2 beds, 1 bath.",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_sentences_with_numbers_have_no_hit(text):
    assert hits(text) == []


def test_demo_reviews_have_no_hit():
    with DEMO_REVIEWS.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    result = scan_records(rows)
    assert result.records == len(rows) > 1000
    assert result.flagged == 0


# --- Datasets ----------------------------------------------------------------------------------------

NOUNS = ["headset", "phone", "charger", "movie", "case", "battery", "plot", "screen", "soundtrack", "cable"]
OPINIONS = ["works great", "broke quickly", "is overpriced", "sounds fine", "was a waste", "is excellent"]


def ordinary_sentence(rng: random.Random) -> str:
    numbers = [
        f"in {rng.randint(1950, 2030)}",
        f"for ${rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
        f"{rng.randint(0, 10)}/10",
        f"after {rng.randint(1, 48)} hours",
        f"model {rng.choice('ABCDEFXZ')}{rng.randint(100, 9999)}",
        f"{rng.randint(1, 100)}% of the time",
        f"on {rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        f"order #{rng.randint(1, 999999)}",
        f"v{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}",
    ]
    return f"The {rng.choice(NOUNS)} {rng.choice(OPINIONS)} {rng.choice(numbers)} and {rng.choice(numbers)}."


def planted_value(kind: str, rng: random.Random) -> str:
    digits = lambda n: "".join(str(rng.randint(0, 9)) for _ in range(n))  # noqa: E731
    if kind == "email":
        local = f"{rng.choice(['anna', 'li.wei', 'j.smith', 'user_7'])}{rng.randint(1, 999)}"
        return f"{local}@{rng.choice(['example.com', 'mail.cn', 'uni.edu'])}"
    if kind == "phone":
        choice = rng.randrange(3)
        if choice == 0:
            number = f"+86 13{rng.randint(0, 9)} {digits(4)} {digits(4)}"
        elif choice == 1:
            number = f"13{rng.randint(0, 9)}{digits(8)}"
        else:
            number = f"+1 650-253-{digits(4)}"
        parsed = phonenumbers.parse(number, "CN")
        assert phonenumbers.is_valid_number(parsed), number
        return number
    if kind == "payment_card":
        prefix, length = rng.choice([("4", 16), ("51", 16), ("37", 15), ("6011", 16), ("62", 16), ("4", 13)])
        card = luhn_complete(prefix + digits(length - len(prefix) - 1))
        if rng.random() < 0.5 and length == 16:
            return " ".join(card[i : i + 4] for i in range(0, 16, 4))
        return card
    if kind == "iban":
        return (
            iban_complete("DE", digits(18))
            if rng.random() < 0.5
            else iban_complete("GB", "WEST" + digits(14))
        )
    if kind == "cn_resident_id":
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 60))
        return cn_id_complete(
            f"{rng.choice(['110105', '310104', '440304', '620102'])}{birth:%Y%m%d}{digits(3)}"
        )
    if kind == "ip_address":
        if rng.random() < 0.5:
            return f"8.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        return f"2001:4860:{rng.randint(1, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
    raise AssertionError(kind)


def planted_dataset(seed: int, size: int, planted: int):
    rng = random.Random(seed)
    sentences = [ordinary_sentence(rng) for _ in range(size)]
    positions = sorted(rng.sample(range(size), planted))
    kinds = {position: rng.choice(PII_TYPES) for position in positions}
    values = {}
    for position, kind in kinds.items():
        values[position] = planted_value(kind, rng)
        sentences[position] = f"{sentences[position]} Contact: {values[position]} if needed."
    return sentences, kinds, values


def test_planted_rate_is_recovered_exactly():
    sentences, kinds, values = planted_dataset(seed=7, size=2000, planted=140)
    result = scan_records(sentences, max_examples_per_type=5)

    assert result.records == 2000
    assert result.flagged == 140
    assert result.rate == 0.07
    expected = {kind: list(kinds.values()).count(kind) for kind in PII_TYPES}
    assert all(expected.values())  # every kind was planted at least once
    assert result.by_type == expected
    assert result.rate_by_type == {kind: count / 2000 for kind, count in expected.items()}

    for position, kind in kinds.items():
        assert [(f.type, f.value) for f in find_pii(sentences[position])] == [(kind, values[position])]
    for example in result.examples:
        assert kinds[example["record"]] == example["type"]
    per_type = [example["type"] for example in result.examples]
    assert all(per_type.count(kind) == min(5, expected[kind]) for kind in PII_TYPES)


def test_redaction_never_contains_the_value():
    sentences, kinds, _ = planted_dataset(seed=11, size=600, planted=300)
    findings = [finding for position in kinds for finding in find_pii(sentences[position])]
    assert {finding.type for finding in findings} == set(PII_TYPES)
    for finding in findings:
        redacted = finding.redacted
        assert finding.value not in redacted
        compact = "".join(char for char in finding.value if char.isalnum())
        assert compact not in "".join(char for char in redacted if char.isalnum())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("john@example.com", "j***@e******.com"),
        ("4111 1111 1111 1111", "**** **** **** 1111"),
        ("378282246310005", "**** **** **** 0005"),
        ("DE89 3704 0044 0532 0130 00", "DE** **** **** **** **** 3000"),
        ("11010519491231002X", "110105***********X"),
        ("+86 138 0013 8000", "+86 *********00"),
        ("13800138000", "+86 *********00"),
        ("(650) 253-0000", "+1 ********00"),
        ("8.8.8.8", "8.8.8.x"),
        ("2001:4860:4860::8888", "2001:4860:4860:0:x:x:x:x"),
    ],
)
def test_redaction_keeps_the_kind_recognisable(text, expected):
    (finding,) = find_pii(f"value {text} here")
    assert finding.redacted == expected


def test_finding_spans_point_into_the_text():
    text = "Mail john@example.com or call +86 138 0013 8000 from 8.8.8.8"
    findings = find_pii(text)
    assert [f.type for f in findings] == ["email", "phone", "ip_address"]
    assert all(text[f.start : f.end] == f.value for f in findings)
    assert Finding("email", 5, 21, "john@example.com") in findings


def test_records_of_every_shape_count_once():
    records = [
        "plain text, nothing here",
        {"text": "mail john@example.com", "label": "positive", "score": 4111111111111111},
        ("call 13800138000", "and john@example.com", "and 8.8.8.8"),
        ["no pii", None],
        {"a": "card 4111 1111 1111 1111", "b": "card 5555-5555-5555-4444"},
    ]
    result = scan_records(records)
    assert (result.records, result.flagged) == (5, 3)
    assert result.rate == pytest.approx(3 / 5)
    assert result.by_type == {
        "email": 2,
        "phone": 1,
        "payment_card": 1,  # the integer column is not text; the two cards are one record
        "iban": 0,
        "cn_resident_id": 0,
        "ip_address": 1,
    }
    assert [example["record"] for example in result.examples if example["type"] == "email"] == [1, 2]


def test_examples_are_capped_per_type_and_result_is_plain_json():
    result = scan_records([f"mail user{i}@example.com" for i in range(10)], max_examples_per_type=3)
    assert result.by_type["email"] == 10
    assert len(result.examples) == 3
    as_dict = result.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert set(as_dict) == {"records", "flagged", "rate", "by_type", "rate_by_type", "examples"}


def test_no_records_is_not_applicable():
    result = scan_records([])
    assert result.rate is None
    assert set(result.rate_by_type.values()) == {None}
    assert result.to_dict()["rate"] is None


def test_titles_cover_every_type():
    assert set(PII_TITLES) == set(PII_TYPES)
    assert PII_TITLES["email"] == "E-mail address"
