"""Toxic language in English text: a weighted lexicon with obfuscation-aware matching.

Pure Python, no model, no download, no Django. `toxicity_score(text)` reads the text as words,
matches them against the lexicon below and combines the weights of what it found into a score
between 0 and 1; a text is toxic when the score reaches `TOXIC_THRESHOLD`. docs/moderation.md
gives the precision and recall measured on feedback/tests/data/toxicity_labelled.jsonl.

How the text is read, step by step:

1. Unicode is folded (NFKC, lower case, accents dropped, curly quotes made straight), and
   letters spelled out one by one ("i d i o t", "f.u.c.k") are joined into one word.
2. Words are split on anything that is not a letter, a digit or one of `@ $ * # ! '` inside a
   word, so "Scunthorpe", "cocktail" or "assassin" are one word each and never contain a match
   (word boundaries).
3. Inside a word that has letters, leetspeak is undone (`0→o 1→i 3→e 4→a 5→s 7→t 8→b @→a $→s
   !→i`), and `*` or `#` stand for one hidden letter each ("f*ck", "f***ing", "n*gger").
4. A word is looked up as written, then with letters repeated three times or more cut to two
   ("stuuupid" → "stuupid"), then with every repeat cut to one ("stupid"), then without a
   plural "s" / "es". So "ass" stays "ass" and never becomes "as".
5. Short forms are expanded (u → you, ur → your, you're → you are, i'll → i will, gonna →
   going to), and phrases (threats, "piece of shit", "kill yourself") are matched on the
   expanded words.

What keeps false alarms down:

- False friends: a word is not counted next to the words that give it its harmless meaning
  (`_FRIENDS`: "homo sapiens", "great tits", "pussy willow", "chinks in his armour", "the
  bitch and her puppies", "dam and dyke", "faggots in gravy", "retarded potential", ...), and
  "Dick" with a capital D is a name.
- Mentions: a word or phrase in quotation marks next to a word that talks about words ("the
  word 'idiot'", "called her 'stupid'", "threats such as 'I will kill you'", "what does 'kys'
  mean") counts a tenth of its weight, and so does "the word idiot" without quotes.
- Mild insults ("idiot", "stupid", "loser") only count in full when aimed at someone: a
  second-person word ("you", "your", "ur") close by in the same sentence. "I felt like an
  idiot" or "stupid question, but" stay below the threshold.
- Profanity on its own ("holy shit, that helped") weighs little; threats need a person as
  their object ("I will kill you", not "kill the process") and are dropped after a negation
  ("never drink bleach").

Slurs are stored ROT13-encoded in `_SLURS_ROT13` so that the source does not spell them out;
they are decoded once at import and matched in their real forms.
"""

import codecs
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

TOXIC_THRESHOLD = 0.5
# What a mention of a word (in quotes, "the word ...") counts compared with its use.
MENTION_FACTOR = 0.1
# How much an insult aimed at someone ("you idiot") adds to its weight.
TARGETED_BONUS = 0.3
# The categories whose matches make a toxic text high severity.
HIGH_SEVERITY_CATEGORIES = frozenset({"slur", "threat", "sexual"})

# --- the lexicon ------------------------------------------------------------------------------

# word -> (category, weight, counts more when aimed at someone)
_WORDS: dict[str, tuple[str, float, bool]] = {}


def _add(category: str, weight: float, words: str, *, is_targeted: bool = False) -> None:
    for word in words.split():
        _WORDS[word] = (category, weight, is_targeted)


# Mild insults: below the threshold on their own, above it when aimed at someone.
_add(
    "insult",
    0.35,
    """idiot idiotic stupid stupidest moron moronic dumb dumber dumbest dummy muppet fool foolish loser imbecile
    cretin halfwit nitwit dimwit numbskull buffoon clown pathetic worthless ignorant brainless
    braindead twit freak ugly fat pig rat troll disgusting incompetent clueless dork jerk creep
    spineless coward liar lying scum cow""",
    is_targeted=True,
)
# Strong insults: above the threshold on their own.
_add(
    "insult",
    0.6,
    """asshole arsehole asshat dumbass dickhead scumbag jackass douchebag douche bastard bitch whore slut
    prick twat wanker shithead dipshit fuckface fucker subhuman""",
    is_targeted=True,
)
_add("insult", 0.75, "cunt motherfucker")
_add("insult", 0.45, "dick pussy", is_targeted=True)
# Verbs that insult when aimed at someone ("you suck").
_add("insult", 0.2, "suck sucks", is_targeted=True)
# Profanity: rude, rarely toxic on its own.
_add("profanity", 0.25, "fuck fucking fucked fuckin frigging shit shitty bullshit piss pissed ass arse crap")
_add("profanity", 0.1, "damn goddamn hell bloody freaking")
# Threats in one word.
_add("threat", 0.9, "kys")

