"""The personal-information detector: each rule on written-out positives and hard negatives,
the checksums against an independent computation, redaction, and the scores on the labelled
set (feedback/tests/data/pii_labelled.jsonl)."""

import json

import pytest

from feedback.privacy.measure import LABELLED_PATH, pii_examples_load, pii_scores, pii_scores_table
from feedback.privacy.pii import (
    KINDS,
    PiiMatch,
    french_nir_is_valid,
    iban_is_valid,
    luhn_is_valid,
    pii_find,
    pii_redact,
    pii_summary,
)


def found(text: str) -> list[tuple[str, str]]:
    return [(match.kind, match.text) for match in pii_find(text)]


# --- e-mail ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to maria.lopez@example.com today.", "maria.lopez@example.com"),
        ("thomas.mueller+arena@mail.example.org", "thomas.mueller+arena@mail.example.org"),
        ("Contact: <ops@example.org>", "ops@example.org"),
        ("Email me at jo@example.com.", "jo@example.com"),
        ("[Press](mailto:press@example.net)", "press@example.net"),
        ("JANE.DOE@EXAMPLE.COM", "JANE.DOE@EXAMPLE.COM"),
        ("Mi correo es josé.núñez@example.com, gracias.", "josé.núñez@example.com"),
    ],
)
def test_email_addresses_are_found(text, expected):
    assert found(text) == [("email", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "Contact me: jane at example dot com",
        "Visit example.com for details.",
        "@dataclass(frozen=True) decorates the class.",
        "Mention @maria in the review.",
        "The address user@localhost has no domain.",
    ],
)
def test_things_that_look_like_email_addresses_are_not(text):
    assert found(text) == []


# --- phone numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call me at (202) 555-0143 after 6pm.", "(202) 555-0143"),
        ("My cell is 312-555-0198, text first.", "312-555-0198"),
        ("Phone: 555.201.0187", "555.201.0187"),
        ("Call 1-800-555-0199 for a refund.", "1-800-555-0199"),
        ("The office number is +1 415 555 0123.", "+1 415 555 0123"),
        ("Fax: +1 (212) 555-0110", "+1 (212) 555-0110"),
        ("Ring the London office on 020 7946 0018.", "020 7946 0018"),
        ("Manchester: 0161 496 0371", "0161 496 0371"),
        ("Mobile 07700 900123", "07700 900123"),
        ("Format 07700900789 please", "07700900789"),
        ("+44 (0)20 7946 0018", "+44 (0)20 7946 0018"),
        ("From abroad call 0044 20 7946 0991.", "0044 20 7946 0991"),
        ("Appelle-moi au 06 39 98 12 34 ce soir.", "06 39 98 12 34"),
        ("Mon fixe : 01.99.00.45.67", "01.99.00.45.67"),
        ("Depuis l'étranger : +33 6 39 98 12 34.", "+33 6 39 98 12 34"),
        ("Ruf mich unter 030 23125 456 an.", "030 23125 456"),
        ("Büro: 089/23125789", "089/23125789"),
        ("Tel. (030) 23125789", "(030) 23125789"),
        ("Büro: +49 69 90009 123", "+49 69 90009 123"),
        ("Llámame al 612 34 56 78 mañana.", "612 34 56 78"),
        ("Fijo: 91 123 45 67", "91 123 45 67"),
        ("Mi teléfono es +34 912 345 678.", "+34 912 345 678"),
        ("My phone number is 612 345 678.", "612 345 678"),
        ("Tel:0301234567", "0301234567"),
    ],
)
def test_phone_numbers_are_found(text, expected):
    assert found(text) == [("phone", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "The meeting is on 2024-05-17 at 14:30.",
        "Les dates : 01/02/2024 – 15/03/2024",
        "Datum: 17.05.2024, Uhrzeit 09:30",
        "Temps au tour : 01:23:45.678",
        "Upgrade from Python 3.11.7 to 3.12.1.",
        "Windows 10 build 10.0.19045.2965",
        "The total was $1,234,567.89 last quarter.",
        "Prix : 1 299 000 € pour l'appartement.",
        "It costs €0612345678, surely a typo.",
        "The budget is 12 345 678 900 won.",
        "Compute 123456789 * 987654321.",
        "Tracking code 1Z999AA10123456784",
        "The product code is XJ-555-1234-B.",
        "Order #0612345678 has shipped.",
        "The old edition has ISBN 0306406152.",
        "ISBN 978-3-16-148410-0",
        "The invoice 0123-4567-89 is overdue.",
        "Bestellnummer: 0301234567",
        "El pedido 0612 3456 78 llegó tarde.",
        "Lottery numbers: 07 12 23 34 45 46",
        "The formula is 3+4=7 and 2+12345678901=12345678903.",
        "555-0143 has only seven digits.",
        "Phone model: iPhone 15 Pro Max 256 GB",
        "Tel Aviv had about 460000 inhabitants in 2020.",
        "Timestamps 1715961600 and 1715961601234",
    ],
)
def test_things_that_look_like_phone_numbers_are_not(text):
    assert found(text) == []


