"""Personal information in free text: e-mail addresses, phone numbers, payment cards, IP
addresses, postal addresses, government ids and bank accounts.

Pure Python (regular expressions and checksums), no Django: releases redact with it, moderation
flags with it, forms warn with it. Each rule is described on the function that applies it;
docs/pii.md says what is deliberately left alone (names, addresses without a house number, ...)
and gives the precision and recall measured on feedback/tests/data/pii_labelled.jsonl.

Every rule proposes candidates; `pii_find` keeps the longest of overlapping candidates (on a
tie, the more specific kind: a checksum beats a pattern), so the result never overlaps.
"""

import bisect
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

KINDS = (
    "email",
    "phone",
    "payment_card",
    "ip_address",
    "postal_address",
    "government_id",
    "bank_account",
)

# How much a kind's rule can be trusted on its own; breaks ties between overlapping candidates
# of the same length. Checksums first (mod 97 fails 96 times in 97, Luhn 9 in 10), then
# patterns with a distinctive character (@, dots between octets), then the loose ones.
_SPECIFICITY = {
    "government_id": 6,
    "bank_account": 6,
    "payment_card": 5,
    "email": 4,
    "ip_address": 3,
    "postal_address": 2,
    "phone": 1,
}


# Every rule needs a digit (phone, card, IP address, house number, id, IBAN) or an `@`
# (e-mail): a text with neither holds nothing to find, which is most prose (87% of demo texts),
# and one search for a single character class is far cheaper than running every rule.
_MAY_HOLD_PII = re.compile(r"[\d@]")


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int
    text: str


def pii_find(text: str) -> list[PiiMatch]:
    """Every piece of personal information in `text`, in order of position, none overlapping.

    Of overlapping candidates the longer wins (a card number is not also a phone number, an
    address keeps its postcode); on equal length the more specific kind wins.
    """
    if _MAY_HOLD_PII.search(text) is None:
        return []
    candidates = [
        *_email_matches(text),
        *_phone_matches(text),
        *_payment_card_matches(text),
        *_ip_address_matches(text),
        *_postal_address_matches(text),
        *_government_id_matches(text),
        *_bank_account_matches(text),
    ]
    candidates.sort(key=lambda match: (match.start - match.end, -_SPECIFICITY[match.kind], match.start))
    chosen: list[PiiMatch] = []  # kept in order of position, never overlapping
    starts: list[int] = []
    for candidate in candidates:
        index = bisect.bisect_right(starts, candidate.start)
        if index and chosen[index - 1].end > candidate.start:
            continue
        if index < len(chosen) and chosen[index].start < candidate.end:
            continue
        chosen.insert(index, candidate)
        starts.insert(index, candidate.start)
    return chosen


def pii_redact(text: str, *, placeholder: Callable[[PiiMatch], str] | None = None) -> str:
    """`text` with each match replaced by `placeholder(match)`, by default its kind in capitals
    between brackets: `[EMAIL]`, `[PHONE]`, `[PAYMENT_CARD]`, `[IP_ADDRESS]`,
    `[POSTAL_ADDRESS]`, `[GOVERNMENT_ID]`, `[BANK_ACCOUNT]`."""
    replace = placeholder or _placeholder_default
    pieces: list[str] = []
    position = 0
    for match in pii_find(text):
        pieces.append(text[position : match.start])
        pieces.append(replace(match))
        position = match.end
    pieces.append(text[position:])
    return "".join(pieces)


def text_key(text: str) -> int:
    """A 64-bit fingerprint of a text, as a signed integer a BigIntegerField holds: the first
    8 bytes of the SHA-256 of its UTF-8, big-endian. Tells whether a stored redaction was
    computed from this very text. (SHA-256 because PostgreSQL computes it too: a release asks
    the database which stored redactions are fresh, `releases.expressions.TextKey`.)"""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def text_redacted(text: str) -> str:
    """What a message stores as its redacted text: `pii_redact(text)`, or "" when that is the
    text itself (most texts hold nothing to redact, and a redaction of a non-empty text is
    never empty)."""
    redacted = pii_redact(text)
    return "" if redacted == text else redacted


