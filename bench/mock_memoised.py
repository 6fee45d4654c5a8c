"""The mock with a new prompt's own work memoised: how much of the varied scenario it costs.

    python -m bench.mock_memoised --port 8001 --latency off

Started by bench/mock_throughput.py beside the real mock. Prompts that differ only in their
digits (the benchmark's request numbers) share one token count and one answer here, so a
"new" prompt costs what a repeated one does in those two steps and nothing else changes:
parsing, validation, billing, the ledger, headers and serialisation all still run. The gap
between this server and the real one on the varied scenario is what exact counting and
answering cost; the gap between this one and the ceiling is everything else. Never a way
to serve: answers here belong to other prompts.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from mock_llm.__main__ import main
from mock_llm.routes import chat, generation

_DIGITS = re.compile(r"\d+")


def _memoised(work: Callable[..., Any], key: Callable[..., Any]) -> Callable[..., Any]:
    done: dict[Any, Any] = {}

    def call(*args: Any) -> Any:
        k = key(*args)
        if k not in done:
            done[k] = work(*args)
        return done[k]

    return call


def _strip(value: Any) -> Any:
    return _DIGITS.sub("", value) if isinstance(value, str) else value


def install() -> None:
    # _prompt(texts): the conversation's system text, last user text and token count.
    chat._prompt = _memoised(chat._prompt, lambda texts: tuple(tuple(map(_strip, m)) for m in texts))
    # generation._generate(seed, model, tier, system, user, ...): the answer and its tokens.
    generation._generate = _memoised(generation._generate, lambda *args: tuple(map(_strip, args)))  # type: ignore[assignment]


if __name__ == "__main__":
    install()
    sys.exit(main(sys.argv[1:]))