def test_a_phone_number_is_never_cut_out_of_a_longer_number():
    assert found("ref 06 12 34 56 78 90 12") == []
    assert found("020 7946 0018 2") == []


# --- payment cards ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My card number is 4111 1111 1111 1111, exp 12/27.", "4111 1111 1111 1111"),
        ("Charge 5555-5555-5555-4444 please.", "5555-5555-5555-4444"),
        ("Amex 3782 822463 10005 was declined.", "3782 822463 10005"),
        ("Test with 4242424242424242 in the sandbox.", "4242424242424242"),
        ("Mastercard 2223 0031 2200 3222", "2223 0031 2200 3222"),
        ("13 digits: 4222222222222", "4222222222222"),
        ("Tarjeta 6011 1111 1111 1117, caducidad 09/26.", "6011 1111 1111 1117"),
    ],
)
def test_payment_cards_are_found(text, expected):
    assert found(text) == [("payment_card", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "Your order number is 4111 1111 1111 1112.",  # Luhn fails
        "Random id 1234 5678 1234 5678 from a fixture.",  # Luhn fails
        "0000 0000 0000 0000 passes Luhn but no network starts with 0.",
        "ISBN-13: 9780306406157",
        "EAN 4006381333931 on the box",
        "Mixed separators 4111 1111-1111 1111 are not a card.",
        "4111 1111 1111 1111 1111 1111 is too long to be one card.",
    ],
)
def test_things_that_look_like_payment_cards_are_not(text):
    assert [kind for kind, _ in found(text)] == []


def test_luhn_agrees_with_a_direct_computation():
    def luhn_by_hand(number: str) -> bool:
        digits = [int(character) for character in number]
        for index in range(len(digits) - 2, -1, -2):
            doubled = digits[index] * 2
            digits[index] = doubled // 10 + doubled % 10
        return sum(digits) % 10 == 0

    for number in ["4111111111111111", "378282246310005", "6011000990139424", "79927398713", "1234567812345678"]:
        assert luhn_is_valid(number) is luhn_by_hand(number)
    assert luhn_is_valid("79927398713") is True
    assert luhn_is_valid("79927398710") is False


# --- IP addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The server at 192.0.2.44 refuses SSH.", "192.0.2.44"),
        ("Le routeur répond sur 192.0.2.1.", "192.0.2.1"),
        ("listen 203.0.113.250:8080", "203.0.113.250"),
        ("subnet 198.51.100.0/24", "198.51.100.0"),
        ("ping 2001:db8::1 fails", "2001:db8::1"),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334 is mine", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
        ("curl https://[2001:db8:42::7]:8443/health", "2001:db8:42::7"),
        ("fe80::1ff:fe23:4567:890a%eth0", "fe80::1ff:fe23:4567:890a"),
        ("mapped ::ffff:192.0.2.128 here", "::ffff:192.0.2.128"),
    ],
)
def test_ip_addresses_are_found(text, expected):
    assert found(text) == [("ip_address", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "Upgrade to 3.11.7 now.",
        "Set version 1.2.3.4 in setup.py",
        "Download v1.2.3.4 today.",
        "Windows 10 build 10.0.19045.2965",
        "256.300.1.1 is not an address.",
        "The date 17.05.2024 is a Friday.",
        "1.192.0.2.44.5 is a longer dotted number.",
        "The time is 12:30:45 UTC.",
        "MAC 00:1A:2B:3C:4D:5E",
        "In Python, x[1::2] takes every other item.",
        "std::vector<int> and a::b",
        "2001:db8 is the documentation prefix.",
    ],
)
def test_things_that_look_like_ip_addresses_are_not(text):
    assert found(text) == []