_SLURS_ROT13 = "avttre avttn snttbg snt ergneq ergneqrq genaal puvax fcvp xvxr jrgonpx qlxr ubzb tbbx cnxv ornare"
_add("slur", 0.85, codecs.decode(_SLURS_ROT13, "rot13"))

# Phrases, matched on the expanded words joined by single spaces (punctuation as its own word).
# (category, weight, pattern)
_FIRST_PERSON_FUTURE = r"\b(?:i|we) (?:will|would|am going to|are going to|shall|want to)"
_GAP = r"(?: (?!never\b|not\b|dont\b|wont\b|cant\b|wouldnt\b)[a-z]+){0,6}?"
_NOT_NEGATED = r"(?<!never )(?<!not )(?<!dont )(?<!do not )"
_PHRASES: list[tuple[str, float, str]] = [
    (
        "threat",
        0.9,
        _FIRST_PERSON_FUTURE
        + _GAP
        + r" (?:kill|murder|hurt|stab|shoot|strangle|choke|rape|end|beat|slap|punch|destroy|hunt) you\b",
    ),
    (
        "threat",
        0.9,
        _FIRST_PERSON_FUTURE + _GAP + r" (?:kill|murder|hurt|stab|shoot|rape|break|smash|burn) your (?:whole )?"
        r"(?:family|legs?|arms?|face|neck|kids|children|head|skull|teeth|mother|wife|house|home|car)\b",
    ),
    ("threat", 0.85, r"\bbeat the (?:crap|shit|hell|living daylights) out of you\b"),
    ("threat", 0.9, _NOT_NEGATED + r"\b(?:kill|hang|end|off|neck|unalive) yourself\b"),
    ("threat", 0.9, r"\b(?:die in a fire|fuck off and die)\b"),
    ("threat", 0.9, r"(?:^|[.!?] |\bgo |\bjust |\band )die\b(?! (?:cast|casting|hard)\b)"),
    ("threat", 0.9, r"\b(?:hope|wish) (?:that )?you (?:die|get cancer|get hit|burn|rot)\b"),
    (
        "threat",
        0.9,
        r"\byou (?:should|deserve to|ought to) (?:die|be (?:shot|killed|raped|hanged)|get (?:raped|shot|cancer))\b",
    ),
    ("threat", 0.9, r"\bdeserve to be raped\b"),
    ("threat", 0.8, r"\b(?:nobody|no one) would miss you\b"),
    ("threat", 0.9, _NOT_NEGATED + r"\bdrink bleach\b"),
    ("threat", 0.85, r"(?:^|[.!?] |\bgo |\bjust |\byou )get cancer\b"),
    ("threat", 0.8, r"\bi know where you live\b"),
    ("threat", 0.45, r"\bwatch your back\b"),
    ("threat", 0.9, r"\b(?:someone|somebody|they) (?:should|needs to|ought to) (?:shoot|kill|hang|murder|stab)\b"),
    ("sexual", 0.85, r"\bsend (?:me )?(?:your )?(?:nudes|nude pics|naked pics)\b"),
    ("sexual", 0.85, r"\bshow me your (?:tits|boobs|body|pussy|dick|ass)\b"),
    ("sexual", 0.9, r"\b(?:i|we) (?:will|would|want to|am going to) rape\b"),
    ("insult", 0.6, r"\bpiece of (?:shit|garbage|trash|crap)\b"),
    ("insult", 0.6, r"\bwaste of (?:space|oxygen|air|skin)\b"),
    ("insult", 0.6, r"\bson of a bitch\b"),
    ("insult", 0.7, r"\bfuck (?:you|u|off)\b"),
    ("insult", 0.85, r"\b(?:go )?fuck yourself\b"),
    ("insult", 0.55, r"\b(?:screw you|piss off|kiss my (?:ass|arse)|eat shit|up your (?:ass|arse))\b"),
    ("insult", 0.3, r"\bshut (?:the (?:hell|fuck|heck) )?(?:up|your mouth)\b"),
    ("insult", 0.55, r"\b(?:joke|excuse) of a (?:human|human being|person|man|woman)\b"),
    ("insult", 0.5, r"\b(?:thick as a brick|dumber than a)\b"),
    ("insult", 0.6, r"\bget back (?:in|into|to) the kitchen\b"),
    ("insult", 0.5, r"\bwhat(?: the (?:fuck|hell|heck))? is wrong with you\b"),
    ("insult", 0.35, r"\bbrain dead\b"),
]

