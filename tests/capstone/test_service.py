"""The capstone service end to end: in process, its model calls over HTTP to the real mock.

Expectations come from outside the service: the mock's ledger (what was called and billed),
the kit's labels, the mock answering the same question directly, and the API contract.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re

import openai
import pytest

from solutions.capstone import labs
from solutions.capstone.logs import JsonFormatter
from solutions.capstone.metrics import ROUTES
from solutions.capstone.settings import Settings

from .conftest import MockControl, service_client, settings_for

pytestmark = pytest.mark.anyio
LABELS = {"Positive", "Negative", "Neutral"}
FIELDS = {"sentiment", "confidence", "cached", "model_used", "tier", "degraded", "source"}
# Texts of several kinds: templated reviews like the kit's, and free text the local model has not seen.
TEXTS = [
    "Oh great, the laptop crashed again.",
    "I would never call this speaker brilliant.",
    "The headset weighs about 345 grams.",
    "What a day, meh",
    "The parcel came on Tuesday and I have not opened it yet",
    "Absolutely wonderful customer service, thank you!",
]
PER_TIER_CALLS = {"local": {}, "cheap": {"gpt-3.5-turbo": 1}, "strong": {"gpt-3.5-turbo": 1, "gpt-4": 1}}


async def test_each_answer_costs_what_its_tier_says(mock: MockControl) -> None:
    """Does every answer name the tier that made it, with exactly that tier's calls in the mock's ledger?"""
    tiers = set()
    async with service_client(settings_for(mock)) as client:
        for text in TEXTS:
            before = mock.ledger()["models"]
            response = await client.post("/classify", json={"text": text})
            assert response.status_code == 200, response.text
            body = response.json()
            assert set(body) == FIELDS and body["sentiment"] in LABELS and 0 <= body["confidence"] <= 1
            assert body["degraded"] is False and body["cached"] is False
            after = mock.ledger()["models"]
            delta = {m: after[m]["calls"] - before.get(m, {}).get("calls", 0) for m in after}
            delta = {m: n for m, n in delta.items() if n}
            assert delta == PER_TIER_CALLS[body["tier"]], (text, body)
            tiers.add(body["tier"])
    assert {"local", "strong"} <= tiers  # the fixed texts reach both ends of the cascade


async def test_paid_answers_are_the_models_own(mock: MockControl) -> None:
    """Is a paid tier's label the label that model gives when asked directly with the SDK?"""
    direct = openai.AsyncOpenAI(base_url=mock.server.base_url, api_key="direct", max_retries=0)
    system = labs.lab("01").SYSTEM_PROMPT
    async with service_client(settings_for(mock)) as client:
        for text in TEXTS:
            body = (await client.post("/classify", json={"text": text})).json()
            if body["tier"] == "local":
                continue
            reply = await direct.chat.completions.create(
                model=body["model_used"],
                max_tokens=3,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": text}],
            )
            assert reply.choices[0].message.content.strip().rstrip(".").capitalize() == body["sentiment"]
    await direct.close()


async def test_cost_metric_matches_the_ledger(mock: MockControl) -> None:
    """Do the dollars on /metrics equal the dollars the mock billed?"""
    async with service_client(settings_for(mock)) as client:
        for text in TEXTS:
            await client.post("/classify", json={"text": text})
        metrics = (await client.get("/metrics")).text
    billed = mock.cost()
    assert billed > 0
    reported = float(re.search(r"^capstone_cost_dollars_total (\S+)$", metrics, re.M).group(1))
    assert reported == pytest.approx(billed, rel=1e-9, abs=1e-12)


async def test_repeated_text_is_answered_from_the_exact_cache(mock: MockControl) -> None:
    """Is a repeat (re-spaced, re-cased) answered without a model call, and said to be cached?"""
    async with service_client(settings_for(mock)) as client:
        first = (await client.post("/classify", json={"text": "What a day, meh"})).json()
        calls = mock.calls()
        again = (await client.post("/classify", json={"text": "  what A day,   MEH "})).json()
    assert mock.calls() == calls
    assert again["cached"] is True and again["source"] == "exact"
    assert (again["sentiment"], again["model_used"]) == (first["sentiment"], first["model_used"])


async def test_near_duplicate_is_answered_from_the_semantic_cache(mock: MockControl) -> None:
    """Is a near-identical text (other punctuation) answered by lab 02's cache without a call?"""
    async with service_client(settings_for(mock)) as client:
        await client.post("/classify", json={"text": "What a day, meh"})
        calls = mock.calls()
        body = (await client.post("/classify", json={"text": "What a day... meh!"})).json()
    assert mock.calls() == calls
    assert body["cached"] is True and body["source"] == "semantic"


async def test_semantic_answers_do_not_cross_scopes(mock: MockControl) -> None:
    """Is an answer cached for one model line-up never served to another (scope by model and prompt)?"""
    async with service_client(settings_for(mock)) as client:
        cascade = client.app.state.service.cascade
        await client.post("/classify", json={"text": "What a day, meh"})
        assert cascade.semantic.find("What a day... meh!", cascade.scope) is not None
        assert cascade.semantic.find("What a day... meh!", cascade.scope.replace("gpt-4", "claude-instant")) is None