# --- postal addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ship it to 742 Maple Terrace, Springfield, IL 62704.", "742 Maple Terrace, Springfield, IL 62704"),
        ("I live at 17 Baker Street, London NW1 6XE, by the museum.", "17 Baker Street, London NW1 6XE"),
        ("Post to 10 Elm Road, Cambridge CB2 1TN.", "10 Elm Road, Cambridge CB2 1TN"),
        ("Office: 500 Example Avenue, Suite 300, Austin, TX 78701", "500 Example Avenue, Suite 300, Austin, TX 78701"),
        (
            "The White House is at 1600 Pennsylvania Avenue NW, Washington, DC 20500.",
            "1600 Pennsylvania Avenue NW, Washington, DC 20500",
        ),
        ("at 45 Oak St., Portland, OR 97205 today", "45 Oak St., Portland, OR 97205"),
        ("The meetup is at 88 9th Avenue, New York, NY 10011.", "88 9th Avenue, New York, NY 10011"),
        ("We moved to 27 Willow Drive last spring.", "27 Willow Drive"),
        ("He lives at 10 Downing Street.", "10 Downing Street"),
        ("Mon adresse est 12 rue des Lilas, 69003 Lyon.", "12 rue des Lilas, 69003 Lyon"),
        ("5 bis avenue Victor Hugo, 75116 Paris", "5 bis avenue Victor Hugo, 75116 Paris"),
        ("J'habite au 8 boulevard de la Liberté à Lille.", "8 boulevard de la Liberté"),
        ("Lieferadresse: Lindenstraße 14, 10969 Berlin", "Lindenstraße 14, 10969 Berlin"),
        ("Ich wohne in der Karl-Marx-Allee 90a, 10243 Berlin.", "Karl-Marx-Allee 90a, 10243 Berlin"),
        ("an Berliner Straße 3, 60311 Frankfurt am Main.", "Berliner Straße 3, 60311 Frankfurt am Main"),
        ("Die Firma sitzt in der Hauptstr. 7 in Köln.", "Hauptstr. 7"),
        ("Calle de Alcalá 123, 28009 Madrid.", "Calle de Alcalá 123, 28009 Madrid"),
        ("Entregar en C/ Mayor, 15, 3º B antes de las diez.", "C/ Mayor, 15, 3º B"),
    ],
)
def test_postal_addresses_are_found(text, expected):
    assert found(text) == [("postal_address", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "Abbey Road is the Beatles' best album.",
        "She lived on rue de Rivoli for years.",
        "Wir treffen uns in der Hauptstraße vor dem Kino.",
        "Camina por la Calle Mayor hasta la plaza.",
        "Top 10 Scenic Road Trips in Europe",
        "In 2019 Oxford Street was closed to cars for a day.",
        "I have 3 kids and the street is quiet.",
        "Die Allee 5 Minuten entfernt ist schön.",
        "Postcode SW1A 1AA alone is not an address here.",
        "J'ai 3 place de parking.",
    ],
)
def test_things_that_look_like_postal_addresses_are_not(text):
    assert found(text) == []


