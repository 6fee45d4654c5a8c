"""Deterministic text embeddings that behave like a small multilingual sentence encoder.

No model weights can be downloaded on a workshop laptop, so the mock builds each
embedding from the text itself. Words of every script are found with Unicode classes;
each becomes a few weighted *features*:

- its stem (Snowball stemmers for English, the main European languages, Russian,
  Greek, Arabic and Hindi, chosen per text), after contractions, stop words and a
  synonym table for English, so inflections ("procrastinating", "procrastination")
  meet;
- its character trigrams, lightly, so typos and compounds land near their word;
- in scripts written without spaces (Chinese, Japanese, Thai...), each character and
  each pair of neighbouring characters, function characters (kana particles) weighted
  down;
- emoji and symbols as features of their own; numbers whole;
- word order through weighted pairs of neighbouring terms; negation through a marker
  and a shifted copy of the negated word; antonyms through a shared family feature
  (close, as in real encoders, but below a cache's threshold).

Each feature is mapped to a fixed signed sparse vector by a cryptographic hash (never
Python's salted ``hash()``): 16 of the 256 dimensions, set with numpy in one pass,
the same in every process. The sum is normalised to unit length.

The result has the properties a semantic cache needs and the failure modes real
encoders have: paraphrases land close, other topics and other scripts land near
zero, and hard negatives (negations, swapped entities, changed numbers, opposites)
land *close but not equal*, which is exactly where a similarity threshold must be
chosen with care. Swapped entities ("from New York to Florida" and back) score high,
as they do with real encoders: that is a lesson of lab 02.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from functools import lru_cache

import numpy as np
import snowballstemmer  # type: ignore[import-untyped]

from .catalogue import EMBEDDING_DIMENSIONS

_CONTRACTIONS = (
    (re.compile(r"\b(can)'t\b"), r"\1 not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'s\b"), " is"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
)

STOP_WORDS = frozenset(
    """a an the is are was were be been being am do does did doing have has had having i me my we our you
    your he she it its they them their this that these those there here what which who whom whose how
    why when where of to in on at by for with from into onto about as and or but if then so than too
    very can could would should will shall may might must tell say show give let please kindly know want
    need like get some any just really quite also well hi hello hey thanks thank""".split()
)
NEGATIONS = frozenset({"not", "no", "never", "without", "nor", "cannot", "neither", "none"})

# Words that carry little topic: they count, but weakly.
LIGHT_WORDS = frozenset(
    """today now currently right moment still ever again much many lot lots bit little time way thing
    things one something anything everything office find make offer list""".split()
)

# Phrases folded into one word before splitting, as an encoder reads them as one idea.
PHRASES = (
    ("money back", "refund"),
    ("turn on", "enable"),
    ("switch on", "enable"),
    ("turn off", "disable"),
    ("switch off", "disable"),
    ("sign in", "signin"),
    ("log in", "signin"),
    ("single sign-on", "sso"),
    ("two-factor authentication", "2fa"),
    ("two factor authentication", "2fa"),
    ("set up", "setup"),
    ("how much", "cost"),
    ("rate limit", "ratelimit"),
    ("team member", "member"),
    ("opening hours", "open"),
    ("payment method", "pay"),
)

# Synonyms and inflections folded onto one canonical form (applied after stemming too).
SYNONYMS = {
    "price": "cost",
    "pric": "cost",
    "charge": "cost",
    "fee": "cost",
    "expense": "cost",
    "purchase": "buy",
    "order": "buy",
    "forecast": "weather",
    "temperature": "weather",
    "hour": "open",
    "available": "open",
    "reimburse": "refund",
    "reimbursement": "refund",
    "terminate": "cancel",
    "subscription": "plan",
    "tier": "plan",
    "shipping": "deliver",
    "delivery": "deliver",
    "ship": "deliver",
    "shipment": "deliver",
    "login": "signin",
    "saml": "sso",
    "profile": "account",
    "help": "support",
    "assist": "support",
    "assistance": "support",
    "phone": "call",
    "telephone": "call",
    "email": "mail",
    "e-mail": "mail",
    "fix": "repair",
    "broken": "break",
    "broke": "break",
    "explain": "describe",
    "define": "describe",
    "definition": "describe",
    "meaning": "describe",
    "forgot": "reset",
    "forget": "reset",
    "forgotten": "reset",
    "download": "export",
    "invite": "add",
    "colleague": "member",
    "teammate": "member",
    "update": "change",
    "modify": "change",
    "edit": "change",
    "higher": "increase",
    "rais": "increase",
    "more": "increase",
    "extra": "increase",
    "iphone": "mobile",
    "android": "mobile",
    "outage": "status",
    "down": "status",
    "stored": "region",
    "hosted": "region",
    "located": "region",
    "guarantee": "sla",
    "include": "limit",
    "try": "trial",
}

# Antonym families share a component, as real encoders place opposites close together.
ANTONYM_FAMILIES = {
    "cheap": "price_level",
    "expensive": "price_level",
    "cheapest": "price_level",
    "increase": "change_dir",
    "decrease": "change_dir",
    "raise": "change_dir",
    "lower": "change_dir",
    "enable": "toggle",
    "disable": "toggle",
    "start": "begin_end",
    "stop": "begin_end",
    "open": "open_close",
    "close": "open_close",
    "closed": "open_close",
    "always": "frequency",
    "never": "frequency",
    "win": "win_lose",
    "lose": "win_lose",
    "accept": "accept_reject",
    "reject": "accept_reject",
    "arrive": "come_go",
    "depart": "come_go",
    "import": "import_export",
    "export": "import_export",
    "love": "like_dislike",
    "hate": "like_dislike",
    "early": "timing",
    "late": "timing",
    "minimum": "extreme",
    "maximum": "extreme",
    "buy": "trade",
    "sell": "trade",
    "best": "rank",
    "worst": "rank",
    "fast": "speed",
    "slow": "speed",
    "hot": "heat",
    "cold": "heat",
    "before": "order_time",
    "after": "order_time",
    "add": "add_remove",
    "remove": "add_remove",
    "delete": "add_remove",
    "upgrade": "grade",
    "downgrade": "grade",
}


# Stop words and negations of the other languages the stemmers cover (the short, frequent ones).
FOREIGN_STOP_WORDS = {
    "spanish": """el la los las lo de del que y en un una unos unas por para con es son se me te le les
        mi mis tu tus su sus como más pero o este esta esto ese esa al hay qué cómo cuándo dónde cuál puedo
        puede yo usted ustedes nos muy ya""",
    "french": """le la les l de des du d un une et en que qu qui pour par sur au aux avec ce cet cette ces
        dans est il elle on nous vous ils elles je j tu mon ma mes son sa ses leur votre vos plus ou mais
        comme si se s sont être avoir peut comment quand où quel quelle quels pourquoi c y a""",
    "german": """der die das den dem des ein eine einer eines einen und oder aber ist sind war ich du er sie
        es wir ihr mein meine meinen dein sein seine zu zum zur mit von für auf an in im am bei nach aus wie
        was wann wo warum kann können bitte mir mich uns""",
    "portuguese": """o a os as de do da dos das um uma e em no na nos nas que por para com se é são eu você
        meu minha como quando onde qual porque mais mas ou ao posso pode""",
    "italian": """il lo la i gli le l di del della dei delle un una uno e in che per con su è sono io tu lui
        lei noi voi come quando dove perché più ma o al alla mio mia posso può""",
    "russian": """и в во что он на я с со как а то все она так его но да ты к у же вы за бы по только ее
        мне было вот от меня еще о из ему когда даже ну ли если уже или быть был него до вас там потом себя
        ей может они тут где есть надо ней для мы тебя их чем была сам чтобы чего раз тоже себе под будет
        тогда кто этот того потому этого какой какая какие здесь этом мой тем сейчас можно при об мою моя
        мои свой свою вам как""",
}
FOREIGN_NEGATIONS = frozenset(
    "no nunca sin ne pas jamais sans nicht kein keine keinen nie ohne não nem sem non mai senza".split()
    + "не нет ни без никогда".split()
)
_STOP_BY_LANGUAGE = {language: frozenset(words.split()) for language, words in FOREIGN_STOP_WORDS.items()}
# Scripts written without spaces between words: each character is a feature, with its neighbours.
_UNSEGMENTED = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
)
_LIGHT_CHARS = frozenset("的了是吗呢吧么啊在和与我你他她它们这那有个也就都很请问嗎們這個與請問")
_NEGATION_CHARS = frozenset("不没沒無无未別别")
_TOKEN = re.compile(r"[^\W\d_]+|\d+(?:[.,]\d+)*|[^\w\s]")

W_CONTENT = 1.0
W_LIGHT = 0.3
W_NUMBER = 0.7
W_BIGRAM = 0.5
W_NEGATION = 0.6
W_NGRAMS = 0.35  # the norm of a word's character trigrams, relative to its stem
W_CHAR = 0.7  # one character of an unsegmented script
W_LIGHT_CHAR = 0.25
W_SYMBOL = 0.8
NEGATED_SHIFT = 0.7  # share of a negated word's vector moved to its "not-" twin
ANTONYM_SHARE = 0.6  # antonyms share this much of their vector: cosine 0.36 word to word

_NONZERO = 16  # dimensions each feature sets, to +-1/4
_SHIFT = np.uint64(64 - EMBEDDING_DIMENSIONS.bit_length() + 1)
_SIGN_SHIFT = np.uint64(int(_SHIFT) - 1)
assert EMBEDDING_DIMENSIONS & (EMBEDDING_DIMENSIONS - 1) == 0, "the sparse projection needs a power of two"
# Odd multipliers for multiply-shift hashing, fixed for ever (changing them changes every vector).
_MULTIPLIERS = np.array(
    [int.from_bytes(hashlib.blake2b(f"m{i}".encode(), digest_size=8).digest(), "little") | 1 for i in range(_NONZERO)],
    dtype=np.uint64,
)

_STEMMERS: dict[str, object] = {}


def _stemmer(language: str) -> object:
    if language not in _STEMMERS:
        _STEMMERS[language] = snowballstemmer.stemmer(language)
    return _STEMMERS[language]


@lru_cache(maxsize=1 << 17)
def _stem(word: str, language: str) -> str:
    return str(_stemmer(language).stemWord(word))  # type: ignore[attr-defined]


def _script_language(char: str) -> str | None:
    """The stemmer for a word in ``char``'s script (Latin is decided per text)."""
    code = ord(char)
    if 0x370 <= code < 0x400:
        return "greek"
    if 0x400 <= code < 0x530:
        return "russian"
    if 0x600 <= code < 0x700:
        return "arabic"
    if 0x900 <= code < 0x980:
        return "hindi"
    return None


