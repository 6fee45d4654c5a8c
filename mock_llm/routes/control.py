"""``/health`` and the loopback-only control endpoints under ``/_mock``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from ..errors import OpenAIError
from ..faults import FAULT_KINDS, parse_rates
from ..state import MockState

LOOPBACK = {"127.0.0.1", "::1", "localhost"}

health_router = APIRouter(tags=["health"])


@health_router.get("/health")
async def health(request: Request) -> dict[str, object]:
    """Liveness: answers while the server runs."""
    state: MockState = request.app.state.mock
    return {
        "status": "ok",
        "service": "mock_llm",
        "version": __version__,
        "seed": state.seed,
        "latency": state.settings.latency,
    }


def loopback_only(request: Request) -> MockState:
    host = request.client.host if request.client else ""
    if host not in LOOPBACK and not host.startswith("127."):
        raise OpenAIError(
            403, "Control endpoints answer only on loopback.", type="permission_error", code="loopback_only"
        )
    state: MockState = request.app.state.mock
    return state


StateDep = Annotated[MockState, Depends(loopback_only)]
router = APIRouter(prefix="/_mock", tags=["control"])


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rates: dict[str, Annotated[float, Field(ge=0, le=1)]] | None = None
    seed: int | None = None


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latency: Annotated[float, Field(ge=0, le=100)] | None = None
    seed: int | None = None


@router.get("/ledger")
async def read_ledger(state: StateDep) -> dict[str, object]:
    """Calls, tokens and dollars per model since the last reset."""
    return state.ledger.snapshot()


@router.delete("/ledger")
async def reset_ledger(state: StateDep) -> dict[str, object]:
    """Empties the ledger and returns what it held."""
    before = state.ledger.snapshot()
    state.ledger.reset()
    return before


@router.get("/faults")
async def read_faults(state: StateDep) -> dict[str, object]:
    """Server-wide fault rates, the seed, and how many faults were injected."""
    return state.faults.snapshot()


@router.put("/faults")
async def set_faults(config: FaultConfig, state: StateDep) -> dict[str, object]:
    """Sets fault rates (``{"rates": {"rate_limit": 0.1}}``) and restarts the seeded sequence."""
    rates = None
    if config.rates is not None:
        unknown = sorted(set(config.rates) - set(FAULT_KINDS))
        if unknown:
            raise OpenAIError(
                400,
                f"Unknown fault kind(s) {unknown}; expected {', '.join(FAULT_KINDS)}.",
                param="rates",
                code="invalid_value",
            )
        try:
            rates = parse_rates(config.rates)
        except ValueError as exc:
            raise OpenAIError(400, str(exc), param="rates", code="invalid_value") from None
    state.faults.configure(rates, config.seed)
    return state.faults.snapshot()


@router.get("/config")
async def read_config(state: StateDep) -> dict[str, object]:
    """Seed and latency scale."""
    return {"seed": state.settings.seed, "latency": state.settings.latency}


@router.put("/config")
async def set_config(config: Config, state: StateDep) -> dict[str, object]:
    """Changes the latency scale (0 = off) or the answer seed at run time."""
    if config.latency is not None:
        state.settings.latency = config.latency
    if config.seed is not None:
        state.settings.seed = config.seed
    return {"seed": state.settings.seed, "latency": state.settings.latency}
