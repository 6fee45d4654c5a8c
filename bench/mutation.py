"""Mutation testing of the reference solutions: do the checks notice when the code is wrong?

    python bench/mutation.py [--lab 01] [--only TEXT] [--list] [--jobs N]

Each mutant is the reference notebook with one small change inside a `### BEGIN SOLUTION`
region: a comparison or boolean operator swapped, arithmetic swapped, a constant off by
one, a statement deleted, a return value replaced by None, an `await` removed, two
arguments swapped, a keyword argument or a decorator dropped, a method call removed, a
condition negated. All mutants of a lab are graded in one `grade()` call (the pool grades
them in parallel); a mutant is *killed* when it loses any point. The score is killed /
non-equivalent: the mutants listed in EQUIVALENT behave like the reference as far as the
lab's specification goes (each entry says why) and are left out. Every survivor is
printed with its diff, to be read: it is either a gap in the checks or an equivalent
mutant to list here, with the reason.
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.loader import cell_source, is_test_cell  # noqa: E402
from grader.registry import LABS  # noqa: E402
from grader.runner import Limits, grade  # noqa: E402

COMMAND = "nice -n 10 .venv/bin/python bench/mutation.py"

# Mutants that change nothing the lab's specification (the notebook's text) asks for, by
# their stable description ("where: operator: `before` -> `after`"), with the reason.
_NO_LOGPROBS = (
    "the fallback for an answer without logprobs: the checks make sure logprobs are asked for, the mock then always "
    "returns them, and the notebook does not say what the fallback should be"
)
_LENIENT = (
    "normalising the model's text is leniency the notebook allows but does not ask for (a label not exactly in "
    "LABELS may be called malformed); the mock answers exact labels"
)
_CLAMP = "math.exp of a log-probability is in (0, 1]: the clamp never changes it"
_ONE = "one choice is asked for (n=1), and a label is one token: the first is the last"
_DTYPE = "numpy converts: the other operand is an array, or the values are floats already"
_STORAGE = "a storage detail: any starting capacity and any growth factor above 1 work"
_DRAW_EQUAL = "random() equals the failure rate with probability 2**-53: no seed the checks use draws it"
_TUNING = (
    "build_service's settings are the learner's to choose: any that still meet the targets (the handout's cost and "
    "p95, valid answers, at most 1% degraded with no faults, every fault answered) and keep the local tier right "
    "(07-accuracy: 92% of its answers; local_threshold is graded, the reference's 0.8 minus one is killed) are "
    "right, a boundary included or not (the hidden check asks that every fault be answered, not how), gpt-4 asked or "
    "not (the mock's cheap and strong models are about as right on the labelled texts)"
)
_TIES = (
    "two entries exactly as similar are both the most similar: which one answers is not specified (and the kit's "
    "embedder gives distinct texts distinct vectors)"
)
_EMERGENCY_SECONDS = "the seconds counted for the emergency answer of an unforeseen bug are not specified"
_WORDS = (
    "the kit's questions have at most 9 words (simple) or at least 12 (complex): any threshold from 9 to 11 words "
    "splits them the same way, and the notebook asks for the long ones, not for a number"
)
_NEVER_READ = "read only while the circuit is open, and _trip sets it before the circuit first opens"
_PROBES_RESET = "read only while half-open, and moving to half-open sets it to 0 first"
_CLEARED_TWICE = (
    "nothing is appended while open or half-open, and the window is cleared both when the circuit opens and when it "
    "closes: either clearing alone forgets the same outcomes"
)
EQUIVALENT: dict[str, dict[str, str]] = {
    "01": {
        "classify_sentiment: statement deleted: `confidence = 0.5` -> `pass`": _NO_LOGPROBS,
        "classify_sentiment: constant off by one: `0.5` -> `1.5` in `confidence = 0.5`": _NO_LOGPROBS,
        "classify_sentiment: constant off by one: `0.5` -> `-0.5` in `confidence = 0.5`": _NO_LOGPROBS,
        "classify_sentiment: boolean operator: `logprobs is not None and logprobs.content` -> "
        "`logprobs is not None or logprobs.content`": _NO_LOGPROBS,
        'classify_sentiment: method call removed: `(content or "").strip().rstrip(".").capitalize()` -> '
        '`(content or "").strip().rstrip(".")`': _LENIENT,
        'classify_sentiment: method call removed: `(content or "").strip()` -> `(content or "")`': _LENIENT,
        "classify_sentiment: arguments swapped: `min(max(confidence, 0.0), 1.0)` -> "
        "`min(1.0, max(confidence, 0.0))`": "min() is symmetric",
        "classify_sentiment: arguments swapped: `max(confidence, 0.0)` -> `max(0.0, confidence)`": "max() is symmetric",
        "classify_sentiment: constant off by one: `1.0` -> `2.0` in `return label, min(max(confidence, 0.0), 1.0)`": (
            _CLAMP
        ),
        "classify_sentiment: constant off by one: `0.0` -> `-1.0` in `return label, min(max(confidence, 0.0), 1.0)`": (
            _CLAMP
        ),
        "classify_sentiment: constant off by one: `3` -> `4` in `response = await client.chat.completions.create(`": (
            "max_tokens 4 is still small for a one-word answer (the check allows up to 10)"
        ),
        "classify_sentiment: constant off by one: `3` -> `2` in `response = await client.chat.completions.create(`": (
            "max_tokens 2 still fits a one-word label"
        ),
        "classify_sentiment: constant off by one: `0` -> `-1` in `logprobs = choices[0].logprobs`": _ONE,
        "classify_sentiment: constant off by one: `0` -> `-1` in "
        "`content = choices[0].message.content if choices and choic...`": _ONE,
        "classify_sentiment: constant off by one: `0` -> `-1` in "
        "`content = choices[0].message.content if choices and choic...` (#2)": _ONE,
        "classify_sentiment: constant off by one: `0` -> `-1` in "
        "`confidence = math.exp(logprobs.content[0].logprob)`": _ONE,
        "create_app.classify: keyword response_model= dropped: `app.post(...)` in "
        "`async def classify(body: SentimentRequest) -> SentimentRe...`": (
            "the endpoint returns a SentimentResponse, which FastAPI serialises the same way without response_model "
            "(only the OpenAPI schema changes)"
        ),
        "create_app.invalid_request: method call removed: `exc.errors()` -> `exc`": (
            "the test `if exc.errors()` guards an empty error list, which RequestValidationError never has"
        ),
        "create_app.invalid_request: constant off by one: `0` -> `-1` in "
        '`first = exc.errors()[0] if exc.errors() else {"loc": (), ...`': (
            "SentimentRequest's validation gives one error per body here; which of several errors `field` names is "
            "not specified"
        ),
        "create_app.upstream_failed: constant off by one: `502` -> `503` in "
        "`return JSONResponse(error_body(exc.kind, exc.message), st...`": (
            "every kind classify_sentiment raises is in ERROR_STATUS: the default status is never used"
        ),
        "create_app.upstream_failed: constant off by one: `502` -> `501` in "
        "`return JSONResponse(error_body(exc.kind, exc.message), st...`": (
            "every kind classify_sentiment raises is in ERROR_STATUS: the default status is never used"
        ),
        "ResponseCache.get: statement deleted: `del self._entries[key]` -> `pass`": (
            "an expired entry left in place is never served nor counted, and is evicted in its turn: only memory "
            "differs"
        ),
        "ResponseCache.get_or_compute: statement deleted: `future.exception()` -> `pass`": (
            "it only keeps asyncio from logging 'Future exception was never retrieved' when nobody waited"
        ),
    },
    "02": {
        "cosine_similarity: statement deleted: `a = np.asarray(a, dtype=float)` -> `pass`": _DTYPE,
        "cosine_similarity: statement deleted: `b = np.asarray(b, dtype=float)` -> `pass`": _DTYPE,
        "cosine_similarity: keyword dtype= dropped: `np.asarray(...)` in `a = np.asarray(a, dtype=float)`": _DTYPE,
        "cosine_similarity: keyword dtype= dropped: `np.asarray(...)` in `b = np.asarray(b, dtype=float)`": _DTYPE,
        "cosine_similarity: arguments swapped: `np.clip(a @ b / (norm_a * norm_b), -1.0, 1.0)` -> "
        "`np.clip(-1.0, a @ b / (norm_a * norm_b), 1.0)`": "clip(x, lo, hi) = min(max(x, lo), hi): x and lo commute",
        "SemanticCache.__init__: keyword dtype= dropped: `np.zeros(...)` in "
        "`self._scope_ids = np.zeros(0, dtype=np.int64)`": "float scope ids compare equal to int ones",
        "SemanticCache.get_embedding: keyword dtype= dropped: `np.asarray(...)` in "
        "`return np.asarray(response.data[0].embedding, dtype=float)`": _DTYPE,
        "SemanticCache.get_embedding: keyword dtype= dropped: `np.asarray(...)` in "
        "`return np.asarray(self._embed(text), dtype=float)`": _DTYPE,
        "SemanticCache.__init__: constant off by one: `0` -> `1` in `self._scope_ids = np.zeros(0, dtype=np.int64)`": (
            "the initial arrays are replaced by the first add"
        ),
        "SemanticCache.__init__: constant off by one: `0` -> `1` in `self._added_at = np.zeros(0)`": (
            "the initial arrays are replaced by the first add"
        ),
        "SemanticCache.__init__: constant off by one: `0` -> `1` in `self._vectors = np.zeros((0, 0))` (#2)": (
            "the initial arrays are replaced by the first add"
        ),
        "SemanticCache._append_row: arguments swapped: `max(64, 2 * self._n)` -> `max(2 * self._n, 64)`": (
            "max() is symmetric"
        ),
        "SemanticCache._append_row: constant off by one: `64` -> `65` in `capacity = max(64, 2 * self._n)`": _STORAGE,
        "SemanticCache._append_row: constant off by one: `64` -> `63` in `capacity = max(64, 2 * self._n)`": _STORAGE,
        "SemanticCache._append_row: constant off by one: `2` -> `3` in `capacity = max(64, 2 * self._n)`": _STORAGE,
        "SemanticCache._append_row: arithmetic: `capacity - len(self._responses)` -> "
        "`capacity + len(self._responses)`": "spare slots beyond the capacity are never read",
        "SemanticCache._append_row: arithmetic: `capacity - len(self._keys)` -> `capacity + len(self._keys)`": (
            "spare slots beyond the capacity are never read"
        ),
        "SemanticCache._expire: constant off by one: `0` -> `-1` in "
        "`if self.ttl_seconds is None or self._n == 0:`": "a shortcut: with no entries nothing expires anyway",
        "SemanticCache.get_embedding: constant off by one: `0` -> `-1` in "
        "`return np.asarray(response.data[0].embedding, dtype=float)`": "one input, one embedding: first is last",
        "SemanticCache.add: constant off by one: `0` -> `-1` in `row = self._append_row(unit.shape[0])`": (
            "an embedding is 1-D: its first dimension is its last"
        ),
    },
    "04": {
        "calculate_monthly_cost: statement deleted: "
        '`raise ValueError("the model distribution is empty: give each model ...` -> `pass`': (
            "an empty distribution sums to 0, so the sum check raises ValueError for it anyway"
        ),
        "calculate_monthly_cost: arguments swapped: `math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9)` -> "
        "`math.isclose(1.0, total, rel_tol=0, abs_tol=1e-09)`": "math.isclose is symmetric in its two values",
        "calculate_monthly_cost: keyword rel_tol= dropped: `math.isclose(...)` in "
        "`if not math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-9):`": (
            "the default rel_tol of 1e-9, next to 1, is the same tolerance as abs_tol=1e-9 (the lab asks for "
            "math.isclose, and both accept rounding error and refuse 0.999)"
        ),
        "calculate_monthly_cost: arguments swapped: `min(queries_per_day, avg_input_tokens, avg_output_tokens)` -> "
        "`min(avg_input_tokens, queries_per_day, avg_output_tokens)`": "min does not depend on the order",
        "calculate_monthly_cost: constant off by one: `1` -> `2` in `if not 0 <= share <= 1:`": (
            "a share above 1 in shares that sum to 1 needs a negative share, which the lower bound refuses"
        ),
        "is_complex: comparison: `len(query.split()) > 10` -> `len(query.split()) >= 10`": _WORDS,
        "is_complex: constant off by one: `10` -> `11` in `return len(query.split()) > 10`": _WORDS,
        "is_complex: constant off by one: `10` -> `9` in `return len(query.split()) > 10`": _WORDS,
    },
    "06": {
        "ChaosMonkey.maybe_fail: comparison: `self.rng.random() < self.failure_rate` -> "
        "`self.rng.random() <= self.failure_rate`": _DRAW_EQUAL,
        "ChaosTransport.handle_async_request: comparison: `self.rng.random() < self.failure_rate` -> "
        "`self.rng.random() <= self.failure_rate`": _DRAW_EQUAL,
        'read_answer: statement deleted: `raise InvalidResponse("the stream ended without a finish_reason: it...` -> '
        "`pass`": "with no finish_reason, the next test (finish_reason != 'stop') raises InvalidResponse too; only "
        "the message differs",
        "summarise.nearest_rank: arguments swapped: `max(1, math.ceil(q * n))` -> `max(math.ceil(q * n), 1)`": (
            "max() is symmetric"
        ),
        "summarise.nearest_rank: constant off by one: `1` -> `0` in `return latencies[max(1, math.ceil(q * n)) - 1]` "
        "(#2)": "q is 0.5 or 0.95 and n >= 1 (no outcomes return early): ceil(q * n) is at least 1",
        "retry_delay: arguments swapped: `min(base_delay * 2**attempt, max_delay)` -> "
        "`min(max_delay, base_delay * 2 ** attempt)`": "min() is symmetric",
        "retry_delay: arguments swapped: `min(max(float(header), 0.0), max_delay)` -> "
        "`min(max_delay, max(float(header), 0.0))`": "min() is symmetric",
        "retry_delay: arguments swapped: `max(float(header), 0.0)` -> `max(0.0, float(header))`": "max() is symmetric",
    },
    "07": {
        **{
            f"build_service: {change}": _TUNING
            for change in (
                "keyword call_timeout= dropped: `Boundary(...)` in `boundary = Boundary(upstream, upstream.clock, "
                "call_timeou...`",
                "keyword retries= dropped: `Boundary(...)` in `boundary = Boundary(upstream, upstream.clock, "
                "call_timeou...`",
                "keyword clock= dropped: `SemanticService(...)` in `return SemanticService(`",
                "keyword boundary= dropped: `SemanticService(...)` in `return SemanticService(`",
                "keyword deadline_seconds= dropped: `SemanticService(...)` in `return SemanticService(`",
                "constant off by one: `1.0` -> `2.0` in `boundary = Boundary(upstream, upstream.clock, call_timeou...`",
                "constant off by one: `1` -> `2` in `boundary = Boundary(upstream, upstream.clock, call_timeou...`",
                "constant off by one: `1` -> `0` in `boundary = Boundary(upstream, upstream.clock, call_timeou...`",
                "constant off by one: `0.66` -> `-0.33999999999999997` in `return SemanticService(`",
                "constant off by one: `2.0` -> `3.0` in `return SemanticService(`",
                "constant off by one: `2.0` -> `1.0` in `return SemanticService(`",
            )
        },
        "SemanticAnswers.find_similar: comparison: `score > best_score` -> `score >= best_score`": _TIES,
        'Boundary.call: statement deleted: `raise AssertionError("unreachable")` -> `pass`': (
            "the loop's last attempt returns or raises: the line after it is never reached"
        ),
        "Boundary.call: constant off by one: `1` -> `2` in `for attempt in range(self.retries + 1):`": (
            "the last attempt (attempt == retries) raises inside the loop: an extra iteration is never reached"
        ),
        "Boundary.call: constant off by one: `0.0` -> `-1.0` in `wait = exc.retry_after or 0.0`": (
            "a negative wait sleeps 0 on any clock; when it lets a retry start at the deadline, the retry raises "
            "'deadline' at once, with no call: the same time and calls, only the error's kind differs"
        ),
        "Boundary.call: comparison: `self.clock() + wait >= deadline_at` -> `self.clock() + wait > deadline_at`": (
            "a wait that ends exactly at the deadline leaves no time: the next attempt raises 'deadline' at the same "
            "virtual time, with no call; only the error's kind differs, which the notebook leaves open"
        ),
        "Boundary.call: arguments swapped: `min(self.call_timeout, left)` -> `min(left, self.call_timeout)`": (
            "min() is symmetric"
        ),
        "create_app.invalid: method call removed: `exc.errors()` -> `exc`": (
            "a RequestValidationError always carries at least one error: the condition is true either way"
        ),
        "create_app.invalid: constant off by one: `0` -> `-1` in `first = exc.errors()[0] if exc.errors() else {}`": (
            "each bad body of the checks has one problem, so the first error is the last; which of several to name "
            "is not specified"
        ),
        "create_app.classify: constant off by one: `0.0` -> `1.0` in `service.metrics.answer(LOCAL, True, 0.0, 0.0)` "
        "(#2)": _EMERGENCY_SECONDS,
        "create_app.classify: constant off by one: `0.0` -> `-1.0` in `service.metrics.answer(LOCAL, True, 0.0, 0.0)` "
        "(#2)": _EMERGENCY_SECONDS,
    },
    "03": {
        "RateLimitFallback.delay: arguments swapped: `min(self.max_delay, self.base_delay * 2**attempt)` -> "
        "`min(self.base_delay * 2 ** attempt, self.max_delay)`": "min() is symmetric",
        "TimeoutFallback.execute: arguments swapped: `min(self.timeout, request.timeout)` -> "
        "`min(request.timeout, self.timeout)`": "min() is symmetric",
        "CircuitBreaker._release: arguments swapped: `max(0, self._probes - 1)` -> `max(self._probes - 1, 0)`": (
            "max() is symmetric"
        ),
        "CircuitBreaker._trip: arguments swapped: `max(self.cooldown, asked or 0.0)` -> "
        "`max(asked or 0.0, self.cooldown)`": "max() is symmetric",
        "RateLimitFallback.execute: keyword degraded= dropped: `Answer(...)` in "
        "`return Answer(await call(within(request, self.clock)), so...`": "Answer's degraded defaults to False",
        "CircuitBreaker.__init__: statement deleted: `self._open_until = 0.0` -> `pass`": _NEVER_READ,
        "CircuitBreaker.__init__: constant off by one: `0.0` -> `1.0` in `self._open_until = 0.0`": _NEVER_READ,
        "CircuitBreaker.__init__: constant off by one: `0.0` -> `-1.0` in `self._open_until = 0.0`": _NEVER_READ,
        "CircuitBreaker.__init__: statement deleted: `self._probes = 0` -> `pass`": _PROBES_RESET,
        "CircuitBreaker.__init__: constant off by one: `0` -> `1` in `self._probes = 0`": _PROBES_RESET,
        "CircuitBreaker.__init__: constant off by one: `0` -> `-1` in `self._probes = 0`": _PROBES_RESET,
        "CircuitBreaker._trip: statement deleted: `self._outcomes.clear()` -> `pass`": _CLEARED_TWICE,
        "CircuitBreaker._record: statement deleted: `self._outcomes.clear()` -> `pass`": _CLEARED_TWICE,
        "CircuitBreaker._record: statement deleted: `self._release()` -> `pass`": (
            "every probe's outcome moves the circuit out of half-open (closed or open again), and entering half-open "
            "resets the count: a slot not freed here is never counted"
        ),
        "CircuitBreaker._trip: constant off by one: `0.0` -> `-1.0` in "
        "`self._open_until = self.clock() + max(self.cooldown, aske...`": (
            "retry_after() is never negative and neither is a cooldown: max(cooldown, -1.0) is max(cooldown, 0.0)"
        ),
    },
}


@dataclass(frozen=True)
class Mutant:
    cell: int  # index of the cell in the notebook
    start: int  # character offsets in the cell's source
    end: int
    replacement: str
    description: str


def solution_lines(source: str) -> set[int]:
    """The 1-based line numbers inside ``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions."""
    inside, lines = False, set()
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker.startswith("### BEGIN SOLUTION"):
            inside = True
        elif marker.startswith("### END SOLUTION"):
            inside = False
        elif inside:
            lines.add(number)
    return lines


class Source:
    """A cell's text with conversions from ast positions (line, UTF-8 byte column) to offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        for line in text.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.lines = text.splitlines(keepends=True)

    def offset(self, line: int, byte_col: int) -> int:
        prefix = self.lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", "replace")
        return self.starts[line - 1] + len(prefix)

    def span(self, node: ast.AST) -> tuple[int, int]:
        line, col = getattr(node, "lineno"), getattr(node, "col_offset")  # noqa: B009 (mypy: AST has no positions)
        end_line, end_col = getattr(node, "end_lineno"), getattr(node, "end_col_offset")  # noqa: B009
        return self.offset(line, col), self.offset(end_line, end_col)

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]


