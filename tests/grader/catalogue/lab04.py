# ruff: noqa: E501 (the entries are code: their exact text matters more than the line length)
"""Lab 04: plausible learner mistakes, and correct designs other than the reference's."""

from __future__ import annotations

from . import Submission

# --- the reference's texts that several entries edit ---------------------------------------------

RETURN_COST = "    return queries_per_day * DAYS_PER_MONTH * (1 - cache_hit_rate) * per_call\n"
PER_CALL = """        share * (avg_input_tokens * PRICING[model]["input"] + avg_output_tokens * PRICING[model]["output"]) / 1000
"""
UNKNOWN = """    unknown = sorted(set(model_distribution) - set(PRICING))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}: PRICING knows {sorted(PRICING)}")
"""
SHARE_RANGE = """        if not 0 <= share <= 1:
            raise ValueError(f"the share of {model} is {share}: a share is between 0 and 1")
"""
SUM = """    if not math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9):
        raise ValueError(f"the shares sum to {total}, not 1")
"""
HIT_RANGE = """    if not 0 <= cache_hit_rate <= 1:
        raise ValueError(f"cache_hit_rate is {cache_hit_rate}: a rate is between 0 and 1 (0.3 for 30%)")
"""
COUNTS = """    if min(queries_per_day, avg_input_tokens, avg_output_tokens) < 0:
        raise ValueError("queries and token counts cannot be negative")
"""
DECIDE = """        decision = dict(DEFAULT_DECISION)
        for condition, action in self.rules:
            if condition(request):
                decision.update(action)
        return decision
"""
COMPLEX = "    return len(query.split()) > 10\n"
ROUTE = """    optimizer.add_rule(lambda request: not is_complex(request["query"]), {"model": "gpt-3.5-turbo"})
"""
CACHE = """    optimizer.add_rule(lambda request: request["context"] is None, {"cache": "semantic"})
"""
BUILD_RETURN = """    return optimizer
    ### END SOLUTION"""
TABLE_SHARES = """{"gpt-4": share, "gpt-3.5-turbo": 1 - share}, hit,"""
TABLE_LOOPS = """            for share in gpt4_shares
        ]
        for hit in hit_rates
"""

