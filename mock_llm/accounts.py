"""One mock, many attendees: a ledger and fault settings per API key.

When a room shares one mock, each attendee's calls and faults belong to the key their
SDK sends (``Authorization: Bearer <key>``). Every billed call is recorded twice: in the
server-wide ledger and in its key's. Fault rates set with a key apply only to requests
carrying that key, drawn from the key's own seeded generator.

Keys are never stored: an account is found by a digest of its key and shown by a label
(short keys as they are, long ones as ``sk-proj-…wxyz``). At most ``max_keys`` accounts
are kept; beyond that the least recently seen is forgotten (its calls stay in the
server-wide ledger), so a client cycling through keys cannot grow the server's memory.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from .catalogue import ModelSpec
from .faults import FaultInjector
from .ledger import Ledger

SHORT_KEY = 16  # keys up to this long are shown whole; longer ones masked


@dataclass(frozen=True, slots=True)
class ApiKey:
    digest: bytes
    label: str

    @classmethod
    def of(cls, token: str | bytes) -> ApiKey:
        raw = token.encode("utf-8") if isinstance(token, str) else token
        text = "".join(c if c.isprintable() else "?" for c in raw.decode("utf-8", "replace"))
        label = text if len(text) <= SHORT_KEY else f"{text[:8]}…{text[-4:]}"
        return cls(hashlib.blake2b(raw, digest_size=16).digest(), label)


def key_from_headers(headers: list[tuple[bytes, bytes]]) -> ApiKey | None:
    """The key of ``Authorization: Bearer <key>``; None without one (or with another scheme)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            token = token.strip()
            if scheme.lower() == b"bearer" and token:
                return ApiKey.of(token)
            return None
    return None


# The key of the request being served, set by KeyScope for everything the request runs.
current_key: ContextVar[ApiKey | None] = ContextVar("mock_llm_api_key", default=None)


class KeyScope:
    """ASGI middleware: makes the request's API key the current one while it is served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = current_key.set(key_from_headers(scope["headers"]))
        try:
            await self.app(scope, receive, send)
        finally:
            current_key.reset(token)


@dataclass
class Account:
    """What one key has spent and the faults it asked for."""

    label: str
    ledger: Ledger = field(default_factory=Ledger)
    faults: FaultInjector | None = None  # None: the server-wide fault settings apply
    injected: dict[str, int] = field(default_factory=dict)  # faults this key's requests received


class Accounts:
    """The accounts of the keys seen, least recently seen first, at most ``max_keys``."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.evicted = 0
        self._accounts: OrderedDict[bytes, Account] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: ApiKey) -> Account | None:
        with self._lock:
            account = self._accounts.get(key.digest)
            if account is not None:
                self._accounts.move_to_end(key.digest)
            return account

    def open(self, key: ApiKey) -> Account:
        """The key's account, opened on first use (forgetting the least recently seen when full)."""
        with self._lock:
            account = self._accounts.get(key.digest)
            if account is not None:
                self._accounts.move_to_end(key.digest)
                return account
            while len(self._accounts) >= self.max_keys:
                self._accounts.popitem(last=False)
                self.evicted += 1
            account = self._accounts[key.digest] = Account(key.label)
            return account

    def all(self) -> list[Account]:
        with self._lock:
            return list(self._accounts.values())

    def reset_ledgers(self) -> None:
        for account in self.all():
            account.ledger.reset()

    def forget_faults(self) -> None:
        for account in self.all():
            account.faults = None

    def clear(self) -> None:
        with self._lock:
            self._accounts.clear()
            self.evicted = 0

    def __len__(self) -> int:
        return len(self._accounts)


def labelled(accounts: list[Account]) -> dict[str, Account]:
    """Accounts by label; two keys with one label (``sk-proj-…wxyz``) get ``#2``, ``#3``."""
    out: dict[str, Account] = {}
    for account in accounts:
        label, n = account.label, 1
        while label in out:
            n += 1
            label = f"{account.label} #{n}"
        out[label] = account
    return out


class SharedLedger(Ledger):
    """The server-wide ledger, which also bills each call to the current request's key."""

    def __init__(self, accounts: Accounts) -> None:
        super().__init__()
        self.accounts = accounts

    def record(self, spec: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float:
        cost = super().record(spec, prompt_tokens, completion_tokens)
        key = current_key.get()
        if key is not None:
            self.accounts.open(key).ledger.record(spec, prompt_tokens, completion_tokens)
        return cost

    def record_rejected(self) -> None:
        super().record_rejected()
        key = current_key.get()
        if key is not None:
            self.accounts.open(key).ledger.record_rejected()

    def reset(self) -> None:
        """Everything: the server-wide ledger and every key's."""
        super().reset()
        self.accounts.reset_ledgers()

    def snapshot(self) -> dict[str, object]:
        """The server-wide view, with a breakdown per key."""
        view = super().snapshot()
        view["keys"] = {label: account.ledger.snapshot() for label, account in labelled(self.accounts.all()).items()}
        view["keys_tracked"] = len(self.accounts)
        view["keys_forgotten"] = self.accounts.evicted
        view["max_keys"] = self.accounts.max_keys
        return view