# Words near which a lexicon word has its harmless meaning (within `_FRIEND_WINDOW` words).
_FRIEND_WINDOW = 6
_FRIENDS: dict[str, frozenset[str]] = {
    word: frozenset(friends.split())
    for word, friends in {
        "bitch": "puppy puppies litter kennel whelp whelped whelping breeding breeder dog dogs",
        "jackass": "donkey donkeys mule burro",
        "ass": "donkey donkeys mule burro",
        "pussy": "cat cats kitten willow willows",
        "dick": "moby",
    }.items()
}
for _slur_rot13, _friends in {
    "ubzb": "sapiens erectus habilis neanderthalensis floresiensis naledi heidelbergensis genus",
    "ergneqrq": "potential potentials time growth flame",
    "puvax": "armour armor light wall",
    "qlxr": "dam dams polder levee levees flood sea embankment canal dutch van",
    "snttbg": "gravy peas dish meatball meatballs recipe butcher pork",
}.items():
    _FRIENDS[codecs.decode(_slur_rot13, "rot13")] = frozenset(_friends.split())
# Birds: "great tit", "blue tits".
_FRIENDS["tit"] = frozenset("great blue coal marsh crested willow bird birds feeder nest".split())
_add("sexual", 0.4, "tit tits boobs", is_targeted=True)

# Mild insults that name a person: alone as an exclamation ("Idiot!") they are aimed at someone.
_PERSON_NOUNS = frozenset(
    """idiot moron dummy fool loser imbecile cretin halfwit nitwit dimwit numbskull buffoon clown
    twit freak pig rat troll dork jerk creep coward liar scum cow muppet""".split()
)
_SECOND_PERSON = frozenset({"you", "your", "yours", "yourself", "yourselves"})
_FIRST_PERSON = frozenset({"i", "me", "my", "myself", "we", "us"})
# Words that talk about words: a quoted word next to one of these is mentioned, not used.
_MENTION_CUES = frozenset(
    """word words term terms phrase phrases slur slurs insult insults call called calling calls say said
    says saying mean means meaning meant spelled spell spelling write wrote written writes repeat
    repeats quote quoted quotes label labelled labeled definition define translate translation
    threats threat describes describe""".split()
)

