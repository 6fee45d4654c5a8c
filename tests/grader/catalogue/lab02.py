# ruff: noqa: E501 (the entries are code: their exact text matters more than the line length)
"""Lab 02: plausible learner mistakes, and correct designs other than the reference's."""

from __future__ import annotations

from . import Submission

COSINE_RETURN = "    return float(np.clip(a @ b / (norm_a * norm_b), -1.0, 1.0))"
ZERO_GUARD = "    if norm_a == 0.0 or norm_b == 0.0:\n        return 0.0\n"

SCORING = """        scores = self._vectors[: self._n] @ (vector / norm)
        scores[self._scope_ids[: self._n] != scope_id] = -np.inf
        best = int(np.argmax(scores))
        if scores[best] < self.similarity_threshold:
            return None
"""

HIT = """        self._recency.move_to_end(self._keys[best])
        return self._responses[best]
"""

ADD_START = """        self._expire()
        vector = self.get_embedding(query)
        norm = np.linalg.norm(vector)
        unit = vector / norm if norm > 0 else vector
"""

EXPIRE = """        if self.ttl_seconds is None or self._n == 0:
            return
        expired = np.flatnonzero(self.clock() - self._added_at[: self._n] > self.ttl_seconds)
        for key in [self._keys[row] for row in expired]:
            self._remove(key)
"""

INIT = """        self._vectors = np.zeros((0, 0))  # row i: unit embedding of entry i (rows >= self._n are spare)
"""

ADD_BODY = """        key = (scope, query)
        if key in self._row:
            row = self._row[key]
        else:
            if self._n >= self.max_entries:
                self._remove(next(iter(self._recency)))  # least recently used
            row = self._append_row(unit.shape[0])
            self._row[key] = row
            self._keys[row] = key
        self._vectors[row] = unit
        self._scope_ids[row] = self._scope_index.setdefault(scope, len(self._scope_index))
        self._added_at[row] = self.clock()
        self._responses[row] = response
        self._recency[key] = None
        self._recency.move_to_end(key)
"""

FIND_BODY = (
    """        self._expire()
        scope_id = self._scope_index.get(scope)
        if self._n == 0 or scope_id is None:
            return None
        vector = self.get_embedding(query)
        norm = np.linalg.norm(vector)
        if norm == 0:
            return None
"""
    + SCORING
    + HIT
)

LEN_BODY = """        self._expire()
        return self._n
"""