def redacted_text_of(text: str, stored: str, stored_from: int | None) -> str:
    """`pii_redact(text)`, taken from the stored redaction when it was computed from this very
    text (`stored_from == text_key(text)`), computed anew otherwise."""
    return released_text(text, stored, stored_from is not None and stored_from == text_key(text))


def released_text(text: str, stored: str, is_fresh: bool | None) -> str:
    """`redacted_text_of` where the database has compared the fingerprints: the stored
    redaction when `is_fresh`, else (stale, or never stored: None) the text redacted anew."""
    if is_fresh:
        return stored or text
    return pii_redact(text)


def pii_summary(text: str) -> dict[str, int]:
    """How many matches of each kind `text` holds, for a warning such as "this looks like it
    contains 2 phone numbers". Only kinds that occur are present, in the order of `KINDS`; an
    empty dict means nothing was found."""
    counts = {kind: 0 for kind in KINDS}
    for match in pii_find(text):
        counts[match.kind] += 1
    return {kind: count for kind, count in counts.items() if count}


def _placeholder_default(match: PiiMatch) -> str:
    return f"[{match.kind.upper()}]"


def _match(kind: str, text: str, start: int, end: int) -> PiiMatch:
    return PiiMatch(kind=kind, start=start, end=end, text=text[start:end])


# Digits, or a separator and a digit, right after a number mean the number goes on: never
# take a piece of a longer number. The same before it (a digit and a space, a dot, a slash).
_NUMBER_ENDS = r"(?!\w|[.,:/-]\d|[ ]\d)"
_NUMBER_STARTS = r"(?<![\w+.,/#$€£¥-])(?<!\d[ ])"


