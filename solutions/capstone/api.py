"""The routes: /classify, and the operations routes (health, readiness, metrics, dashboard)."""

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from .schemas import ERRORS, models
from .service import Service

DASHBOARD = Path(__file__).with_name("dashboard.html")


async def get_service(request: Request) -> Service:  # async: a sync dependency costs a thread hop
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def classify_router() -> APIRouter:
    SentimentRequest, CapstoneResponse = models()
    router = APIRouter(tags=["classify"])

    @router.post("/classify", response_model=CapstoneResponse, responses=ERRORS)
    async def classify(body: SentimentRequest, service: ServiceDep) -> Any:  # type: ignore[valid-type]
        """Classify the sentiment of a text: Positive, Negative or Neutral."""
        # The service validated the answer against CapstoneResponse when it was made; a cached
        # answer is sent as it is, without FastAPI validating and serialising it again.
        answer = await service.classify(body.text)  # type: ignore[attr-defined]
        return Response(json.dumps(answer, separators=(",", ":")).encode(), media_type="application/json")

    return router


def ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @router.get("/ready", responses={503: {"description": "Not ready: starting, or draining after SIGTERM"}})
    async def ready(service: ServiceDep) -> JSONResponse:
        """Readiness: loaded and not shutting down; says whether the shared cache is reachable."""
        cache = "ok" if await service.exact.ping() else "unreachable"
        if service.is_ready():
            return JSONResponse({"status": "ready", "cache": cache})
        why = "draining" if service.draining else "starting"
        return JSONResponse({"error": {"code": "not_ready", "message": f"Not ready: {why}."}}, status_code=503)

    @router.get("/metrics", response_class=Response)
    async def metrics(service: ServiceDep) -> Response:
        """Prometheus metrics, in the text exposition format."""
        body = service.metrics.exposition(service.upstream.breaker_states())
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    @router.get("/dashboard.json")
    async def dashboard_data(service: ServiceDep) -> dict[str, Any]:
        """What the live dashboard shows: lab 05's export, tier shares, breakers."""
        return service.dashboard()

    @router.get("/dashboard", response_class=HTMLResponse)
    async def dashboard() -> HTMLResponse:
        """The live dashboard page."""
        return HTMLResponse(DASHBOARD.read_text(encoding="utf-8"))

    return router
