"""``/health`` and the control endpoints under ``/_mock``.

Who sees what (docs/mock_llm.md, "Sharing one mock"):

- a request with an API key (``Authorization: Bearer <key>``), from any address, reads
  and resets that key's ledger and sets that key's faults; never anyone else's, and never
  the server-wide settings;
- the operator has the server-wide view (every key, and a breakdown per key) and
  settings. With an operator token set (``--operator-token``), the operator is whoever
  sends ``Authorization: Bearer <operator token>``, from any address, and a request
  without a key is refused. Without one, the operator is a request without a key from
  loopback: enough on one laptop, not behind a proxy on the same host, whose every
  client comes from loopback.

The address is the connection's: uvicorn's X-Forwarded-For handling is off
(mock_llm.server), so no client can claim to be on loopback.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from .. import __version__
from ..accounts import ApiKey, bearer_token, is_operator_token, labelled
from ..errors import OpenAIError
from ..faults import FAULT_KINDS, parse_rates
from ..ledger import Ledger
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


SEED = Field(ge=-(2**63), le=2**63 - 1)  # any 64-bit seed; a 4,000-digit one would slow every answer


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    if host in LOOPBACK:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None  # ::ffff:127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _operator_token(request: Request) -> bytes | None:
    state: MockState = request.app.state.mock
    token = state.settings.operator_token
    return token.encode() if token is not None else None


def _who_is_operator(request: Request) -> str:
    if _operator_token(request) is not None:
        return "the operator sends Authorization: Bearer <operator token> (set with --operator-token)"
    return "the operator asks without Authorization, on loopback"


async def caller(request: Request) -> ApiKey | None:
    """The key whose view a control request asks for; None for the operator's server-wide view."""
    scope = request.query_params.get("scope")
    if scope not in (None, "key", "all"):
        raise OpenAIError(400, "scope must be 'key' or 'all'.", param="scope", code="invalid_value")
    operator_token = _operator_token(request)
    token = bearer_token(request.scope["headers"])
    if token is not None and is_operator_token(token, operator_token):
        if scope == "key":
            raise OpenAIError(
                400,
                "The operator token is no attendee's key and has no ledger of its own: "
                "leave out scope=key for the server-wide view.",
                param="scope",
                code="operator_has_no_key",
            )
        return None
    if token is not None:
        if scope == "all":
            raise OpenAIError(
                403,
                f"The server-wide view is the operator's, not an API key's: {_who_is_operator(request)}.",
                type="permission_error",
                code="scope_all_without_key",
            )
        return ApiKey.of(token)
    if scope == "key":
        raise OpenAIError(
            401, "scope=key needs your API key: send Authorization: Bearer <key>.", code="missing_api_key"
        )
    if operator_token is not None:
        raise OpenAIError(
            401,
            "This mock has an operator token: the server-wide view and settings need "
            "Authorization: Bearer <operator token>. Send Authorization: Bearer <your key> "
            "to read or change your own ledger and faults.",
            code="operator_token_required",
        )
    if not _is_loopback(request):
        raise OpenAIError(
            403,
            "Without an API key, control endpoints answer only on loopback (the operator's server-wide view). "
            "Send Authorization: Bearer <your key> to read or change your own ledger and faults.",
            type="permission_error",
            code="loopback_only",
        )
    return None


def _state(request: Request) -> MockState:
    state: MockState = request.app.state.mock
    return state


StateDep = Annotated[MockState, Depends(_state)]
CallerDep = Annotated[ApiKey | None, Depends(caller)]
router = APIRouter(prefix="/_mock", tags=["control"])


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rates: dict[str, Annotated[float, Field(ge=0, le=1)]] | None = None
    seed: Annotated[int, SEED] | None = None


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latency: Annotated[float, Field(ge=0, le=100)] | None = None
    seed: Annotated[int, SEED] | None = None


def _untracked(state: MockState) -> dict[str, object]:
    """What a key without an account is told, when that is because there is no room for one."""
    if not state.accounts.full():
        return {}
    return {
        "note": f"This key has no ledger of its own: the mock already keeps {state.accounts.max_keys} API keys' "
        "ledgers, all in use. Its calls are served and counted server-wide only; ask the operator to raise "
        "--max-keys."
    }