# --- e-mail ----------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"""
    (?<![\w.%+-])
    [\w%+-](?:[\w.%+-]*[\w%+-])?            # local part: no leading or trailing dot
    @
    (?:[^\W_](?:[\w-]*[^\W_])?\.)+          # domain labels
    [^\W\d_]{2,24}\b                        # top-level domain: letters only
    """,
    re.VERBOSE,
)


def _email_matches(text: str) -> Iterator[PiiMatch]:
    """E-mail addresses: a local part, `@`, one or more domain labels and a top-level domain of
    letters (`jane.doe+news@mail.example.org`). Addresses spelled out in words ("jane at
    example dot com") are not taken: they read like prose too often."""
    for found in _EMAIL.finditer(text):
        yield _match("email", text, found.start(), found.end())


# --- phone numbers ---------------------------------------------------------------------------

_PHONE_INTERNATIONAL = re.compile(
    rf"""
    (?:(?<![\w+)])\+|(?<![\w+.,/#$€£¥-])00)[1-9]\d{{0,2}}   # +44 or 0044, not the + of a sum (2+3)
    (?:[ .-]?\(0\))?                        # the (0) of +44 (0)20 ...
    (?:[ .-]?(?:\(\d{{1,4}}\)|\d{{1,5}})){{1,6}}
    {_NUMBER_ENDS}
    """,
    re.VERBOSE,
)
_PHONE_NORTH_AMERICA = re.compile(
    rf"""
    {_NUMBER_STARTS}
    (?:1[ .-])?
    (?:\([2-9]\d\d\)[ ]?\d{{3}}[ .-]|[2-9]\d\d(?P<separator>[ .-])\d{{3}}(?P=separator))
    \d{{4}}
    {_NUMBER_ENDS}
    """,
    re.VERBOSE,
)
_PHONE_TRUNK_ZERO = re.compile(
    rf"""
    {_NUMBER_STARTS}
    (?:
        \(0\d{{1,4}}\)[ ]?\d{{2,8}}(?:[ .-]\d{{2,8}}){{0,3}}   # (030) 1234567
      | 0[1-9]\d{{0,3}}(?:[ ./-]\d{{2,8}}){{1,4}}              # 020 7946 0018, 06 12 34 56 78
      | 0[1-9]\d{{8,9}}                                       # 07700900123
    )
    {_NUMBER_ENDS}
    """,
    re.VERBOSE,
)
_PHONE_SPAIN = re.compile(
    rf"""
    {_NUMBER_STARTS}
    (?:
        [6-9]\d\d(?P<first>[ .])\d\d(?P=first)\d\d(?P=first)\d\d     # 612 34 56 78
      | [89]\d(?P<second>[ .])\d{{3}}(?P=second)\d\d(?P=second)\d\d  # 91 123 45 67
    )
    {_NUMBER_ENDS}
    """,
    re.VERBOSE,
)
_PHONE_AFTER_WORD = re.compile(
    rf"""
    \b(?i:phone|tel|tél|telephone|téléphone|teléfono|telefono|telefon|mobile|móvil|movil|portable|
       handy|cell|whatsapp|fax|call[ ]me|text[ ]me|llámame|llamame|appelle-moi|appelez-moi|ruf[ ]mich)\b
    [^\d\n+]{{0,25}}?
    (?P<number>{_NUMBER_STARTS}\+?\(?\d[\d ().-]{{7,22}}\d)
    {_NUMBER_ENDS}
    """,
    re.VERBOSE,
)
# Words right before a number that make it something other than a phone number.
_NOT_A_PHONE_BEFORE = re.compile(
    r"""(?ix)
    (?:isbn(?:-1[03])?|issn|order|invoice|ref\.?|reference|tracking|ticket|serial|sku|part|model|
       build|version|commande|facture|bestellnummer|rechnung|pedido|factura|account|iban|
       n°|no\.|nr\.|\#)
    \s*(?:number|no\.?|nr\.?|n°|num(?:ber|éro|ero)?)?\s*[:#]?\s*$
    """
)


def _phone_matches(text: str) -> Iterator[PiiMatch]:
    """Phone numbers with 9 to 15 digits, in one of these shapes:

    - international: `+` (or `00`) and a country code, then groups of digits separated by single spaces,
      dots or dashes, an optional `(0)` or area code in brackets (`+44 (0)20 7946 0018`,
      `+33 6 12 34 56 78`, `+1 (555) 123-4567`); the `+` must not follow a digit (`2+3`);
    - North American: `(555) 123-4567`, `555-123-4567`, `555.123.4567`, `1-555-123-4567`, the
      same separator twice, area code not starting with 0 or 1;
    - national numbers with a trunk 0 (United Kingdom, France, Germany and most of Europe):
      `020 7946 0018`, `06 12 34 56 78`, `030 1234567`, `089/12345678`, `(030) 1234567`, or
      10 to 11 digits written together (`07700900123`);
    - Spanish numbers, which have no trunk 0, only when grouped as they are written:
      `612 34 56 78`, `91 123 45 67`;
    - after a word that announces a phone number ("phone", "tel", "Handy", "móvil", "call
      me" ...): any run of 9 to 15 digits with spaces, dots, dashes or brackets.

    Not taken: a run that is part of a longer number (a digit, or a separator and a digit,
    before or after it) or of a word; a run after a currency sign; a run after a word that
    names it as something else ("ISBN", "order", "invoice", "ref", "#" ...). Dates, times,
    version numbers and prices fail on the digit count or on the shape.
    """
    for pattern in (_PHONE_INTERNATIONAL, _PHONE_NORTH_AMERICA, _PHONE_TRUNK_ZERO, _PHONE_SPAIN):
        for found in pattern.finditer(text):
            if _is_phone(text, found.start(), found.end()):
                yield _match("phone", text, found.start(), found.end())
    for found in _PHONE_AFTER_WORD.finditer(text):
        start, end = found.span("number")
        if _is_phone(text, start, end):
            yield _match("phone", text, start, end)


def _is_phone(text: str, start: int, end: int) -> bool:
    number = text[start:end].replace("(0)", "")
    digits = sum(character.isdigit() for character in number)
    if not 9 <= digits <= 15:
        return False
    if number.count("(") != number.count(")"):
        return False
    return not _NOT_A_PHONE_BEFORE.search(text[max(0, start - 30) : start])


# --- payment cards ---------------------------------------------------------------------------

_PAYMENT_CARD = re.compile(
    rf"""
    {_NUMBER_STARTS}
    [2-6]\d{{3}}
    (?:
        (?P<separator>[ -]?)\d{{4}}(?P=separator)\d{{4}}(?P=separator)\d{{1,4}}(?:(?P=separator)\d{{1,3}})?
      | (?P<amex>[ -]?)\d{{6}}(?P=amex)\d{{4,5}}                 # 3782 822463 10005
    )
    {_NUMBER_ENDS}
    """,
    re.VERBOSE,
)


def _payment_card_matches(text: str) -> Iterator[PiiMatch]:
    """Payment card numbers: 13 to 19 digits, written together or in groups of four (or 4-6-5
    for American Express) separated by spaces or dashes, the same separator throughout. The
    number must pass the Luhn checksum and start with 2 to 6 (Mastercard, American Express,
    Diners, JCB, Visa, Discover, Maestro, UnionPay): most long numbers that are not cards fail
    one or the other."""
    for found in _PAYMENT_CARD.finditer(text):
        digits = re.sub(r"\D", "", found.group())
        if 13 <= len(digits) <= 19 and luhn_is_valid(digits):
            yield _match("payment_card", text, found.start(), found.end())


def luhn_is_valid(digits: str) -> bool:
    """The Luhn checksum: double every second digit from the right, sum the digits of all, and
    the total must end in 0."""
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = int(character)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# --- IP addresses ----------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.-]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d|-\d)")
_IPV6 = re.compile(
    r"""
    (?<![\w:.])
    (?=[0-9A-Fa-f]*:[0-9A-Fa-f]*:)                      # at least two colons
    [0-9A-Fa-f:]{2,39}
    (?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?                  # ::ffff:192.0.2.1
    (?!\w|[:.]\w)
    """,
    re.VERBOSE,
)
_VERSION_BEFORE = re.compile(r"(?i)\b(?:v|ver\.?|version|versión|release|build|firmware)\s*$")


def _ip_address_matches(text: str) -> Iterator[PiiMatch]:
    """IP addresses.

    - IPv4: four decimal octets 0 to 255 without leading zeros (`192.0.2.44`), not inside a
      longer dotted number (`1.192.0.2.44.5`) and not after "version", "v", "build" ...;
      three-part versions (`3.11.7`) and dates (`17.05.2024`) never have four octets.
    - IPv6: the full form (eight groups) and the compressed one with `::`, also with an IPv4
      tail, as Python's `ipaddress` accepts them; it must hold a digit, two non-empty groups
      and one group of three or four hex digits, which leaves out clock times (`12:30:45`),
      MAC addresses, C++ scopes (`a::b`) and Python slices (`x[1::2]`).
    """
    for found in _IPV4.finditer(text):
        if not _VERSION_BEFORE.search(text[max(0, found.start() - 12) : found.start()]):
            yield _match("ip_address", text, found.start(), found.end())
    for found in _IPV6.finditer(text):
        if _is_ipv6(found.group()):
            yield _match("ip_address", text, found.start(), found.end())


def _is_ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    groups = [group for group in candidate.split(":") if group]
    return (
        any(character.isdigit() for character in candidate)
        and len(groups) >= 2
        and any(len(group) >= 3 for group in groups)
    )


# --- postal addresses ------------------------------------------------------------------------

_CAPITALISED = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"
_CAPITALISED_WORD = r"[A-ZÀ-ÖØ-Þ][\w'’-]*"
_ORDINAL = r"\d{1,3}(?:st|nd|rd|th)"
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|"
    "PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_UK_POSTCODE = r"(?:[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[ABD-HJLNP-UW-Z]{2})\b"
_CITY = r"[A-Z][a-zA-Z.'’-]*(?:[ ][A-Z][a-zA-Z.'’-]*){0,2}"
_TAIL_GAP = r"(?:,?[ ]*\n[ ]*|,[ ]*|[ ]+)"
_POSTCODE_FIRST = (
    rf"{_TAIL_GAP}\d{{5}}[ ]+{_CAPITALISED_WORD}"
    rf"(?:[ ](?:(?:am|an[ ]der|im|de|del|sur|en)[ ])?{_CAPITALISED_WORD}){{0,2}}\b"
)
_ADDRESS_ENGLISH = re.compile(
    rf"""
    (?<![\w.,/-])
    (?P<number>\d{{1,5}}[A-Za-z]?)(?:[-–]\d{{1,5}})?[ ]+
    (?:(?:{_CAPITALISED}|{_ORDINAL})[ ]+){{1,4}}
    (?:Street|Road|Avenue|Lane|Boulevard|Drive|Way|Court|Terrace|Crescent|Close|Parkway|Highway|Square
       |street|road|avenue|lane|boulevard
       |St|Rd|Ave|Ln|Blvd|Dr|Ct|Pkwy|Hwy|Sq)\b
    (?:\.(?=,))?                            # "Oak St., Portland": the abbreviation's dot
    (?:[ ]+(?:NE|NW|SE|SW|N|S|E|W)\b)?
    (?:,?[ ]+(?:Apt|Apartment|Suite|Ste|Unit|Flat)\.?[ ]?\#?[\dA-Z]{{1,5}}\b|[ ]?\#\d{{1,5}}\b)?
    (?:
        {_TAIL_GAP}{_CITY},?[ ]+(?:{_US_STATES})[ ]+\d{{5}}(?:-\d{{4}})?\b    # Springfield, IL 62704
      | {_TAIL_GAP}(?:{_CITY},?[ ]+)?{_UK_POSTCODE}                          # London NW1 6XE
      | {_POSTCODE_FIRST}
      | (?![ ]+[A-Z][a-z])      # "Top 10 Scenic Road Trips" is a headline, not an address
    )
    """,
    re.VERBOSE,
)
_FRENCH_LINK = r"(?:(?:des|du|de|la|le|les|et|aux|au|sur|en)[ ]+|[dl]['’])"
_ADDRESS_FRENCH = re.compile(
    rf"""
    (?<![\w.,/-])
    \d{{1,4}}(?:[ ]?(?:bis|ter))?,?[ ]+
    (?:[Rr]ue|[Aa]venue|[Bb]oulevard|[Bb]d|[Aa]llée|[Ii]mpasse|[Qq]uai|[Cc]hemin|[Pp]lace)[ ]+
    {_FRENCH_LINK}{{0,3}}{_CAPITALISED_WORD}(?:[ ]+{_FRENCH_LINK}{{0,3}}{_CAPITALISED_WORD}){{0,5}}
    (?:{_POSTCODE_FIRST})?
    """,
    re.VERBOSE,
)
_GERMAN_STREET_TYPES = r"Straße|Strasse|Str\.|Weg|Allee|Gasse|Damm"
_ADDRESS_GERMAN = re.compile(
    rf"""
    (?<![\w-])
    (?:
        [A-ZÄÖÜ][\w]*?(?:-[A-ZÄÖÜ][\w]*)*(?:straße|strasse|str\.|weg|allee|gasse|damm|-(?:{_GERMAN_STREET_TYPES}))
      | (?!(?:Der|Die|Das|Den|Dem|Des|Ein|Eine|Einer|Diese|Dieser|Jede|Jeder|Keine)[ ])
        [A-ZÄÖÜ][a-zäöüß]+[ ](?:{_GERMAN_STREET_TYPES})
    )
    [ ]+\d{{1,4}}(?:[ ]?[a-z]\b)?(?:[-–]\d{{1,4}})?(?!\w|[.,]\d)
    (?:{_POSTCODE_FIRST}|(?![ ]+[A-ZÄÖÜ][a-zäöüß]))    # "Die Allee 5 Minuten entfernt": not a street
    """,
    re.VERBOSE,
)
_SPANISH_LINK = r"(?:(?:del|de|la|las|los|el|y)[ ]+)"
_ADDRESS_SPANISH = re.compile(
    rf"""
    (?<![\w.,/-])
    (?:[Cc]alle|C/|[Aa]venida|Avda\.|[Pp]aseo)[ ]*
    {_SPANISH_LINK}{{0,3}}{_CAPITALISED_WORD}(?:[ ]+{_SPANISH_LINK}{{0,3}}{_CAPITALISED_WORD}){{0,5}}
    ,?[ ]+(?:n[º°o]\.?[ ]?)?\d{{1,4}}(?!\w|[.,]\d)
    (?:,?[ ]+\d{{1,2}}[º°](?:[ ]?[A-Z]\b)?)?
    (?:{_POSTCODE_FIRST})?
    """,
    re.VERBOSE,
)
_YEAR_BEFORE = re.compile(r"(?i)\b(?:in|since|by|until|till|before|after|from|of|during|around|circa|c\.)\s*$")


def _postal_address_matches(text: str) -> Iterator[PiiMatch]:
    """Postal addresses: a house number, a street name and a word that says it is a street,
    optionally followed by a postcode and a town.

    - English: number (`221B`, `10-12`), one to four capitalised words or ordinals, then a
      street word (Street, Road, Avenue, Lane, Boulevard, Drive, Way, Court, Terrace, Crescent,
      Close, Parkway, Highway, Square, or St, Rd, Ave, Ln, Blvd, Dr, Ct, Pkwy, Hwy, Sq), an
      optional direction (NW) and flat (`Apt 4B`, `Suite 200`, `#12`), then optionally
      "City, ST 12345" (United States), "City POSTCODE" (United Kingdom, `London SW1A 1AA`)
      or "12345 City". A street followed by another capitalised word without a comma is a
      headline ("Top 10 Scenic Road Trips"), and a four-digit year after "in", "since", "by"
      ... is not a house number ("in 2019 Oxford Street closed").
    - French: number (`12`, `12 bis`), rue / avenue / boulevard / bd / allée / impasse / quai /
      chemin / place, a name (capitalised words linked by de, du, des, la, l' ...), then
      optionally "75002 Paris".
    - German: a street ending in -straße, -strasse, -str., -weg, -allee, -gasse, -damm
      (`Hauptstraße`, `Karl-Marx-Allee`, `Berliner Straße`), the number (`12`, `12a`), then
      optionally "10115 Berlin".
    - Spanish: calle / C/ / avenida / avda. / paseo, a name, the number (`nº 15`), an optional
      floor (`3º B`), then optionally "28013 Madrid".

    A street name without a house number ("Abbey Road", "rue de Rivoli") is not an address
    here: it names a place many people share.
    """
    for pattern in (_ADDRESS_ENGLISH, _ADDRESS_FRENCH, _ADDRESS_GERMAN, _ADDRESS_SPANISH):
        for found in pattern.finditer(text):
            if pattern is _ADDRESS_ENGLISH and _is_year(text, found.group("number"), found.start()):
                continue
            end = found.end()
            while end > found.start() and text[end - 1] in " ,":
                end -= 1
            yield _match("postal_address", text, found.start(), end)


def _is_year(text: str, number: str, start: int) -> bool:
    return (
        len(number) == 4
        and number.isdigit()
        and 1800 <= int(number) <= 2099
        and bool(_YEAR_BEFORE.search(text[max(0, start - 12) : start]))
    )


# --- government ids --------------------------------------------------------------------------

_US_SOCIAL_SECURITY = re.compile(r"(?<![\w-])(?!000|666|9)\d{3}-(?!00)\d\d-(?!0000)\d{4}(?!\w|-\d)")
_UK_NATIONAL_INSURANCE = re.compile(
    r"(?<![\w-])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][ ]?\d\d[ ]?\d\d[ ]?\d\d[ ]?[A-D](?!\w)"
)
_FRENCH_NIR = re.compile(
    rf"""
    {_NUMBER_STARTS}
    [1-478][ ]?\d\d[ ]?(?:0[1-9]|1[0-2]|[2-9]\d)[ ]?(?:\d\d|2[AB])[ ]?\d{{3}}[ ]?\d{{3}}[ ]?\d\d
    {_NUMBER_ENDS}
    """,
    re.VERBOSE,
)


def _government_id_matches(text: str) -> Iterator[PiiMatch]:
    """Government identity numbers.

    - United States Social Security number, written `AAA-GG-SSSS`: the area is never 000, 666
      or 900 to 999, the group never 00, the serial never 0000.
    - United Kingdom National Insurance number (`AB 12 34 56 C`, spaces optional): two prefix
      letters (not D, F, I, Q, U, V; the second not O either; never BG, GB, NK, KN, TN, NT or
      ZZ), six digits, a final letter A to D.
    - French social security number (NIR), 13 digits and a 2-digit key, spaces optional
      (`1 85 05 78 006 084 91`): sex 1, 2, 3, 4, 7 or 8, the department may be 2A or 2B
      (Corsica, counted as 19 and 18), and the key must be 97 - (number mod 97).
    """
    for pattern in (_US_SOCIAL_SECURITY, _UK_NATIONAL_INSURANCE):
        for found in pattern.finditer(text):
            yield _match("government_id", text, found.start(), found.end())
    for found in _FRENCH_NIR.finditer(text):
        if french_nir_is_valid(found.group()):
            yield _match("government_id", text, found.start(), found.end())


def french_nir_is_valid(nir: str) -> bool:
    """True when the last two digits of a French NIR are 97 - (the first 13 mod 97)."""
    compact = nir.replace(" ", "").upper()
    if len(compact) != 15:
        return False
    number = compact[:13].replace("2A", "19", 1).replace("2B", "18", 1)
    if not number.isdigit() or not compact[13:].isdigit():
        return False
    return int(compact[13:]) == 97 - int(number) % 97


# --- bank accounts ---------------------------------------------------------------------------

# IBAN length by country (ISO 13616 registry), for the countries contributors are most likely
# to write; other countries are accepted at any length from 15 to 34.
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
    "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
    "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
}  # fmt: skip
_IBAN_START = re.compile(r"(?<![\w-])[A-Za-z]{2}\d\d(?=[ ]?[A-Za-z0-9])")


def _bank_account_matches(text: str) -> Iterator[PiiMatch]:
    """International bank account numbers (IBAN), kind `bank_account`: a country code, two check
    digits and the national account number, written together or in groups of four
    (`DE12 5001 0517 0648 4898 90`, also in small letters). The length must be the country's (any 15 to 34 for
    countries not in the table) and the number must pass the ISO 7064 mod-97 check."""
    for found in _IBAN_START.finditer(text):
        ends = _iban_ends(text, found.start())
        allowed = _IBAN_LENGTHS.get(found.group()[:2].upper())
        for length in sorted(ends, reverse=True):
            if (length == allowed or (allowed is None and 15 <= length <= 34)) and iban_is_valid(
                text[found.start() : ends[length]]
            ):
                yield _match("bank_account", text, found.start(), ends[length])
                break


_IBAN_GROUPS = re.compile(r"[A-Za-z0-9]+(?:[ ][A-Za-z0-9]+)*")


def _iban_ends(text: str, start: int) -> dict[int, int]:
    """Where an IBAN starting at `start` could end: {number of characters: end position}, at
    the end of each group of letters and digits (groups separated by single spaces)."""
    ends: dict[int, int] = {}
    count = 0
    groups = _IBAN_GROUPS.match(text, start, min(len(text), start + 50))
    for group in re.finditer(r"[A-Za-z0-9]+", groups.group() if groups else ""):
        count += len(group.group())
        if count > 34:
            break
        end = start + group.end()
        if not text[end : end + 1].isalnum():  # not where the search window cut a word
            ends[count] = end
    return ends


def iban_is_valid(iban: str) -> bool:
    """The ISO 7064 mod-97 check: move the first four characters to the end, turn letters into
    numbers (A = 10 ... Z = 35), and the number mod 97 must be 1."""
    compact = iban.replace(" ", "")
    if not compact.isascii() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(character, 36)) for character in rearranged)) % 97 == 1