async def test_identical_concurrent_requests_share_one_call(mock: MockControl) -> None:
    """Do twenty identical requests in flight at once make one model call between them?"""
    mock.latency(0.5)  # calls take a few hundred ms, so the twenty overlap
    async with service_client(settings_for(mock)) as client:
        responses = await asyncio.gather(
            *(client.post("/classify", json={"text": "What a day, meh"}) for _ in range(20))
        )
    assert all(r.status_code == 200 for r in responses)
    bodies = [r.json() for r in responses]
    assert len({(b["sentiment"], b["model_used"]) for b in bodies}) == 1
    calls = {m: n["calls"] for m, n in mock.ledger()["models"].items()}
    assert bodies[0]["tier"] != "local" and calls == PER_TIER_CALLS[bodies[0]["tier"]]  # one cascade's calls
    assert sum(not b["cached"] for b in bodies) == 1


async def test_failing_provider_gives_marked_degraded_answers(mock: MockControl) -> None:
    """With every model call failing, is each answer a 200 marked degraded, and does the breaker stop the calls?"""
    mock.faults({"server_error": 1.0})
    settings = settings_for(mock, breaker_min_calls=5, breaker_window=10, breaker_cooldown_seconds=60.0)
    async with service_client(settings) as client:
        bodies = []
        for i in range(15):
            response = await client.post("/classify", json={"text": f"Ticket {i}, meh"})
            assert response.status_code == 200, response.text
            bodies.append(response.json())
        injected = mock.injected()
        for i in range(5):
            await client.post("/classify", json={"text": f"Ticket {100 + i}, meh"})
        metrics = (await client.get("/metrics")).text
    paid = [b for b in bodies if b["tier"] != "local" or b["degraded"]]
    assert len(paid) >= 5  # these texts are beyond the local model's confidence
    assert all(b["degraded"] and b["source"].startswith("fallback:") for b in paid)
    assert all(not b["degraded"] for b in bodies if b not in paid)  # the local tier needs no provider
    assert injected > 0 and mock.injected() == injected  # both breakers open: no call reached the mock
    assert 'capstone_circuit_state{model="gpt-4"} 2.0' in metrics
    assert 'capstone_circuit_state{model="gpt-3.5-turbo"} 2.0' in metrics


async def test_without_degradation_the_client_gets_lab01s_error(mock: MockControl) -> None:
    """With degradation off, is a failing provider lab 01's error (502, its format), not a 500?"""
    mock.faults({"server_error": 1.0})
    async with service_client(settings_for(mock, degrade_to_local=False)) as client:
        response = await client.post("/classify", json={"text": "What a day, meh"})
    assert response.status_code == 502
    assert set(response.json()["error"]) >= {"code", "message"}
    assert response.json()["error"]["code"] == "upstream_error"


async def test_rate_limits_are_retried_not_passed_on(mock: MockControl) -> None:
    """Under 429s with retry-after, does the boundary retry and still answer every request?"""
    mock.faults({"rate_limit": 0.5}, seed=3)
    async with service_client(settings_for(mock, retry_attempts=2, deadline_seconds=5.0)) as client:
        bodies = [(await client.post("/classify", json={"text": f"Ticket {i}, meh"})).json() for i in range(4)]
    ledger = mock.ledger()
    assert ledger["rejected_requests"] > 0  # the mock did refuse some calls
    assert all(b["sentiment"] in LABELS for b in bodies)
    assert any(not b["degraded"] for b in bodies)


async def test_bad_input_gets_lab01s_error_format(mock: MockControl) -> None:
    """Do bad bodies get 4xx in the one error format, never a 500, and cost nothing?"""
    cases = [
        ({"json": {"text": "   "}}, 422),
        ({"json": {"text": "x" * 1001}}, 422),
        ({"json": {}}, 422),
        ({"json": {"text": 5}}, 422),
        ({"content": b"not json", "headers": {"content-type": "application/json"}}, 422),
        ({"content": b"{" * 70_000, "headers": {"content-type": "application/json"}}, 413),
    ]
    async with service_client(settings_for(mock)) as client:
        for kwargs, status in cases:
            response = await client.post("/classify", **kwargs)
            assert response.status_code == status, (kwargs, response.text)
            assert set(response.json()["error"]) >= {"code", "message"}
        missing = await client.get("/nowhere")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert mock.calls() == 0


async def test_metrics_labels_stay_bounded(mock: MockControl) -> None:
    """Do a hundred odd paths add no route label beyond the fixed set (no cardinality leak)?"""
    async with service_client(settings_for(mock)) as client:
        for i in range(100):
            await client.get(f"/probe/{i}")
        metrics = (await client.get("/metrics")).text
    routes = set(re.findall(r'capstone_http_requests_total\{route="([^"]*)"', metrics))
    assert routes <= {*ROUTES, "other"} and "other" in routes


