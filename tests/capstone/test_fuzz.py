"""Bad input against the service's own OpenAPI schema: whatever a client sends, never a 500.

schemathesis draws requests from the schema the service publishes (valid bodies and, in its
negative phase, bodies that break it) and we add arbitrary JSON and bytes. The service runs
as a real uvicorn server in a thread, its model calls going to the real mock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solutions.capstone.app import create_app

from .conftest import MockControl, settings_for

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (pip install 'schemathesis>=4'): the schema fuzz needs it"
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def service_url(server: Any) -> Iterator[str]:
    control = MockControl(server)
    app = create_app(settings_for(control))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.02)
    port = uv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def api_schema(service_url: str) -> Any:
    return schemathesis.openapi.from_url(service_url + "/openapi.json")


def check(response: httpx2.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
        assert "Traceback" not in response.text


@pytest.mark.server
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_requests_from_the_published_schema(api_schema: Any, mode: str) -> None:
    """Does every request schemathesis draws from the published schema (and, negative, against it) avoid a 500?"""
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    operation = api_schema["/classify"]["POST"]
    strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(case: Any) -> None:
        response = case.call(timeout=30)
        assert response.status_code < 500, response.text
        if response.status_code != 200:
            error = response.json()["error"]
            assert isinstance(error["code"], str) and isinstance(error["message"], str)
        if mode == "positive":
            # Every check but "schema-valid data is accepted": lab 01 strips the text before
            # checking its length, which JSON Schema cannot say, so "   " is schema-valid and a 422.
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

    run()


@pytest.mark.server
def test_arbitrary_json_and_bytes(service_url: str) -> None:
    """Do arbitrary JSON values, odd bytes and odd content types get a 4xx, never a 500?"""
    with httpx2.Client(base_url=service_url, timeout=30) as client:

        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)),
            st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]),
        )
        def run(body: bytes, content_type: str) -> None:
            check(client.post("/classify", content=body, headers={"content-type": content_type}))

        run()