# --- government ids --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My SSN is 512-34-5678, is it safe?", "512-34-5678"),
        ("social security number 123-45-6789", "123-45-6789"),
        ("National Insurance number: AB 12 34 56 C", "AB 12 34 56 C"),
        ("NI no. JG103254A, employer below.", "JG103254A"),
        ("Mon numéro de sécu est 1 85 05 78 006 084 91.", "1 85 05 78 006 084 91"),
        ("NIR : 2 93 07 75 123 456 51", "2 93 07 75 123 456 51"),
        ("Corse : 178122A00401735", "178122A00401735"),
    ],
)
def test_government_ids_are_found(text, expected):
    assert found(text) == [("government_id", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "000-12-3456 has area 000.",
        "666-45-1234 has area 666.",
        "912-34-5678 is an ITIN.",
        "123-00-4567 has group 00.",
        "123-45-0000 has serial 0000.",
        "BG 12 34 56 A has a prefix never issued.",
        "DA 12 34 56 A starts with D.",
        "AO 12 34 56 A has O second.",
        "AB 12 34 56 E ends with E.",
        "NIR 1 85 05 78 006 084 92 has a bad key.",
        "The SSN format is AAA-GG-SSSS.",
    ],
)
def test_things_that_look_like_government_ids_are_not(text):
    assert found(text) == []


def test_the_nir_key_agrees_with_the_published_rule():
    for body in ["1850578006084", "2937075123456", "1781219004017"]:  # 2A counted as 19
        key = 97 - int(body) % 97
        assert french_nir_is_valid(f"{body}{key:02d}")
        assert not french_nir_is_valid(f"{body}{(key % 97) + 1:02d}")
    assert french_nir_is_valid("1 78 12 2A 004 017 35")


# --- bank accounts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Transfer to IBAN DE12 5001 0517 0648 4898 90.", "DE12 5001 0517 0648 4898 90"),
        ("Mon IBAN : FR71 3000 4000 0101 2345 6789 026", "FR71 3000 4000 0101 2345 6789 026"),
        ("Pay GB62 TEST 4051 6200 0123 45 by Friday.", "GB62 TEST 4051 6200 0123 45"),
        ("Is NL91ABNA0417164300 valid?", "NL91ABNA0417164300"),
        ("RIB : FR11 2004 1010 0505 0001 M026 002", "FR11 2004 1010 0505 0001 M026 002"),
        ("IBAN DE12 5001 0517 0648 4898 90 BIC TESTDEFFXXX", "DE12 5001 0517 0648 4898 90"),
        ("my iban is de12 5001 0517 0648 4898 90", "de12 5001 0517 0648 4898 90"),
    ],
)
def test_ibans_are_found_as_bank_accounts(text, expected):
    assert found(text) == [("bank_account", expected)]


@pytest.mark.parametrize(
    "text",
    [
        "IBAN DE00 5001 0517 0648 4898 90 has the wrong check digits.",
        "DE12 5001 0517 0648 4898 9 is a digit short.",
        "Our bank's SWIFT code is DEUTDEFF500.",
    ],
)
def test_things_that_look_like_ibans_are_not(text):
    assert [kind for kind, _ in found(text)] == []


def test_iban_check_digits_agree_with_a_direct_computation():
    # ISO 13616: check digits = 98 - (BBAN + country as digits + "00") mod 97.
    bban, country = "500105170648489890", "DE"
    digits = "".join(str(int(character, 36)) for character in bban + country + "00")
    check = 98 - int(digits) % 97
    assert check == 12
    assert iban_is_valid(f"DE{check:02d}{bban}")
    assert not iban_is_valid(f"DE{check + 1:02d}{bban}")


# --- several kinds, overlaps, redaction ------------------------------------------------------


def test_matches_come_in_order_with_positions():
    text = "Mail sam.reed@example.com or call (415) 555-0132."
    assert pii_find(text) == [
        PiiMatch(kind="email", start=5, end=25, text="sam.reed@example.com"),
        PiiMatch(kind="phone", start=34, end=48, text="(415) 555-0132"),
    ]