MISTAKES = [
    # --- cosine similarity -------------------------------------------------------------------
    Submission(
        "norm-of-a-twice",
        {COSINE_RETURN: "    return float(np.clip(a @ b / (norm_a * norm_a), -1.0, 1.0))"},
        ("02-cosine-fixed", "02-cosine-properties"),
        "wrong similarity",
        "divides by |a| |a|",
    ),
    Submission(
        "indentation-error",
        {"    b = np.asarray(b, dtype=float)\n": "     b = np.asarray(b, dtype=float)\n"},
        ("02-cosine-fixed", "02-cosine-properties", "02-cosine-zero"),
        "raised IndentationError: unexpected indent",
        "a syntax error stops the whole cell: every check of what it defines must point to that cell's error, "
        "not only say the name is missing",
        everywhere=True,
        breaks_cell=True,
    ),
    Submission(
        "no-zero-guard",
        {ZERO_GUARD: ""},
        ("02-cosine-zero",),
        "zero vector",
        "0 / 0 gives nan and a RuntimeWarning",
    ),
    Submission(
        "zero-gives-none",
        {ZERO_GUARD: "    if norm_a == 0.0 or norm_b == 0.0:\n        return None\n"},
        ("02-cosine-zero",),
        "zero vector",
        "returns None for a zero vector",
    ),
    Submission(
        "zero-guard-with-and",
        {"    if norm_a == 0.0 or norm_b == 0.0:": "    if norm_a == 0.0 and norm_b == 0.0:"},
        ("02-cosine-zero",),
        "zero vector",
        "guards only when both vectors are zero",
    ),
    Submission(
        "integer-arrays",
        {
            "    a = np.asarray(a, dtype=float)\n    b = np.asarray(b, dtype=float)\n": (
                "    a = np.asarray(a, dtype=int)\n    b = np.asarray(b, dtype=int)\n"
            )
        },
        ("02-cosine-fixed",),
        "wrong similarity",
        "converts to int, so 0.3 becomes 0",
    ),
    Submission(
        "no-clip",
        {COSINE_RETURN: "    return float(a @ b / (norm_a * norm_b))"},
        ("02-cosine-properties",),
        "clip",
        "1.0000000000000002 escapes [-1, 1]",
    ),
    Submission(
        "clip-to-0-1",
        {COSINE_RETURN: "    return float(np.clip(a @ b / (norm_a * norm_b), 0.0, 1.0))"},
        ("02-cosine-fixed",),
        "wrong similarity",
        "clips opposite directions to 0",
    ),
    Submission(
        "epsilon-in-denominator",
        {COSINE_RETURN: "    return float(np.clip(a @ b / (norm_a * norm_b + 1e-8), -1.0, 1.0))"},
        ("02-cosine-properties",),
        "tiny vector",
        "adds 1e-8 to the norms' product instead of testing for zero",
    ),
    Submission(
        "isclose-zero-guard",
        {"    if norm_a == 0.0 or norm_b == 0.0:": "    if np.isclose(norm_a, 0.0) or np.isclose(norm_b, 0.0):"},
        ("02-cosine-properties",),
        "tiny vector",
        "np.isclose(norm, 0) treats every norm under 1e-8 as zero",
    ),
    Submission(
        "small-norm-cutoff",
        {"    if norm_a == 0.0 or norm_b == 0.0:": "    if norm_a < 1e-9 or norm_b < 1e-9:"},
        ("02-cosine-properties",),
        "tiny vector",
        "calls a short vector zero",
    ),
    # --- matching ------------------------------------------------------------------------------
    Submission(
        "first-match",
        {
            SCORING: """        scores = self._vectors[: self._n] @ (vector / norm)
        scores[self._scope_ids[: self._n] != scope_id] = -np.inf
        above = np.flatnonzero(scores >= self.similarity_threshold)
        if len(above) == 0:
            return None
        best = int(above[0])
"""
        },
        ("02-best_match",),
        "first one above",
        "returns the first entry above the threshold",
    ),
    Submission(
        "last-match",
        {
            SCORING: """        scores = self._vectors[: self._n] @ (vector / norm)
        scores[self._scope_ids[: self._n] != scope_id] = -np.inf
        best = None
        for row in range(self._n):
            if scores[row] >= self.similarity_threshold:
                best = row
        if best is None:
            return None
"""
        },
        ("02-best_match",),
        "last one above",
        "overwrites the match on every entry above the threshold",
    ),
    Submission(
        "ranked-by-dot-product",
        {
            "        unit = vector / norm if norm > 0 else vector\n": "        unit = vector\n",
            SCORING: """        scores = self._vectors[: self._n] @ (vector / norm)
        scores[self._scope_ids[: self._n] != scope_id] = -np.inf
        best = int(np.argmax(scores))
        if self.cosine_similarity(self._vectors[best], vector) < self.similarity_threshold:
            return None
""",
        },
        ("02-best_match",),
        "dot product",
        "stores raw vectors, so longer vectors win the argmax",
    ),
    Submission(
        "strict-threshold",
        {
            "        if scores[best] < self.similarity_threshold:": "        if scores[best] <= self.similarity_threshold:"
        },
        ("02-threshold",),
        ">=, not >",
        "> instead of >=",
    ),
    Submission(
        "fixed-threshold",
        {"        if scores[best] < self.similarity_threshold:": "        if scores[best] < 0.85:"},
        ("02-threshold",),
        "at least the threshold",
        "ignores the similarity_threshold it was given",
    ),
    Submission(
        "query-not-normalised",
        {
            "        scores = self._vectors[: self._n] @ (vector / norm)": "        scores = self._vectors[: self._n] @ vector"
        },
        ("02-threshold",),
        "normalised",
        "normalises the entries but not the query",
    ),
    Submission(
        "zero-query-matches",
        {"        if norm == 0:\n            return None\n": ""},
        ("02-threshold",),
        "zero vector",
        "nan scores from a zero query pass the threshold test",
    ),
    Submission(
        "returns-the-query",
        {"        return self._responses[best]\n": "        return self._keys[best][1]\n"},
        ("02-handout",),
        "wrong cache answer",
        "returns the matched query, not its response",
    ),
    # --- scope -----------------------------------------------------------------------------------
    Submission(
        "scope-ignored",
        {"        scores[self._scope_ids[: self._n] != scope_id] = -np.inf\n": ""},
        ("02-scope",),
        "leaked",
        "stores the scope and never compares it",
    ),
    Submission(
        "scope-checked-after-argmax",
        {
            SCORING: """        scores = self._vectors[: self._n] @ (vector / norm)
        best = int(np.argmax(scores))
        if self._scope_ids[best] != scope_id or scores[best] < self.similarity_threshold:
            return None
"""
        },
        ("02-scope",),
        "hid",
        "picks the best entry of any scope, then rejects it if the scope differs",
    ),
    Submission(
        "keyed-by-query-only",
        {"        key = (scope, query)\n": '        key = ("", query)\n'},
        ("02-scope",),
        "two entries",
        "one entry per query, whatever the scope",
    ),
    # --- LRU --------------------------------------------------------------------------------------
    Submission(
        "hit-not-a-use",
        {HIT: "        return self._responses[best]\n"},
        ("02-lru",),
        "hit must make",
        "recency is refreshed on add only",
    ),
    Submission(
        "evicts-most-recent",
        {"self._remove(next(iter(self._recency)))": "self._remove(next(reversed(self._recency)))"},
        ("02-lru",),
        "least recently used",
        "evicts from the wrong end",
    ),
    Submission(
        "holds-one-too-many",
        {"            if self._n >= self.max_entries:": "            if self._n > self.max_entries:"},
        ("02-lru",),
        "every entry is still served",
        "evicts only beyond max_entries + 1",
    ),
    Submission(
        "miss-is-a-use",
        {
            SCORING + HIT: SCORING.replace(
                "        if scores[best]",
                "        self._recency.move_to_end(self._keys[best])\n        if scores[best]",
            )
            + "        return self._responses[best]\n"
        },
        ("02-lru",),
        "miss counted as a use",
        "refreshes the best candidate even when it is below the threshold",
    ),
    Submission(
        "re-add-appends",
        {
            "        if key in self._row:\n            row = self._row[key]\n        else:\n": (
                "        if False:\n            pass\n        else:\n"
            )
        },
        ("02-lru",),
        "not add a second one",
        "a re-added query gets a second row",
    ),
    Submission(
        "re-add-not-a-use",
        {
            "        self._recency[key] = None\n        self._recency.move_to_end(key)\n": (
                "        self._recency.setdefault(key, None)\n"
            )
        },
        ("02-lru",),
        "re-adding a query is a use",
        "a re-added query keeps its old place in the LRU order",
    ),
    # --- TTL ---------------------------------------------------------------------------------------
    Submission(
        "ttl-on-wall-clock",
        {
            "        self._added_at[row] = self.clock()\n": "        self._added_at[row] = time.monotonic()\n",
            "self.clock() - self._added_at[: self._n] > self.ttl_seconds": (
                "time.monotonic() - self._added_at[: self._n] > self.ttl_seconds"
            ),
        },
        ("02-ttl",),
        "injected clock",
        "reads time.monotonic() instead of the injected clock",
    ),
    Submission(
        "ttl-inclusive",
        {
            "self.clock() - self._added_at[: self._n] > self.ttl_seconds": (
                "self.clock() - self._added_at[: self._n] >= self.ttl_seconds"
            )
        },
        ("02-ttl",),
        "exactly ttl_seconds old",
        ">= instead of >",
    ),
    Submission(
        "ttl-none-not-handled",
        {"        if self.ttl_seconds is None or self._n == 0:": "        if self._n == 0:"},
        ("02-handout", "02-best_match", "02-lru"),
        "TypeError",
        "compares ages with ttl_seconds=None",
    ),
    Submission(
        "expired-entries-hold-slots",
        {ADD_START: ADD_START.replace("        self._expire()\n", "")},
        ("02-ttl",),
        "held a slot",
        "evicts before dropping expired entries",
    ),
    Submission(
        "len-counts-expired",
        {LEN_BODY: "        return self._n\n"},
        ("02-ttl",),
        "len",
        "len counts expired entries",
    ),
    Submission(
        "sliding-expiry",
        {HIT: "        self._added_at[best] = self.clock()\n" + HIT},
        ("02-ttl",),
        "does not renew",
        "a hit renews the entry's age",
    ),
    Submission(
        "re-add-keeps-age",
        {
            "        self._added_at[row] = self.clock()\n": "",
            "            self._keys[row] = key\n": "            self._keys[row] = key\n            self._added_at[row] = self.clock()\n",
        },
        ("02-ttl",),
        "new age",
        "only new entries get a time",
    ),
    Submission(
        "empty-after-expiry-breaks",
        {"        if self._n == 0 or scope_id is None:\n": "        if scope_id is None:\n"},
        ("02-ttl",),
        "keep working",
        "np.argmax of an empty array once every entry of a known scope has expired",
    ),
    # --- embeddings and storage -------------------------------------------------------------------
    Submission(
        "embedding-as-list",
        {
            "        return np.asarray(response.data[0].embedding, dtype=float)\n": (
                "        return response.data[0].embedding\n"
            )
        },
        ("02-embedding",),
        "1-D numpy array",
        "returns the SDK's list",
    ),
    Submission(
        "rows-lost-when-growing",
        {"            if self._n:\n                vectors[: self._n] = self._vectors[: self._n]\n": ""},
        ("02-vectorised",),
        "rows were lost",
        "allocates a bigger array and forgets to copy the old rows",
    ),
    Submission(
        "python-loop-lookup",
        {
            SCORING: """        scores = np.full(self._n, -np.inf)
        for row in range(self._n):
            if self._scope_ids[row] == scope_id:
                scores[row] = self.cosine_similarity(self._vectors[row], vector)
        best = int(np.argmax(scores))
        if scores[best] < self.similarity_threshold:
            return None
"""
        },
        ("02-vectorised",),
        "python code for every entry",
        "scores the entries one by one in Python",
    ),
]