def _unsegmented(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _UNSEGMENTED)


def _latin_language(words: list[str]) -> str:
    """English unless the text's function words say another language the stemmers know."""
    votes = {language: sum(w in stops for w in words) for language, stops in _STOP_BY_LANGUAGE.items()}
    votes["english"] = sum(w in STOP_WORDS for w in words)
    best = max(votes, key=lambda language: (votes[language], language == "english"))
    return best if votes[best] > votes["english"] else "english"


def _trigrams(word: str) -> list[str]:
    padded = f"<{word}>"
    return [padded[i : i + 3] for i in range(len(padded) - 2)] if len(word) >= 4 else []


def _prepare(text: str) -> str:
    lowered = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
    for phrase, word in PHRASES:
        lowered = lowered.replace(phrase, word)
    for pattern, repl in _CONTRACTIONS:
        lowered = pattern.sub(repl, lowered)
    return lowered


Term = tuple[str, float, bool]  # (term, weight, negated)


def normalise(text: str) -> list[Term]:
    """Content terms of ``text`` as ``(term, weight, negated)``, in order."""
    tokens = _TOKEN.findall(_prepare(text))
    latin = _latin_language([t for t in tokens if ord(t[0]) < 0x250])
    stops = STOP_WORDS if latin == "english" else _STOP_BY_LANGUAGE[latin] | STOP_WORDS
    terms: list[Term] = []
    negate_next = False
    for token in tokens:
        first = token[0]
        if first.isdigit():
            terms.append((token, W_NUMBER, False))
        elif not (first.isalpha() or unicodedata.category(first).startswith("M")):
            if not first.isascii():  # emoji and symbols mean something; ASCII punctuation does not
                terms.append(("sym:" + token, W_SYMBOL, False))
        elif token in NEGATIONS or token in FOREIGN_NEGATIONS:
            terms.append(("<not>", W_NEGATION, False))
            negate_next = True
        elif _unsegmented(first) or any(_unsegmented(c) for c in token):
            for char in token:
                if char in _NEGATION_CHARS:
                    terms.append(("<not>", W_NEGATION, False))
                    negate_next = True
                    continue
                light = char in _LIGHT_CHARS or 0x3040 <= ord(char) <= 0x309F  # hiragana: particles, endings
                terms.append(("c:" + char, W_LIGHT_CHAR if light else W_CHAR, negate_next and not light))
                negate_next = negate_next and light
        else:
            language = _script_language(first) or (latin if ord(first) < 0x250 else None)
            if token in stops or token in _STOP_BY_LANGUAGE.get(language or "", ()):
                continue
            if token in LIGHT_WORDS:
                terms.append((token, W_LIGHT, False))
                continue
            if language is None:
                terms.append((token, W_CONTENT, negate_next))
            elif language == "english":
                stem = _stem(token, "english")
                canonical = SYNONYMS.get(token) or SYNONYMS.get(stem)
                terms.append((_stem(canonical, "english") if canonical else stem, W_CONTENT, negate_next))
            else:
                terms.append((language[:2] + ":" + _stem(token, language), W_CONTENT, negate_next))
            negate_next = False
    if not terms:  # only stop words or punctuation: what there is still tells texts apart, faintly
        terms = [("raw:" + t, W_LIGHT, False) for t in tokens]
    return terms