def test_the_longer_match_wins_an_overlap():
    # The card's first 15 digits would make a phone number after "phone"; the card is longer.
    assert found("phone 4111 1111 1111 1111") == [("payment_card", "4111 1111 1111 1111")]
    # The IPv4 tail of an IPv6 address is not a second address.
    assert found("::ffff:192.0.2.128") == [("ip_address", "::ffff:192.0.2.128")]


def test_redaction_replaces_each_match_with_its_kind():
    text = (
        "Email: sam.reed@example.com, phone (415) 555-0132, card 4111 1111 1111 1111, from 192.0.2.44, "
        "living at 88 Pine Street, San Francisco, CA 94111, SSN 234-56-7890, IBAN DE12 5001 0517 0648 4898 90."
    )
    assert pii_redact(text) == (
        "Email: [EMAIL], phone [PHONE], card [PAYMENT_CARD], from [IP_ADDRESS], "
        "living at [POSTAL_ADDRESS], SSN [GOVERNMENT_ID], IBAN [BANK_ACCOUNT]."
    )


def test_redaction_takes_a_placeholder():
    text = "Write to jo@example.com or ann@example.org."
    assert pii_redact(text, placeholder=lambda match: "*" * len(match.text)) == (
        "Write to ************** or ***************."
    )


def test_text_without_personal_information_is_left_alone():
    text = "Explain the Bradley-Terry model in 3 sentences, please (version 2.1, 2024-05-17)."
    assert pii_find(text) == []
    assert pii_redact(text) == text
    assert pii_summary(text) == {}
    assert pii_redact("") == ""


def test_summary_counts_each_kind_in_order():
    text = "jo@example.com, ann@example.org, 020 7946 0018, 192.0.2.1"
    assert pii_summary(text) == {"email": 2, "phone": 1, "ip_address": 1}
    assert list(pii_summary(text)) == [kind for kind in KINDS if kind in pii_summary(text)]


# --- the labelled set ------------------------------------------------------------------------


def test_the_labelled_set_is_well_formed():
    examples = pii_examples_load()
    assert len(examples) >= 150
    negatives = [example for example in examples if not example["spans"]]
    assert 0.3 <= len(negatives) / len(examples) <= 0.5
    for example in examples:
        for span in example["spans"]:
            assert span["kind"] in KINDS
            assert span["text"] in example["text"], example
    assert {span["kind"] for example in examples for span in example["spans"]} == set(KINDS)


def test_precision_and_recall_on_the_labelled_set():
    scores = pii_scores(pii_examples_load())
    assert scores["all"]["precision"] >= 0.95, pii_scores_table(scores)
    assert scores["all"]["recall"] >= 0.90, pii_scores_table(scores)
    for kind in KINDS:
        assert scores[kind]["precision"] >= 0.85, pii_scores_table(scores)
        assert scores[kind]["recall"] >= 0.85, pii_scores_table(scores)


def test_scores_follow_the_matching_rule(tmp_path):
    examples = [
        {"text": "a", "spans": [{"kind": "email", "text": "x@example.com"}, {"kind": "phone", "text": "+44 1"}]},
        {"text": "b", "spans": []},
    ]
    predictions = {
        "a": [PiiMatch("email", 0, 13, "x@example.com"), PiiMatch("phone", 0, 2, "44 1")],
        "b": [PiiMatch("ip_address", 0, 9, "192.0.2.1")],
    }
    scores = pii_scores(examples, find=lambda text: predictions[text])
    assert scores["email"] == {"precision": 1.0, "recall": 1.0, "tp": 1, "fp": 0, "fn": 0}
    assert scores["phone"] == {"precision": 0.0, "recall": 0.0, "tp": 0, "fp": 1, "fn": 1}
    assert scores["ip_address"] == {"precision": 0.0, "recall": 1.0, "tp": 0, "fp": 1, "fn": 0}
    assert scores["all"] == {"precision": 1 / 3, "recall": 0.5, "tp": 1, "fp": 2, "fn": 1}
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(example) for example in examples) + "\n\n", encoding="utf-8")
    assert pii_examples_load(path) == examples
    assert LABELLED_PATH.exists()