MISTAKES = [
    # --- exercise 1: the bill ---------------------------------------------------------------------
    Submission(
        "per-token-prices",
        {PER_CALL: PER_CALL.replace(" / 1000", "")},
        ("04-monthly-cost-fixed", "04-monthly-cost"),
        "per 1,000 tokens",
        "reads the per-1K prices as per-token prices",
    ),
    Submission(
        "month-of-30-4-days",
        {RETURN_COST: RETURN_COST.replace("DAYS_PER_MONTH", "30.4")},
        ("04-monthly-cost-fixed", "04-monthly-cost"),
        "30 days",
        "an average month of 30.4 days, not the lab's 30",
    ),
    Submission(
        "month-of-365-12-days",
        {RETURN_COST: RETURN_COST.replace("DAYS_PER_MONTH", "(365 / 12)")},
        ("04-monthly-cost-fixed", "04-monthly-cost"),
        "365 / 12",
        "365 / 12 days a month",
    ),
    Submission(
        "daily-bill",
        {RETURN_COST: RETURN_COST.replace(" * DAYS_PER_MONTH", "")},
        ("04-monthly-cost-fixed", "04-monthly-cost"),
        "multiply the daily cost by 30",
        "returns a day's cost",
    ),
    Submission(
        "pays-for-hits",
        {RETURN_COST: RETURN_COST.replace("(1 - cache_hit_rate)", "cache_hit_rate")},
        ("04-monthly-cost-fixed", "04-monthly-cost"),
        "not by cache_hit_rate",
        "multiplies by the hit rate: pays for the hits, not the misses",
    ),
    Submission(
        "ignores-cache",
        {RETURN_COST: RETURN_COST.replace(" * (1 - cache_hit_rate)", "")},
        ("04-monthly-cost-fixed", "04-monthly-cost"),
        "ignored",
        "forgets the cache",
    ),
    Submission(
        "swapped-prices",
        {
            PER_CALL: """        share * (avg_input_tokens * PRICING[model]["output"] + avg_output_tokens * PRICING[model]["input"]) / 1000
"""
        },
        ("04-monthly-cost-fixed", "04-monthly-cost"),
        "swapped",
        "prices input tokens at the output price and output at the input price",
    ),
    Submission(
        "rounds-to-cents",
        {RETURN_COST: "    return round(queries_per_day * DAYS_PER_MONTH * (1 - cache_hit_rate) * per_call, 2)\n"},
        ("04-monthly-cost",),
        "wrong monthly cost",
        "rounds the bill to cents: small bills come out wrong",
    ),
    Submission(
        "whole-dollars",
        {RETURN_COST: "    return float(int(queries_per_day * DAYS_PER_MONTH * (1 - cache_hit_rate) * per_call))\n"},
        ("04-monthly-cost-fixed", "04-monthly-cost"),
        "wrong monthly cost",
        "truncates to whole dollars",
    ),
    Submission(
        "handout-tokens",
        {PER_CALL: PER_CALL.replace("avg_input_tokens *", 'current_state["avg_input_tokens"] *')},
        ("04-monthly-cost-fixed", "04-monthly-cost"),
        "wrong monthly cost",
        "uses the handout's 150 input tokens instead of the argument",
    ),
    Submission(
        "first-model-only",
        {
            PER_CALL + "        for model, share in model_distribution.items()\n": PER_CALL
            + "        for model, share in list(model_distribution.items())[:1]\n"
        },
        ("04-monthly-cost-fixed", "04-monthly-cost"),
        "wrong monthly cost",
        "prices only the first model of the distribution",
    ),
    Submission(
        "no-sum-check",
        {SUM: ""},
        ("04-monthly-cost-invalid",),
        "sums to 0.9",
        "never checks that the shares sum to 1",
    ),
    Submission(
        "exact-sum",
        {
            "    total = math.fsum(model_distribution.values())\n": "    total = sum(model_distribution.values())\n",
            SUM: SUM.replace("not math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9)", "total != 1.0"),
        },
        ("04-monthly-cost-invalid",),
        "0.9999999999999999",
        "compares a float sum with 1 exactly: 0.7 + 0.2 + 0.1 is refused",
    ),
    Submission(
        "loose-sum",
        {SUM: SUM.replace("abs_tol=1e-9", "abs_tol=0.01")},
        ("04-monthly-cost-invalid",),
        "0.999",
        "a tolerance so loose that 0.999 passes for 1",
    ),
    Submission(
        "key-error-for-unknown",
        {UNKNOWN: ""},
        ("04-monthly-cost-invalid",),
        "raise ValueError",
        "lets PRICING[model] raise KeyError for an unknown model",
    ),
    Submission(
        "no-share-range",
        {SHARE_RANGE: "        pass\n"},
        ("04-monthly-cost-invalid",),
        "negative share",
        "accepts 1.5 and -0.5 because they sum to 1",
    ),
    Submission(
        "no-hit-rate-check",
        {HIT_RANGE: ""},
        ("04-monthly-cost-invalid",),
        "hit rate above 1",
        "never checks the hit rate",
    ),
    Submission(
        "hit-rate-upper-bound-only",
        {HIT_RANGE: HIT_RANGE.replace("not 0 <= cache_hit_rate <= 1", "cache_hit_rate > 1")},
        ("04-monthly-cost-invalid",),
        "negative cache hit rate",
        "checks only the upper bound of the hit rate",
    ),
    Submission(
        "hit-rate-in-percent",
        {HIT_RANGE: HIT_RANGE.replace("not 0 <= cache_hit_rate <= 1", "not 0 <= cache_hit_rate <= 100")},
        ("04-monthly-cost-invalid",),
        "hit rate above 1",
        "accepts a hit rate in percent",
    ),
    Submission(
        "no-count-check",
        {COUNTS: ""},
        ("04-monthly-cost-invalid",),
        "negative number of queries",
        "accepts negative counts",
    ),
    Submission(
        "assert-not-raise",
        {SUM: '    assert math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9), f"the shares sum to {total}"\n'},
        ("04-monthly-cost-invalid",),
        "raise ValueError",
        "asserts instead of raising ValueError (and python -O drops asserts)",
    ),
    Submission(
        "cached-is-not-a-model",
        {UNKNOWN: UNKNOWN.replace("- set(PRICING))", "- (set(PRICING) - {'cached'}))")},
        ("04-monthly-cost-invalid",),
        "cached",
        "refuses the 'cached' entry of PRICING",
    ),
    # --- exercise 2: rules ----------------------------------------------------------------------------
    Submission(
        "first-match-wins",
        {DECIDE: DECIDE.replace("decision.update(action)", "decision.update(action)\n                break")},
        ("04-rules",),
        "two matching rules",
        "stops at the first matching rule",
    ),
    Submission(
        "earlier-rule-wins",
        {DECIDE: DECIDE.replace("self.rules:", "reversed(self.rules):")},
        ("04-rules",),
        "later one wins",
        "applies the rules from the last to the first",
    ),
    Submission(
        "no-copy",
        {DECIDE: DECIDE.replace("dict(DEFAULT_DECISION)", "DEFAULT_DECISION")},
        ("04-rules",),
        "fresh dict",
        "updates DEFAULT_DECISION itself",
    ),
    Submission(
        "action-replaces-decision",
        {DECIDE: DECIDE.replace("decision.update(action)", "decision = dict(action)")},
        ("04-rules",),
        "wrong decision",
        "replaces the decision with the action instead of merging",
    ),
    Submission(
        "defaults-win",
        {DECIDE: DECIDE.replace("decision.update(action)", "decision = {**action, **decision}")},
        ("04-rules",),
        "wrong decision",
        "merges the wrong way round: the default overrides the action",
    ),
    Submission(
        "condition-ignored",
        {DECIDE: DECIDE.replace("if condition(request):", "if condition:")},
        ("04-rules",),
        "does not match",
        "tests the function object, always true",
    ),
    Submission(
        "condition-on-decision",
        {DECIDE: DECIDE.replace("if condition(request):", "if condition(decision):")},
        ("04-rules",),
        "raised",
        "calls the condition with the decision, not the request",
    ),
    Submission(
        "no-return",
        {DECIDE: DECIDE.replace("        return decision\n", "")},
        ("04-rules",),
        "wrong decision",
        "forgets to return the decision",
    ),
    Submission(
        "decision-kept-in-optimizer",
        {
            DECIDE: DECIDE.replace(
                "decision = dict(DEFAULT_DECISION)",
                'decision = self.__dict__.setdefault("decision", dict(DEFAULT_DECISION))',
            )
        },
        ("04-rules",),
        "fresh dict",
        "keeps one decision dict in the optimiser and returns it every time",
    ),
    Submission(
        "updates-the-action",
        {
            DECIDE: DECIDE.replace(
                "decision.update(action)",
                "action.update({k: v for k, v in decision.items() if k not in action})\n                decision = action",
            )
        },
        ("04-rules",),
        "action dict",
        "fills the rule's action dict with the defaults and returns it",
    ),
    # --- exercise 3: the targets -------------------------------------------------------------------------
    Submission(
        "everything-on-gpt-3-5",
        {COMPLEX: "    return False\n"},
        ("04-targets",),
        "quality too low",
        "sends complex questions to gpt-3.5-turbo as well",
    ),
    Submission(
        "caches-account-requests",
        {CACHE: '    optimizer.add_rule(lambda request: True, {"cache": "semantic"})\n'},
        ("04-targets",),
        "context",
        "caches answers about one account and serves them to others",
    ),
    Submission(
        "no-cache",
        {CACHE: ""},
        ("04-targets",),
        "over budget",
        "routing alone: complex questions on gpt-4 cost too much",
    ),
    Submission(
        "classifier-inverted",
        {COMPLEX: "    return len(query.split()) <= 10\n"},
        ("04-targets",),
        "over budget",
        "sends the simple questions to gpt-4 and the complex ones to gpt-3.5-turbo",
    ),
    Submission(
        "simple-on-claude",
        {ROUTE: ROUTE.replace("gpt-3.5-turbo", "claude-instant")},
        ("04-targets",),
        "quality too low",
        "the cheapest model for simple questions: it gets too many wrong",
    ),
    Submission(
        "tight-length-cap",
        {CACHE: CACHE + '    optimizer.add_rule(lambda request: True, {"max_tokens": 20})\n'},
        ("04-targets",),
        "quality too low",
        "caps answers below what they need: a cut answer is a wrong answer",
    ),
    Submission(
        "model-name-typo",
        {ROUTE: ROUTE.replace("gpt-3.5-turbo", "gpt-3.5")},
        ("04-targets",),
        "model the replay cannot call",
        "a model name that does not exist",
    ),
    Submission(
        "cache-true",
        {CACHE: CACHE.replace('"semantic"', "True")},
        ("04-targets",),
        "'exact' or 'semantic'",
        "cache=True instead of a cache mode",
    ),
    Submission(
        "build-returns-nothing",
        {BUILD_RETURN: "    ### END SOLUTION"},
        ("04-targets",),
        "must return the costoptimizer",
        "configures the optimiser and forgets to return it",
    ),
    Submission(
        "context-wrong-key",
        {CACHE: CACHE.replace('request["context"] is None', 'request.get("account") is None')},
        ("04-targets",),
        "quality too low",
        "looks for the account under a key that does not exist, so caches everything",
    ),
    # --- stretch S1 -------------------------------------------------------------------------------------------
    Submission(
        "table-transposed",
        {
            TABLE_LOOPS: TABLE_LOOPS.replace("for share in gpt4_shares", "for HIT in hit_rates")
            .replace("for hit in hit_rates", "for share in gpt4_shares")
            .replace("HIT", "hit")
        },
        ("04-sensitivity",),
        "a row per hit rate",
        "a row per GPT-4 share instead of per hit rate",
    ),
    Submission(
        "share-for-the-cheap-model",
        {TABLE_SHARES: """{"gpt-4": 1 - share, "gpt-3.5-turbo": share}, hit,"""},
        ("04-sensitivity",),
        "wrong table",
        "gives the share to gpt-3.5-turbo",
    ),
    Submission(
        "rest-on-claude",
        {TABLE_SHARES: """{"gpt-4": share, "claude-instant": 1 - share}, hit,"""},
        ("04-sensitivity",),
        "wrong table",
        "puts the rest of the misses on claude-instant",
    ),
]