_FAMILY_OF = {_stem(word, "english"): family for word, family in ANTONYM_FAMILIES.items()}


def _features(text: str) -> tuple[list[str], list[float]]:
    names: list[str] = []
    weights: list[float] = []
    terms = normalise(text)
    for term, weight, negated in terms:
        own = weight * (1 - NEGATED_SHIFT) if negated else weight
        family = _FAMILY_OF.get(term)
        if family is None:
            names.append(term)
            weights.append(own)
        else:
            names += ["family:" + family, term]
            weights += [own * ANTONYM_SHARE, own * (1 - ANTONYM_SHARE**2) ** 0.5]
        if negated:
            names.append("not-" + term)
            weights.append(weight * NEGATED_SHIFT)
        grams = _trigrams(term.rpartition(":")[2]) if weight >= W_CONTENT and not term.startswith("c:") else []
        if grams:
            share = W_NGRAMS * weight / len(grams) ** 0.5
            names += ["g:" + g for g in grams]
            weights += [share] * len(grams)
    for (a, wa, _), (b, wb, _) in itertools.pairwise(terms):
        names.append(a + "\u2192" + b)
        weights.append(W_BIGRAM * min(wa, wb))
    return names, weights


@lru_cache(maxsize=1 << 18)
def _hash(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")


def _embed_array(text: str) -> np.ndarray:
    names, weights = _features(text)
    if not names:  # the empty string
        names, weights = ["<empty>"], [1.0]
    hashes = np.fromiter((_hash(name) for name in names), dtype=np.uint64, count=len(names))
    mixed = hashes[:, None] * _MULTIPLIERS[None, :]  # wraps modulo 2**64: multiply-shift hashing
    index = (mixed >> _SHIFT).astype(np.intp)
    sign = ((mixed >> _SIGN_SHIFT) & np.uint64(1)).astype(np.float64) * 2 - 1
    values = sign * (np.asarray(weights)[:, None] / _NONZERO**0.5)
    vec = np.bincount(index.ravel(), weights=values.ravel(), minlength=EMBEDDING_DIMENSIONS)
    norm = float(np.linalg.norm(vec))
    if norm < 1e-12:  # features that cancel exactly: vanishingly rare, still a unit vector
        return _embed_array("")
    result: np.ndarray = vec / norm
    return result


@lru_cache(maxsize=32768)
def _embed_cached(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in _embed_array(text))


def embed(text: str) -> np.ndarray:
    """The unit-norm embedding of ``text`` as a float64 array of fixed dimension."""
    if len(text) > 2048:
        return _embed_array(text)
    return np.asarray(_embed_cached(text))


def cosine(a: str, b: str) -> float:
    """Cosine similarity of two texts' embeddings."""
    return float(embed(a) @ embed(b))
