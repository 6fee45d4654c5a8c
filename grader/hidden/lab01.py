"""Hidden checks for lab 01: graded by the instructor, never shipped in the student kit."""

from __future__ import annotations

import httpx2

from mock_llm import InProcessMock, Settings

from ..checks.common import names_unawaited, run_async
from ..checks.lab01 import Upstream, error_shape, make_app, post, shown
from ..oracle import Reference
from ..registry import CheckFailed, Namespace, check


@check(
    "01-retry",
    1,
    "with max_retries, a transient 429 is retried and the request succeeds",
    "client.with_options(max_retries=max_retries): the SDK retries 429/5xx and honours retry-after.",
    visibility="hidden",
    part="stretch",
)
@names_unawaited
def retry(learner: Namespace, ref: Reference) -> None:
    upstream = Upstream(faults=["rate_limit; retry_after_ms=10", "server_error; retry_after_ms=10"])

    async def run() -> httpx2.Response:
        return await post(make_app(learner, upstream, max_retries=2, timeout=5.0), {"text": "Retry me"})

    response = run_async(run(), "POST /classify with max_retries=2 and two transient upstream errors")
    if response.status_code != 200 or upstream.requests != 3:
        if upstream.requests < 3:
            verdict = "Transient upstream errors were not retried (give the SDK the policy: "
            verdict += "client.with_options(max_retries=max_retries))."
        elif upstream.requests == 3:
            verdict = "The upstream errors were retried, but the request still failed (see what came back)."
        else:
            verdict = "More upstream requests than max_retries allows: retry with the SDK's policy alone."
        raise CheckFailed(
            verdict,
            input="upstream: 429, then 500, then success; max_retries=2",
            expected="status 200 after 3 upstream requests",
            actual=f"{shown(response)} after {upstream.requests} upstream requests",
        )


@check(
    "01-no-500",
    1,
    "under random upstream faults and odd inputs, no 500 and every error in the format",
    "Every failure path needs a handler; test with the mock's fault rates.",
    visibility="hidden",
)
@names_unawaited
def no_500(learner: Namespace, ref: Reference) -> None:
    mock = InProcessMock(Settings(latency=0.0, hang_seconds=0.5, seed=5))
    mock.set_faults(
        rates={
            "rate_limit": 0.15,
            "server_error": 0.1,
            "malformed_json": 0.1,
            "empty": 0.1,
            "corrupted": 0.1,
            "truncated": 0.1,
            "timeout": 0.05,
        }
    )
    texts = [f"review number {i}: it was {'good' if i % 2 else 'bad'}" for i in range(30)]
    texts += ["\u00e9\u00e8\u4e2d\u6587 \U0001f600", "a" * 1000, "<script>alert(1)</script>", "' OR 1=1 --"]

    async def run() -> list[httpx2.Response]:
        app = make_app(learner, mock, max_retries=0, timeout=0.2)
        return [await post(app, {"text": t}) for t in texts]

    for text, response in zip(texts, run_async(run(), "POST /classify under random upstream faults"), strict=True):
        if response.status_code == 200:
            continue
        error_shape(response, (422, 429, 502, 503, 504), None, f"text {text[:40]!r} under random faults")