COMPARE_SWAPS: dict[type[ast.cmpop], list[type[ast.cmpop]]] = {
    ast.Lt: [ast.LtE, ast.GtE],
    ast.LtE: [ast.Lt, ast.Gt],
    ast.Gt: [ast.GtE, ast.LtE],
    ast.GtE: [ast.Gt, ast.Lt],
    ast.Eq: [ast.NotEq],
    ast.NotEq: [ast.Eq],
    ast.In: [ast.NotIn],
    ast.NotIn: [ast.In],
    ast.Is: [ast.IsNot],
    ast.IsNot: [ast.Is],
}
BINOP_SWAPS: dict[type[ast.operator], list[type[ast.operator]]] = {
    ast.Add: [ast.Sub],
    ast.Sub: [ast.Add],
    ast.Mult: [ast.Div],
    ast.Div: [ast.Mult],
    ast.FloorDiv: [ast.Div],
    ast.Mod: [ast.FloorDiv],
    ast.MatMult: [ast.Mult],
    ast.Pow: [ast.Mult],
}
SIMPLE_STATEMENTS = (
    ast.Expr,
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.Return,
    ast.Raise,
    ast.Delete,
    ast.Assert,
    ast.Break,
    ast.Continue,
)


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _where(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    names = []
    current: ast.AST | None = node
    while current is not None:
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(current.name)
        current = parents.get(current)
    return ".".join(reversed(names)) or "<cell>"


def _statement(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.stmt | None:
    current: ast.AST | None = node
    while current is not None and not isinstance(current, ast.stmt):
        current = parents.get(current)
    return current


ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set)


def _as_operand(node: ast.AST, src: Source) -> str:
    """``node``'s source, in parentheses unless it is an atom (so that it keeps its meaning in place of another)."""
    text = src.segment(node)
    return text if isinstance(node, ATOMS) else f"({text})"


def _unparse(node: ast.AST) -> str:
    return ast.unparse(ast.fix_missing_locations(node))


def mutations(node: ast.AST, src: Source, parents: dict[ast.AST, ast.AST]) -> Iterator[tuple[ast.AST, str, str]]:
    """(the node replaced, operator name, replacement text) for every mutation of ``node``."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for other in COMPARE_SWAPS.get(type(op), []):
                compare = copy.deepcopy(node)
                compare.ops[i] = other()
                yield node, "comparison", _unparse(compare)
    elif isinstance(node, ast.BoolOp):
        boolean = copy.deepcopy(node)
        boolean.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield node, "boolean operator", _unparse(boolean)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield node, "negation removed", _as_operand(node.operand, src)
    elif isinstance(node, ast.BinOp | ast.AugAssign):
        for swapped in BINOP_SWAPS.get(type(node.op), []):
            arithmetic = copy.deepcopy(node)
            arithmetic.op = swapped()
            yield node, "arithmetic", _unparse(arithmetic)
    elif isinstance(node, ast.Constant) and not isinstance(parents.get(node), ast.JoinedStr | ast.FormattedValue):
        value = node.value
        if isinstance(value, bool):
            yield node, "constant", repr(not value)
        elif isinstance(value, int | float) and not isinstance(parents.get(node), ast.UnaryOp):
            for changed in (value + 1, value - 1):
                yield node, "constant off by one", repr(changed)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        value = node.operand.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            for changed in (-value + 1, -value - 1):
                yield node, "constant off by one", repr(changed)
    elif isinstance(node, ast.Await):
        yield node, "await removed", _as_operand(node.value, src)
    elif isinstance(node, ast.Call):
        if len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
            swapped_call = copy.deepcopy(node)
            swapped_call.args[0], swapped_call.args[1] = swapped_call.args[1], swapped_call.args[0]
            yield node, "arguments swapped", _unparse(swapped_call)
        for i, keyword in enumerate(node.keywords):
            if keyword.arg is None:
                continue
            fewer = copy.deepcopy(node)
            del fewer.keywords[i]
            yield node, f"keyword {keyword.arg}= dropped", _unparse(fewer)
        plain_method = isinstance(node.func, ast.Attribute) and not node.args and not node.keywords
        if plain_method and not isinstance(parents.get(node), ast.Expr):
            assert isinstance(node.func, ast.Attribute)
            yield node, "method call removed", _as_operand(node.func.value, src)
    elif (isinstance(node, ast.If | ast.While) and not isinstance(node.test, ast.Compare | ast.UnaryOp)) or isinstance(
        node, ast.IfExp
    ):
        mutated_test = ast.UnaryOp(op=ast.Not(), operand=copy.deepcopy(node.test))
        yield node.test, "condition negated", _unparse(mutated_test)
    if isinstance(node, SIMPLE_STATEMENTS):
        is_docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not is_docstring:
            yield node, "statement deleted", "pass"
        returned = node.value if isinstance(node, ast.Return) else None
        if returned is not None and not (isinstance(returned, ast.Constant) and returned.value is None):
            yield node, "return value replaced", "return None"


def _decorator_removals(
    node: ast.AST, src: Source, lines: set[int], parents: dict[ast.AST, ast.AST]
) -> Iterator[tuple[int, int, str, str]]:
    """(start, end, replacement, description): each decorator's lines removed."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        for decorator in node.decorator_list:
            first, last = decorator.lineno, decorator.end_lineno or decorator.lineno
            if not set(range(first, last + 1)) <= lines:
                continue
            start, end = src.starts[first - 1], src.starts[last]
            where = _where(node, parents)
            yield start, end, "", f"{where}: decorator removed: `@{_short(ast.unparse(decorator))}`"


def cell_mutants(index: int, text: str) -> list[Mutant]:
    lines = solution_lines(text)
    if not lines:
        return []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    src = Source(text)
    parents = _parents(tree)
    found: list[Mutant] = []
    for node in ast.walk(tree):
        for start, end, replacement, description in _decorator_removals(node, src, lines, parents):
            found.append(Mutant(index, start, end, replacement, description))
        for target, operator, replacement in mutations(node, src, parents):
            first, last = getattr(target, "lineno", None), getattr(target, "end_lineno", None)
            if first is None or last is None or not set(range(first, last + 1)) <= lines:
                continue
            start, end = src.span(target)
            before = text[start:end]
            if replacement == before:
                continue
            shown = before
            if operator.startswith("keyword") and isinstance(target, ast.Call):
                shown = f"{src.segment(target.func)}(...)"
                description = f"{_where(target, parents)}: {operator}: `{_short(shown)}`"
            else:
                description = f"{_where(target, parents)}: {operator}: `{_short(before)}` -> `{_short(replacement)}`"
            statement = _statement(target, parents)
            if statement is target and len(before) < 12:  # a short statement: say which block it is in
                parent = parents.get(target)
                statement = _statement(parent, parents) if parent is not None else None
            if statement is not None and statement is not target:
                context = src.segment(statement).splitlines()[0]
                if _short(shown) not in _short(context, 200) or len(shown) < 12:
                    description += f" in `{_short(context, 60)}`"
            found.append(Mutant(index, start, end, replacement, description))
    return found


def graded_cells(notebook: dict[str, Any]) -> Iterator[tuple[int, str]]:
    for index, cell in enumerate(notebook["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and not is_test_cell(cell) and "demo" not in tags:
            yield index, cell_source(cell)


def all_mutants(notebook: dict[str, Any]) -> list[Mutant]:
    """Every mutant of the notebook's solution regions, each with a unique description, no two alike."""
    mutants: list[Mutant] = []
    seen_text: set[tuple[int, str]] = set()
    counts: dict[str, int] = {}
    for index, text in graded_cells(notebook):
        for mutant in cell_mutants(index, text):
            changed = text[: mutant.start] + mutant.replacement + text[mutant.end :]
            try:
                compile(changed, "<mutant>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
            except SyntaxError:
                continue
            if (index, changed) in seen_text:
                continue
            seen_text.add((index, changed))
            counts[mutant.description] = counts.get(mutant.description, 0) + 1
            if counts[mutant.description] > 1:
                mutant = Mutant(
                    mutant.cell,
                    mutant.start,
                    mutant.end,
                    mutant.replacement,
                    f"{mutant.description} (#{counts[mutant.description]})",
                )
            mutants.append(mutant)
    return mutants


def apply(notebook: dict[str, Any], mutant: Mutant) -> tuple[dict[str, Any], str]:
    """The mutated notebook and the diff of the changed cell."""
    mutated = copy.deepcopy(notebook)
    cell = mutated["cells"][mutant.cell]
    text = cell_source(cell)
    changed = text[: mutant.start] + mutant.replacement + text[mutant.end :]
    cell["source"] = changed
    diff = difflib.unified_diff(
        text.splitlines(), changed.splitlines(), f"cell {mutant.cell + 1}", "mutant", n=1, lineterm=""
    )
    return mutated, "\n".join(list(diff)[2:])


def run_lab(lab: str, only: str | None, folder: Path, limits: Limits) -> dict[str, Any]:
    notebook = json.loads((ROOT / "solutions" / f"{LABS[lab]}.ipynb").read_text(encoding="utf-8"))
    mutants = [m for m in all_mutants(notebook) if not only or only in m.description]
    equivalent = EQUIVALENT.get(lab, {})
    pairs, diffs = [], []
    for number, mutant in enumerate(mutants):
        mutated, diff = apply(notebook, mutant)
        path = folder / lab / f"m{number:04d}" / f"{LABS[lab]}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(mutated), encoding="utf-8")
        pairs.append((lab, path))
        diffs.append(diff)
    started = time.perf_counter()
    results = grade(pairs, limits) if pairs else []
    elapsed = time.perf_counter() - started
    survivors, equivalent_killed = [], []
    killed = 0
    for mutant, diff, result in zip(mutants, diffs, results, strict=True):
        is_equivalent = mutant.description in equivalent
        died = result.score < result.max_score or result.error is not None
        if died and is_equivalent:
            equivalent_killed.append(mutant.description)
        if died:
            killed += 1
        elif not is_equivalent:
            survivors.append({"description": mutant.description, "diff": diff})
    listed = sum(1 for m in mutants if m.description in equivalent)
    counted = len(mutants) - listed
    killed_counted = killed - len(equivalent_killed)
    return {
        "lab": lab,
        "mutants": len(mutants),
        "equivalent": listed,
        "non_equivalent": counted,
        "killed": killed_counted,
        "survived": len(survivors),
        "score": killed_counted / counted if counted else 1.0,
        "survivors": survivors,
        "equivalent_but_killed": equivalent_killed,
        "unknown_equivalents": sorted(set(equivalent) - {m.description for m in mutants}) if not only else [],
        "seconds": round(elapsed, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab", action="append", choices=sorted(LABS), help="a lab (repeatable); default: all")
    parser.add_argument("--only", help="only mutants whose description contains this text")
    parser.add_argument("--list", action="store_true", help="list the mutants, grade nothing")
    parser.add_argument("--jobs", type=int, default=0, help="mutants graded at once (default: one per CPU)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    labs = args.lab or sorted(LABS)
    if args.list:
        for lab in labs:
            notebook = json.loads((ROOT / "solutions" / f"{LABS[lab]}.ipynb").read_text(encoding="utf-8"))
            for mutant in all_mutants(notebook):
                if not args.only or args.only in mutant.description:
                    flag = "  (equivalent)" if mutant.description in EQUIVALENT.get(lab, {}) else ""
                    print(f"{lab}  {mutant.description}{flag}")
        return 0
    # short CPU limits: a mutant stuck in a loop costs seconds, not minutes (the reference needs < 1 s a check)
    limits = Limits(check_seconds=5.0, wall_seconds=240.0, parallel=args.jobs)
    folder = Path(tempfile.mkdtemp(prefix="mutants-"))
    reports = []
    try:
        for lab in labs:
            report = run_lab(lab, args.only, folder, limits)
            reports.append(report)
            print(f"\n=== lab {lab}: {len(report['survivors'])} survivors ===")
            for survivor in report["survivors"]:
                print(f"\n--- {survivor['description']}\n{survivor['diff']}")
            for description in report["equivalent_but_killed"]:
                print(f"\nnote: listed as equivalent but killed (remove it from EQUIVALENT): {description}")
            for description in report["unknown_equivalents"]:
                print(f"\nnote: listed as equivalent but no such mutant (the reference changed?): {description}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("\nlab  mutants  equivalent  killed / non-equivalent  score   time")
    for r in reports:
        print(
            f"{r['lab']:>3}  {r['mutants']:7}  {r['equivalent']:10}  {r['killed']:6} / {r['non_equivalent']:<14}"
            f"  {r['score']:6.1%}  {r['seconds']:.0f} s"
        )
    print(f"\nrerun: {COMMAND}" + "".join(f" --lab {lab}" for lab in labs if args.lab))
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
