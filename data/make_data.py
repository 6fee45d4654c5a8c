"""Generate the kit's labelled data sets, deterministically, from a seed.

    python data/make_data.py            # rewrite data/*.jsonl
    python data/make_data.py --check    # exit 1 if the committed files differ

Writes:
- sentiment.jsonl: texts labelled Positive/Negative/Neutral, in three difficulties:
  easy, negated and sarcastic;
- queries.jsonl: the workshop's support queries (simple FAQ and multi-step complex)
  with their reference answers, from the mock's knowledge table;
- paraphrases.jsonl: pairs of queries labelled as paraphrases or as hard negatives
  (negation, swapped entities, changed numbers, opposites) or unrelated.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mock_llm.knowledge import FAQ  # noqa: E402

SEED = 20261127

THINGS = [
    "phone",
    "laptop",
    "blender",
    "headset",
    "vacuum",
    "keyboard",
    "router",
    "camera",
    "kettle",
    "printer",
    "app",
    "smartwatch",
    "speaker",
    "monitor",
    "charger",
    "backpack",
    "jacket",
    "coffee maker",
]
POS_ADJ = [
    "amazing",
    "great",
    "excellent",
    "fantastic",
    "wonderful",
    "superb",
    "brilliant",
    "reliable",
    "solid",
    "outstanding",
    "top-notch",
    "stellar",
    "flawless",
]
NEG_ADJ = [
    "terrible",
    "awful",
    "disappointing",
    "useless",
    "flimsy",
    "mediocre",
    "overpriced",
    "horrible",
    "unreliable",
    "subpar",
    "shoddy",
    "dreadful",
]
POS_VERB = ["love", "enjoy", "recommend", "adore"]
NEG_VERB = ["hate", "regret buying", "can't stand", "despise"]
NEUTRAL = [
    "The {thing} arrived on {day}.",
    "I ordered the {thing} on {day}.",
    "The {thing} comes in {colour}.",
    "The {thing} weighs about {n} grams.",
    "My {thing} was delivered by courier this {part}.",
    "The {thing} has {n} buttons on the side.",
    "I am returning the {thing} on {day} as planned.",
    "The box for the {thing} says it was made in {year}.",
    "The {thing} manual has {n} pages.",
]
EASY_POS = [
    "The {thing} is {pos}.",
    "I {pverb} this {thing}!",
    "What a {pos} {thing}, five stars.",
    "Absolutely {pos} {thing}, would buy again.",
    "This {thing} is {pos} and works every day.",
]
EASY_NEG = [
    "The {thing} is {neg}.",
    "I {nverb} this {thing}.",
    "What a {neg} {thing}, one star.",
    "Completely {neg} {thing}, asking for a refund.",
    "This {thing} is {neg} and a waste of money.",
]
NEGATED_NEG = [
    "The {thing} is not {pos} at all.",
    "I don't {pverb} this {thing}.",
    "Honestly the {thing} isn't {pos}.",
    "I would never call this {thing} {pos}.",
    "This {thing} is hardly {pos}.",
]
NEGATED_POS = [
    "The {thing} is not {neg} at all.",
    "I don't {nverb_base} this {thing} one bit.",
    "Honestly the {thing} isn't {neg}.",
    "The {thing} was never {neg} for me.",
    "No complaints, the {thing} is not {neg}.",
]
SARCASTIC = [
    "Oh great, the {thing} {event} again.",
    "Just what I needed, a {thing} that {event} after {n} days.",
    "I love how the {thing} {event} every time I use it.",
    "Wow, {n} hours waiting for support. Fantastic.",
    "Thanks a lot, the {thing} {event} on day one.",
    "Oh perfect, my {thing} {event} right before the trip.",
    "So glad I paid extra for a {thing} that {event}.",
    "Yeah right, 'premium quality'. The {thing} {event}.",
    "What a joy, the {thing} {event} during my meeting.",
    "My favourite part is when the {thing} {event}.",
]
EVENTS = [
    "crashed",
    "broke",
    "froze",
    "stopped working",
    "arrived late",
    "lost my data",
    "died",
    "fell apart",
    "overheated",
    "rebooted itself",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
COLOURS = ["black", "silver", "blue", "red", "white"]


def _fill(rng: random.Random, template: str) -> str:
    verb = rng.choice(NEG_VERB)
    return template.format(
        thing=rng.choice(THINGS),
        pos=rng.choice(POS_ADJ),
        neg=rng.choice(NEG_ADJ),
        pverb=rng.choice(POS_VERB),
        nverb=verb,
        nverb_base=rng.choice(["hate", "regret", "despise", "mind"]),
        day=rng.choice(DAYS),
        colour=rng.choice(COLOURS),
        n=rng.randint(2, 400),
        part=rng.choice(["morning", "afternoon"]),
        year=rng.randint(2015, 2025),
        event=rng.choice(EVENTS),
    )


def _unique(rng: random.Random, templates: list[str], count: int) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen.setdefault(_fill(rng, rng.choice(templates)), None)
    return list(seen)


def sentiment_rows(rng: random.Random) -> list[dict[str, str]]:
    groups = [
        ("easy", "Positive", EASY_POS, 90),
        ("easy", "Negative", EASY_NEG, 90),
        ("easy", "Neutral", NEUTRAL, 90),
        ("negated", "Negative", NEGATED_NEG, 90),
        ("negated", "Positive", NEGATED_POS, 90),
        ("sarcastic", "Negative", SARCASTIC, 150),
    ]
    rows = [
        {"text": text, "label": label, "difficulty": difficulty}
        for difficulty, label, templates, count in groups
        for text in _unique(rng, templates, count)
    ]
    rng.shuffle(rows)
    return [{"id": f"s{i:04d}", **row} for i, row in enumerate(rows)]


def query_rows() -> list[dict[str, str]]:
    return [
        {
            "id": f"{entry.id}#{i}",
            "entry": entry.id,
            "query": phrasing,
            "difficulty": entry.difficulty,
            "reference_answer": entry.answer,
        }
        for entry in FAQ
        for i, phrasing in enumerate(entry.phrasings)
    ]


CITIES = ["Paris", "London", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Oslo", "Dublin", "Prague"]
PRODUCTS = ["the Pro plan", "Acme Cloud", "the mobile app", "extra storage", "the API", "the Enterprise plan"]
FEATURES = ["two-factor authentication", "webhooks", "single sign-on", "dark mode", "auto-backup", "audit logs"]
ITEMS = ["laptop", "headset", "order", "subscription", "jacket", "ticket"]
LIMITS = ["storage quota", "rate limit", "team size", "upload limit"]

PARAPHRASE_TEMPLATES: list[tuple[str, str]] = [
    ("What's the weather in {city}?", "How is the weather in {city} today?"),
    ("What is the weather like in {city}?", "{city} weather forecast"),
    ("How much does {product} cost?", "What is the price of {product}?"),
    ("How much is {product}?", "{product} pricing?"),
    ("Can I get a refund for my {item}?", "How do I get my money back for my {item}?"),
    ("How do I enable {feature}?", "How can I turn on {feature}?"),
    ("Does {product} support {feature}?", "Is {feature} supported in {product}?"),
    ("How do I cancel my {item}?", "I want to cancel my {item}"),
    ("Where is my {item}?", "Where's my {item} right now?"),
    ("How do I raise my {limit}?", "How can I get a higher {limit}?"),
    ("How do I reset my password for {product}?", "I forgot my {product} password, how do I reset it?"),
    ("What are the opening hours in {city}?", "When does the {city} office open?"),
    ("Can I pay for {product} with PayPal?", "Does {product} accept PayPal?"),
]
NEGATION_TEMPLATES: list[tuple[str, str]] = [
    ("Is {product} available in {city}?", "Is {product} not available in {city}?"),
    ("I want to cancel my {item}", "I do not want to cancel my {item}"),
    ("Does {product} support {feature}?", "Why does {product} not support {feature}?"),
    ("Can I get a refund for my {item}?", "Why can I not get a refund for my {item}?"),
    ("Should I enable {feature}?", "Should I never enable {feature}?"),
]
SWAP_TEMPLATES: list[tuple[str, str]] = [
    ("Flights from {city} to {city2}", "Flights from {city2} to {city}"),
    ("Train times from {city} to {city2}", "Train times from {city2} to {city}"),
    ("Is it cheaper to fly from {city} to {city2}?", "Is it cheaper to fly from {city2} to {city}?"),
    ("Move my data from {city} to {city2}", "Move my data from {city2} to {city}"),
]
NUMBER_TEMPLATES: list[tuple[str, str]] = [
    ("Book a table for {n} people in {city}", "Book a table for {m} people in {city}"),
    ("Refund order {id1}", "Refund order {id2}"),
    ("Set my {limit} to {n} GB", "Set my {limit} to {m} GB"),
    ("What is {n} times {m}?", "What is {n} times {k}?"),
    ("Add {n} seats to {product}", "Add {m} seats to {product}"),
]
OPPOSITE_TEMPLATES: list[tuple[str, str]] = [
    ("cheap hotels in {city}", "expensive hotels in {city}"),
    ("How do I enable {feature}?", "How do I disable {feature}?"),
    ("How do I increase my {limit}?", "How do I decrease my {limit}?"),
    ("How do I upgrade {product}?", "How do I downgrade {product}?"),
    ("How do I add {feature}?", "How do I remove {feature}?"),
    ("Hot weather in {city} this week", "Cold weather in {city} this week"),
]


def _pair_fill(rng: random.Random, pair: tuple[str, str]) -> tuple[str, str]:
    city, city2 = rng.sample(CITIES, 2)
    n, m, k = rng.sample(range(2, 60), 3)
    values = dict(
        city=city,
        city2=city2,
        product=rng.choice(PRODUCTS),
        feature=rng.choice(FEATURES),
        item=rng.choice(ITEMS),
        limit=rng.choice(LIMITS),
        n=n,
        m=m,
        k=k,
        id1=rng.randint(10000, 99999),
        id2=rng.randint(10000, 99999),
    )
    a, b = pair[0].format(**values), pair[1].format(**values)
    return a[0].upper() + a[1:], b[0].upper() + b[1:]


def _pairs(
    rng: random.Random, templates: list[tuple[str, str]], count: int, label: str, kind: str
) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    while len(seen) < count:
        seen.setdefault(_pair_fill(rng, rng.choice(templates)), None)
    return [{"a": a, "b": b, "label": label, "kind": kind} for a, b in seen]


def paraphrase_rows(rng: random.Random) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for entry in FAQ:
        rows += [
            {"a": a, "b": b, "label": "paraphrase", "kind": "faq"}
            for a, b in itertools.combinations(entry.phrasings, 2)
        ]
    rows += _pairs(rng, PARAPHRASE_TEMPLATES, 100, "paraphrase", "paraphrase")
    rows += _pairs(rng, NEGATION_TEMPLATES, 40, "hard_negative", "negation")
    rows += _pairs(rng, SWAP_TEMPLATES, 30, "hard_negative", "entity_swap")
    rows += _pairs(rng, NUMBER_TEMPLATES, 40, "hard_negative", "number_swap")
    rows += _pairs(rng, OPPOSITE_TEMPLATES, 40, "hard_negative", "opposite")
    singles = [entry.phrasings[0] for entry in FAQ]
    unrelated: set[tuple[str, str]] = set()
    while len(unrelated) < 60:
        a, b = rng.sample(singles, 2)
        unrelated.add((a, b))
    rows += [{"a": a, "b": b, "label": "unrelated", "kind": "unrelated"} for a, b in sorted(unrelated)]
    return [{"id": f"p{i:04d}", **row} for i, row in enumerate(rows)]


def _jsonl(rows: Iterable[dict[str, str]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def build() -> dict[str, str]:
    rng = random.Random(SEED)
    makers: list[tuple[str, Callable[[], list[dict[str, str]]]]] = [
        ("sentiment.jsonl", lambda: sentiment_rows(rng)),
        ("queries.jsonl", query_rows),
        ("paraphrases.jsonl", lambda: paraphrase_rows(rng)),
    ]
    return {name: _jsonl(make()) for name, make in makers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: data/)")
    args = parser.parse_args(argv)
    stale = []
    for name, text in build().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path} ({text.count(chr(10))} rows)")
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python data/make_data.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