ALTERNATIVES = [
    Submission(
        "custom-value-error",
        {
            "def calculate_monthly_cost(\n": "class PricingError(ValueError):\n    pass\n\n\ndef calculate_monthly_cost(\n",
            UNKNOWN: UNKNOWN.replace("raise ValueError(", "raise PricingError("),
        },
        why="a ValueError subclass of its own for an unknown model",
    ),
    Submission(
        "isclose-default-tolerance",
        {SUM: SUM.replace("math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9)", "math.isclose(total, 1.0)")},
        why="math.isclose's default relative tolerance (1e-9) is enough near 1",
    ),
    Submission(
        "daily-then-monthly",
        {RETURN_COST: "    daily = queries_per_day * (1 - cache_hit_rate) * per_call\n    return daily * 30\n"},
        why="a day's bill times 30",
    ),
    Submission(
        "merge-with-unpacking",
        {DECIDE: DECIDE.replace("decision.update(action)", "decision = {**decision, **action}")},
        why="a new dict per rule instead of update",
    ),
    Submission(
        "filter-then-merge",
        {
            DECIDE: "        matching = [action for condition, action in self.rules if condition(request)]\n        return {k: v for d in [DEFAULT_DECISION, *matching] for k, v in d.items()}\n"
        },
        why="the matching actions first, then one merge",
    ),
    Submission(
        "complex-by-characters",
        {COMPLEX: "    return len(query) > 60\n"},
        why="classifies by characters instead of words",
    ),
    Submission(
        "gpt-4-rule-last",
        {
            ROUTE: """    optimizer.add_rule(lambda request: True, {"model": "gpt-3.5-turbo"})
    optimizer.add_rule(lambda request: is_complex(request["query"]), {"model": "gpt-4"})
"""
        },
        why="everything cheap first, then a later rule puts complex questions back on gpt-4",
    ),
    Submission(
        "exact-cache-only",
        {CACHE: CACHE.replace('"semantic"', '"exact"')},
        why="the exact cache alone is enough on this traffic",
    ),
    Submission(
        "generous-length-cap",
        {CACHE: CACHE + '    optimizer.add_rule(lambda request: True, {"max_tokens": 200})\n'},
        why="a cap above what any answer needs changes nothing",
    ),
    Submission(
        "table-with-loops",
        {
            """    return [
        [
            calculate_monthly_cost(""": """    table = []
    for hit in hit_rates:
        row = []
        for share in gpt4_shares:
            row.append(calculate_monthly_cost(100_000, 150, 200, {"gpt-4": share, "gpt-3.5-turbo": 1 - share}, hit))
        table.append(row)
    return table
    return [
        [
            calculate_monthly_cost(""",
        },
        why="explicit loops and the handout's numbers written out",
    ),
]