ALTERNATIVES = [
    Submission(
        "cosine-normalise-first",
        {ZERO_GUARD + COSINE_RETURN: ZERO_GUARD + "    return float(np.clip((a / norm_a) @ (b / norm_b), -1.0, 1.0))"},
        why="normalise each vector, then take the dot product",
    ),
    Submission(
        "cosine-pure-python",
        {
            "    a = np.asarray(a, dtype=float)\n    b = np.asarray(b, dtype=float)\n"
            "    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)\n"
            + ZERO_GUARD
            + COSINE_RETURN: """    import math

    a = [float(x) for x in a]
    b = [float(x) for x in b]
    norm_a = math.sqrt(math.fsum(x * x for x in a))
    norm_b = math.sqrt(math.fsum(x * x for x in b))
    if norm_a == 0.0 or norm_b == 0.0:
        return 0.0
    return max(-1.0, min(1.0, math.fsum(x * y for x, y in zip(a, b)) / (norm_a * norm_b)))"""
        },
        why="the standard library only, with exact sums",
    ),
    Submission(
        "cosine-sqrt-of-dots",
        {
            "    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)\n" + ZERO_GUARD + COSINE_RETURN: (
                "    denominator = np.sqrt((a @ a) * (b @ b))\n"
                "    if denominator == 0.0:\n"
                "        return 0.0\n"
                "    return float(np.clip(a @ b / denominator, -1.0, 1.0))"
            )
        },
        why="one square root of the product of the squared norms",
    ),
    Submission(
        "dict-recency",
        {
            "        self._recency: OrderedDict[tuple[str, str], None] = OrderedDict()  # least recently used first\n": (
                "        self._recency: dict[tuple[str, str], None] = {}  # insertion order: least recently used first\n"
            ),
            "        self._recency[key] = None\n        self._recency.move_to_end(key)\n": (
                "        self._recency.pop(key, None)\n        self._recency[key] = None\n"
            ),
            "        self._recency.move_to_end(self._keys[best])\n": (
                "        self._recency[self._keys[best]] = self._recency.pop(self._keys[best])\n"
            ),
        },
        why="a plain dict in insertion order as the LRU list",
    ),
    Submission(
        "recency-list",
        {
            "        self._recency: OrderedDict[tuple[str, str], None] = OrderedDict()  # least recently used first\n": (
                "        self._recency: list[tuple[str, str]] = []  # least recently used first\n"
            ),
            "        self._recency[key] = None\n        self._recency.move_to_end(key)\n": (
                "        if key in self._recency:\n            self._recency.remove(key)\n        self._recency.append(key)\n"
            ),
            "        self._recency.move_to_end(self._keys[best])\n": (
                "        self._recency.remove(self._keys[best])\n        self._recency.append(self._keys[best])\n"
            ),
            "self._remove(next(iter(self._recency)))": "self._remove(self._recency[0])",
            "        del self._recency[key]\n": "        self._recency.remove(key)\n",
        },
        why="a list as the LRU order (remove and append)",
    ),
    Submission(
        "heap-expiry",
        {
            "from collections import OrderedDict\n": "from collections import OrderedDict\nimport heapq\n",
            "        self._n = 0\n        ### END SOLUTION": (
                "        self._n = 0\n"
                "        self._expiry: list[tuple[float, int, tuple[str, str]]] = []  # (added_at, order, key)\n"
                "        self._order = 0\n"
                "        ### END SOLUTION"
            ),
            "        self._added_at[row] = self.clock()\n": (
                "        self._added_at[row] = self.clock()\n"
                "        heapq.heappush(self._expiry, (self._added_at[row], self._order, key))\n"
                "        self._order += 1\n"
            ),
            EXPIRE: """        if self.ttl_seconds is None:
            return
        now = self.clock()
        while self._expiry and now - self._expiry[0][0] > self.ttl_seconds:
            added_at, _, key = heapq.heappop(self._expiry)
            row = self._row.get(key)
            if row is not None and self._added_at[row] == added_at:  # not re-added since
                self._remove(key)
""",
        },
        why="a heap of insertion times, so expiry never scans all entries",
    ),
    Submission(
        "mask-rows-of-scope",
        {
            SCORING: """        rows = np.flatnonzero(self._scope_ids[: self._n] == scope_id)
        if len(rows) == 0:
            return None
        scores = self._vectors[rows] @ (vector / norm)
        best = int(rows[np.argmax(scores)])
        if scores.max() < self.similarity_threshold:
            return None
"""
        },
        why="select the scope's rows first, then score only those",
    ),
    Submission(
        "lazy-expiry-in-lookups",
        {
            "        self._expire()\n        scope_id = self._scope_index.get(scope)\n": (
                "        scope_id = self._scope_index.get(scope)\n"
            ),
            "        scores[self._scope_ids[: self._n] != scope_id] = -np.inf\n": (
                "        scores[self._scope_ids[: self._n] != scope_id] = -np.inf\n"
                "        if self.ttl_seconds is not None:\n"
                "            scores[self.clock() - self._added_at[: self._n] > self.ttl_seconds] = -np.inf\n"
            ),
        },
        why="lookups skip expired rows; adds and len drop them",
    ),
    Submission(
        "ordered-dict-and-cached-matrix",
        {
            INIT: INIT
            + "        self._store: OrderedDict = OrderedDict()  # (scope, query) -> (unit, response, added_at)\n"
            "        self._matrix: dict[str, tuple[np.ndarray, list]] | None = None  # per scope, rebuilt on change\n",
            ADD_START + ADD_BODY: """        self._expire()
        vector = self.get_embedding(query)
        norm = np.linalg.norm(vector)
        key = (scope, query)
        self._store.pop(key, None)
        if len(self._store) >= self.max_entries:
            self._store.popitem(last=False)
        self._store[key] = (vector / norm if norm > 0 else vector, response, self.clock())
        self._matrix = None
""",
            FIND_BODY: """        self._expire()
        vector = self.get_embedding(query)
        norm = np.linalg.norm(vector)
        if norm == 0:
            return None
        if self._matrix is None:
            grouped: dict[str, list] = {}
            for key, (unit, _, _) in self._store.items():
                grouped.setdefault(key[0], []).append((key, unit))
            self._matrix = {s: (np.array([u for _, u in rows]), [k for k, _ in rows]) for s, rows in grouped.items()}
        if scope not in self._matrix:
            return None
        matrix, keys = self._matrix[scope]
        scores = matrix @ (vector / norm)
        best = int(np.argmax(scores))
        if scores[best] < self.similarity_threshold:
            return None
        self._store.move_to_end(keys[best])
        return self._store[keys[best]][1]
""",
            LEN_BODY: "        self._expire()\n        return len(self._store)\n",
            EXPIRE: """        if self.ttl_seconds is None:
            return
        now = self.clock()
        old = [key for key, (_, _, added_at) in self._store.items() if now - added_at > self.ttl_seconds]
        for key in old:
            del self._store[key]
        if old:
            self._matrix = None
""",
        },
        why="an OrderedDict of entries and a per-scope matrix rebuilt only after a change",
    ),
]