def ledger_view(state: MockState, key: ApiKey | None) -> dict[str, object]:
    if key is None:
        return {"scope": "all", **state.ledger.snapshot()}
    account = state.accounts.get(key)
    if account is None:
        return {"scope": "key", "key": key.label, "tracked": False, **Ledger().snapshot(), **_untracked(state)}
    return {"scope": "key", "key": key.label, "tracked": True, **account.ledger.snapshot()}


def faults_view(state: MockState, key: ApiKey | None) -> dict[str, object]:
    if key is None:
        keys: dict[str, object] = {}
        for label, account in labelled(state.accounts.all()).items():
            if account.faults is None and not account.injected:
                continue
            settings = account.faults.snapshot() if account.faults is not None else {}
            keys[label] = {
                "settings": "own" if account.faults is not None else "server",
                "rates": settings.get("rates", {}),
                "seed": settings.get("seed"),
                "injected": dict(account.injected),
            }
        return {"scope": "all", **state.faults.snapshot(), "keys": keys}
    mine = state.accounts.get(key)
    own = mine.faults if mine is not None else None
    view = (own or state.faults).snapshot()
    view["injected"] = dict(mine.injected) if mine is not None else {}
    untracked = _untracked(state) if mine is None else {}
    which = "own" if own is not None else "server"
    return {"scope": "key", "key": key.label, "tracked": mine is not None, "settings": which, **view, **untracked}


@router.get("/ledger")
async def read_ledger(state: StateDep, key: CallerDep) -> dict[str, object]:
    """Calls, tokens and dollars per model since the last reset: the key's, or server-wide with a per-key breakdown."""
    return ledger_view(state, key)


@router.delete("/ledger")
async def reset_ledger(state: StateDep, key: CallerDep) -> dict[str, object]:
    """Empties the key's ledger (or, for the operator, every ledger) and returns what it held."""
    before = ledger_view(state, key)
    if key is None:
        state.ledger.reset()
    else:
        state.accounts.reset_ledger(key)
    return before


@router.get("/faults")
async def read_faults(state: StateDep, key: CallerDep) -> dict[str, object]:
    """Fault rates, the seed, and how many faults were injected: the key's, or server-wide."""
    return faults_view(state, key)


@router.put("/faults")
async def set_faults(config: FaultConfig, state: StateDep, key: CallerDep) -> dict[str, object]:
    """Sets fault rates (``{"rates": {"rate_limit": 0.1}}``) and restarts the seeded sequence.

    With a key, the key's own (starting from the server-wide ones); without, the server's.
    """
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
    injector = state.faults if key is None else state.key_faults(key)
    injector.configure(rates, config.seed)
    return faults_view(state, key)


@router.delete("/faults")
async def clear_faults(state: StateDep, key: CallerDep) -> dict[str, object]:
    """A key's own settings are dropped (the server-wide ones apply again); the operator clears every fault setting."""
    if key is None:
        state.faults.configure(rates={}, script=[])
        state.accounts.forget_faults()
    else:
        state.accounts.drop_faults(key)
    return faults_view(state, key)


@router.get("/config")
async def read_config(state: StateDep, _: CallerDep) -> dict[str, object]:
    """Seed and latency scale."""
    return {"seed": state.settings.seed, "latency": state.settings.latency}


@router.put("/config")
async def set_config(config: Config, request: Request, state: StateDep, key: CallerDep) -> dict[str, object]:
    """Changes the latency scale (0 = off) or the answer seed at run time, for everyone: the operator's alone."""
    if key is not None:
        raise OpenAIError(
            403,
            f"Latency and seed are server-wide: {_who_is_operator(request)}.",
            type="permission_error",
            code="operator_only",
        )
    if config.latency is not None:
        state.settings.latency = config.latency
    if config.seed is not None:
        state.settings.seed = config.seed
    return {"seed": state.settings.seed, "latency": state.settings.latency}