_EXPANSIONS = {
    "u": ("you",),
    "ya": ("you",),
    "ur": ("your",),
    "youre": ("you", "are"),
    "you're": ("you", "are"),
    "you'll": ("you", "will"),
    "i'm": ("i", "am"),
    "im": ("i", "am"),
    "i'll": ("i", "will"),
    "we'll": ("we", "will"),
    "we're": ("we", "are"),
    "i'd": ("i", "would"),
    "gonna": ("going", "to"),
    "gunna": ("going", "to"),
    "wanna": ("want", "to"),
    "urself": ("yourself",),
    "fck": ("fuck",),
    "fuk": ("fuck",),
    "fking": ("fucking",),
    "fcking": ("fucking",),
    "stfu": ("shut", "the", "fuck", "up"),
}

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i"}
)
_QUOTES = str.maketrans(
    {"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "`": "'"}
)
_SPELLED_OUT = re.compile(r"(?<![a-z0-9*])(?:[a-z*][ .\-_]){2,}[a-z*](?![a-z0-9*])")
_TOKEN = re.compile(r"""[a-z0-9@$*#]+(?:['!][a-z0-9@$*#]+)*|[.?!;:]+|,|["']""")


@dataclass(frozen=True)
class ToxicMatch:
    category: str  # "slur" | "threat" | "sexual" | "insult" | "profanity"
    text: str  # the words that matched, normalised ("idiot", "i will kill you")
    weight: float  # what it adds to the score, after mention and targeting are applied
    is_mention: bool


@dataclass(frozen=True)
class ToxicityResult:
    score: float  # 0..1: 1 - product of (1 - weight) over the matches
    matches: tuple[ToxicMatch, ...]  # heaviest first

    @property
    def is_toxic(self) -> bool:
        return self.score >= TOXIC_THRESHOLD

    @property
    def severity(self) -> str:
        """ "high" for a toxic text with a slur, a threat or sexual harassment in it, "medium"
        for another toxic text (insults, profanity aimed at someone), "low" below the threshold."""
        if not self.is_toxic:
            return "low"
        if any(
            match.category in HIGH_SEVERITY_CATEGORIES and not match.is_mention and match.weight >= TOXIC_THRESHOLD
            for match in self.matches
        ):
            return "high"
        return "medium"


@dataclass
class _Token:
    word: str  # normalised; punctuation tokens are "." "," or '"'
    original: str  # as written (case kept), for "Dick" the name

    @property
    def is_stop(self) -> bool:
        return self.word == "."

    @property
    def is_quote(self) -> bool:
        return self.word == '"'


def toxicity_score(text: str) -> ToxicityResult:
    """How toxic `text` is, and why: see the module's docstring for the rules."""
    tokens = _tokens(text)
    words = [token.word for token in tokens]
    joined, starts = _joined(words)
    matches: list[ToxicMatch] = []
    covered: set[int] = set()

    for category, weight, pattern in _compiled_phrases():
        for found in pattern.finditer(joined):
            first = _token_at(starts, found.start())
            last = _token_at(starts, found.end() - 1)
            span = range(first, last + 1)
            if covered & set(span):
                continue
            covered.update(span)
            is_mention = _is_mention(tokens, first, last)
            if category == "insult" and not is_mention and _is_targeted(tokens, first, last):
                weight = min(0.95, weight + TARGETED_BONUS)
            matches.append(_match(category, " ".join(words[first : last + 1]), weight, is_mention))

    for index, token in enumerate(tokens):
        if index in covered or token.word not in _WORDS:
            continue
        category, weight, is_targeted = _WORDS[token.word]
        if _has_friend(tokens, index) or (token.word == "dick" and token.original[:1] == "D"):
            continue
        is_mention = _is_mention(tokens, index, index)
        if is_targeted and not is_mention and _is_targeted(tokens, index, index):
            weight = min(0.95, weight + TARGETED_BONUS)
        matches.append(_match(category, token.word, weight, is_mention))

    remaining = 1.0
    for found in matches:
        remaining *= 1.0 - found.weight
    matches.sort(key=lambda found: -found.weight)
    return ToxicityResult(score=round(1.0 - remaining, 4), matches=tuple(matches))


def toxicity_is_toxic(text: str) -> bool:
    return toxicity_score(text).is_toxic


def masked(word: str) -> str:
    """A slur as a moderator reads it: first and last letter kept ("f****t")."""
    if len(word) <= 2:
        return word[0] + "*" * (len(word) - 1)
    return word[0] + "*" * (len(word) - 2) + word[-1]


# --- reading the text ---------------------------------------------------------------------------


def _match(category: str, text: str, weight: float, is_mention: bool) -> ToxicMatch:
    return ToxicMatch(
        category=category,
        text=text,
        weight=round(weight * MENTION_FACTOR if is_mention else weight, 4),
        is_mention=is_mention,
    )


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _tokens(text: str) -> list[_Token]:
    folded = _fold(text)
    lower = folded.lower()
    if len(lower) != len(folded):  # a rare letter whose lower case is longer: keep no case
        folded = lower
    # Letters spelled out one by one are joined; the same spans are joined in the text as
    # written, so both keep the same length and a word's original case can be read back.
    pieces_lower: list[str] = []
    pieces_original: list[str] = []
    position = 0
    for found in _SPELLED_OUT.finditer(lower):
        pieces_lower += [lower[position : found.start()], re.sub(r"[ .\-_]", "", found.group())]
        pieces_original += [
            folded[position : found.start()],
            re.sub(r"[ .\-_]", "", folded[found.start() : found.end()]),
        ]
        position = found.end()
    lower = "".join([*pieces_lower, lower[position:]])
    original = "".join([*pieces_original, folded[position:]])
    tokens: list[_Token] = []
    for found in _TOKEN.finditer(lower):
        raw = found.group()
        written = original[found.start() : found.end()]
        if raw in ('"', "'"):
            tokens.append(_Token('"', written))
        elif raw == ",":
            tokens.append(_Token(",", written))
        elif not raw[0].isalnum() and raw[0] not in "@$*#":
            tokens.append(_Token(".", written))
        else:
            tokens.extend(_Token(word, written) for word in _normalised_words(raw))
    return tokens


def _normalised_words(raw: str) -> tuple[str, ...]:
    word = raw
    if any(char.isalpha() for char in word):
        word = word.translate(_LEET)
    if word in _EXPANSIONS:
        return _EXPANSIONS[word]
    word = word.replace("'", "")
    if word in _EXPANSIONS:
        return _EXPANSIONS[word]
    return (_canonical(word),)


def _canonical(word: str) -> str:
    """The lexicon or phrase word that `word` is a spelling of, or `word` itself."""
    vocabulary = _vocabulary()
    if "*" in word or "#" in word:
        return _unmasked(word) or word
    for variant in _variants(word):
        if variant in vocabulary:
            return variant
    return word


def _variants(word: str) -> list[str]:
    two = re.sub(r"(.)\1{2,}", r"\1\1", word)
    one = re.sub(r"(.)\1+", r"\1", word)
    forms = [word, two, one]
    for form in (word, two, one):
        if len(form) > 3 and form.endswith("es"):
            forms.append(form[:-2])
        if len(form) > 3 and form.endswith("s"):
            forms.append(form[:-1])
    return forms


def _unmasked(word: str) -> str | None:
    """A word with `*` or `#` for hidden letters, as the lightest lexicon word it can be."""
    letters = sum(char.isalpha() for char in word)
    if letters == 0:
        return None
    pattern = re.compile("".join("[a-z]" if char in "*#" else re.escape(char) for char in word))
    candidates = [
        entry
        for entry in _WORDS
        if pattern.fullmatch(entry)
        or (word.endswith("s") and pattern.fullmatch(entry + "s"))
        or pattern.fullmatch(entry + "es")
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda entry: (_WORDS[entry][1], entry))


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    phrase_words = set(re.findall(r"[a-z]+", " ".join(pattern for _, _, pattern in _PHRASES)))
    return frozenset(_WORDS) | frozenset(word for word in phrase_words if len(word) > 2)


@lru_cache(maxsize=1)
def _compiled_phrases() -> list[tuple[str, float, re.Pattern]]:
    return [(category, weight, re.compile(pattern)) for category, weight, pattern in _PHRASES]


def _joined(words: list[str]) -> tuple[str, list[int]]:
    starts = []
    position = 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    return " ".join(words), starts


def _token_at(starts: list[int], offset: int) -> int:
    low, high = 0, len(starts) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if starts[middle] <= offset:
            low = middle
        else:
            high = middle - 1
    return low


def _has_friend(tokens: list[_Token], index: int) -> bool:
    word = tokens[index].word
    friends = _FRIENDS.get(word) or (_FRIENDS.get(word[:-1]) if word.endswith("s") else None)
    if not friends:
        return False
    window = tokens[max(0, index - _FRIEND_WINDOW) : index + _FRIEND_WINDOW + 1]
    return any(token.word in friends for token in window)


def _is_targeted(tokens: list[_Token], first: int, last: int) -> bool:
    """Aimed at someone: a second-person word within four words before or three after, in the
    same sentence, with no first-person word closer before it ("I felt like an idiot"); or a
    word for a person standing alone as an exclamation of at most four words ("Idiot.",
    "What a moron!")."""
    sentence_start = next((i + 1 for i in range(first - 1, -1, -1) if tokens[i].is_stop), 0)
    sentence_end = next((i for i in range(last + 1, len(tokens)) if tokens[i].is_stop), len(tokens))
    sentence = [token.word for token in tokens[sentence_start:sentence_end] if token.word not in {",", '"'}]
    if _FIRST_PERSON & set(sentence):
        before = [token.word for token in tokens[sentence_start:first]]
        if _FIRST_PERSON & set(before[-5:]):
            return False
    if (
        first == last
        and tokens[first].word in _PERSON_NOUNS
        and len(sentence) <= 4
        and not _FIRST_PERSON & set(sentence)
    ):
        return True
    before = [token.word for token in tokens[sentence_start:first] if token.word not in {",", '"'}][-4:]
    after = [token.word for token in tokens[last + 1 : sentence_end] if token.word not in {",", '"'}][:3]
    return bool(_SECOND_PERSON & set(before + after))


def _is_mention(tokens: list[_Token], first: int, last: int) -> bool:
    """Quoted and next to a word about words, or right after "the word" / "the term"."""
    if first >= 2 and tokens[first - 1].word in {"word", "term", "slur", "insult"} and tokens[first - 2].word == "the":
        return True
    opening = next((i for i in range(first - 1, max(-1, first - 7), -1) if tokens[i].is_quote), None)
    closing = next((i for i in range(last + 1, min(len(tokens), last + 7)) if tokens[i].is_quote), None)
    if opening is None or closing is None:
        return False
    if any(tokens[i].is_stop for i in range(opening + 1, closing)):
        return False
    before = [token.word for token in tokens[max(0, opening - 8) : opening]]
    after = [token.word for token in tokens[closing + 1 : closing + 4]]
    if any(word in _MENTION_CUES for word in before + after):
        return True
    return any(before[i] == "such" and before[i + 1] == "as" for i in range(len(before) - 1))