async def test_health_readiness_and_dashboard(mock: MockControl) -> None:
    """Are /health, /ready, /dashboard and its data served, and does draining turn readiness off?"""
    async with service_client(settings_for(mock)) as client:
        await client.post("/classify", json={"text": "What a day, meh"})
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/ready")).status_code == 200
        page = await client.get("/dashboard")
        assert page.status_code == 200 and "dashboard.json" in page.text
        data = (await client.get("/dashboard.json")).json()
        assert data["tiers"]["strong"]["count"] == 1
        assert set(data["breakers"]) == {"gpt-3.5-turbo", "gpt-4"}
        assert data["metrics"]["latency_ms"]["count"] == 1
        client.app.state.service.draining = True
        not_ready = await client.get("/ready")
    assert not_ready.status_code == 503 and not_ready.json()["error"]["code"] == "not_ready"


async def test_openapi_schema_describes_the_response(mock: MockControl) -> None:
    """Does the OpenAPI schema carry lab 01's fields and the capstone's three?"""
    async with service_client(settings_for(mock)) as client:
        schema = (await client.get("/openapi.json")).json()
    props = schema["components"]["schemas"]["CapstoneResponse"]["properties"]
    assert set(props) == FIELDS


def test_settings_come_from_the_environment() -> None:
    """Are settings read from CAPSTONE_* and REDIS_URL, and does a bad value name its variable?"""
    env = {
        "CAPSTONE_PORT": "9001",
        "CAPSTONE_DEGRADE_TO_LOCAL": "false",
        "REDIS_URL": "redis://h:1/0",
        "CAPSTONE_LOCAL_THRESHOLD": "0.5",
    }
    settings = Settings.from_env(env)
    assert (settings.port, settings.degrade_to_local, settings.redis_url, settings.local_threshold) == (
        9001,
        False,
        "redis://h:1/0",
        0.5,
    )
    with pytest.raises(ValueError, match="CAPSTONE_DEADLINE_SECONDS"):
        Settings.from_env({"CAPSTONE_DEADLINE_SECONDS": "soon"})
    with pytest.raises(ValueError, match="CAPSTONE_LOCAL_THRESHOLD"):
        Settings.from_env({"CAPSTONE_LOCAL_THRESHOLD": "1.5"})


def test_logs_are_one_json_object_a_line() -> None:
    """Is a log record, with its extra fields and an exception, one parseable JSON line?"""
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("capstone.test").makeRecord(
            "capstone.test",
            logging.WARNING,
            __file__,
            1,
            "degraded answer",
            (),
            __import__("sys").exc_info(),
            extra={"source": "fallback:local"},
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line.strip().split("\n")[0]
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["source"] == "fallback:local" and "boom" in entry["exc"]


async def test_naive_service_calls_the_model_every_time(mock: MockControl) -> None:
    """Is the baseline lab 01's service: one model call per request, repeats included?"""
    import httpx2

    from solutions.capstone.naive import create_naive_app

    app = create_naive_app(settings_for(mock))
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://naive") as client:
        for _ in range(3):
            assert (await client.post("/classify", json={"text": "What a day, meh"})).status_code == 200
    assert mock.calls("gpt-3.5-turbo") == 3


@pytest.mark.parametrize("fault", ["truncated", "malformed_json", "corrupted", "empty", "unavailable"])
async def test_every_fault_kind_is_answered(mock: MockControl, fault: str) -> None:
    """Whatever way the provider fails, is every answer a 200 with a label, marked degraded when it is?"""
    mock.faults({fault: 1.0})
    async with service_client(settings_for(mock)) as client:
        bodies = []
        for i in range(3):
            response = await client.post("/classify", json={"text": f"Ticket {i}, meh"})
            assert response.status_code == 200, response.text
            bodies.append(response.json())
        metrics = (await client.get("/metrics")).text
    assert mock.injected() > 0
    assert all(b["sentiment"] in LABELS and b["degraded"] for b in bodies)
    assert 'capstone_errors_total{kind="internal_error"}' not in metrics  # handled by design, not by the catch-all


async def test_cached_answers_in_chunks_and_fallthrough(mock: MockControl) -> None:
    """Is a cached answer served for a body sent in chunks, and does anything else still reach FastAPI?"""
    async with service_client(settings_for(mock)) as client:
        first = (await client.post("/classify", json={"text": "What a day, meh"})).json()
        app = client.app
        body = json.dumps({"text": "what a day,   meh"}).encode()
        parts = [body[:5], body[5:12], body[12:]]
        sent: list[dict] = []

        async def receive() -> dict:
            chunk = parts.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(parts)}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/classify",
            "raw_path": b"/classify",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"host", b"capstone")],
            "server": ("capstone", 80),
            "client": ("127.0.0.1", 1),
        }
        await app(scope, receive, send)
        assert sent[0]["status"] == 200
        cached = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
        assert cached["cached"] is True and cached["sentiment"] == first["sentiment"]
        invalid = await client.post("/classify", json={"text": "what a day, meh", "user_id": 5})
        assert invalid.status_code == 422 and invalid.json()["error"]["field"] == "user_id"
