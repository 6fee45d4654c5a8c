"""One mock, many attendees: a ledger and fault settings per API key.

When a room shares one mock, each attendee's calls and faults belong to the key their
SDK sends (``Authorization: Bearer <key>``). Every billed call is recorded twice: in the
server-wide ledger and in its key's. Fault rates set with a key apply only to requests
carrying that key, drawn from the key's own seeded generator.

Keys are never stored: an account is found by a digest of its key and shown by a label
(short keys as they are, long ones as ``sk-proj-…wxyz``).

At most ``max_keys`` accounts are kept, so a client cycling through keys cannot grow the
server's memory; and that client must not wipe anyone else's account either. So only an
account that holds nothing (no calls, no faults received, no fault settings of its own:
one whose ledger was reset) and was not seen for ``idle_seconds`` is ever forgotten to
make room, least recently seen first. When none is, a new key gets no account: its
calls are served and counted server-wide (``untracked_calls``), and its own view says so.

The operator token (``Settings.operator_token``) is not an attendee's key: a request that
carries it has no account, and its calls count server-wide only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from .catalogue import ModelSpec
from .faults import FaultInjector
from .ledger import Ledger

SHORT_KEY = 16  # keys up to this long are shown whole; longer ones masked
FULL_WARNING_EVERY = 60.0  # seconds between log lines saying new keys go untracked

log = logging.getLogger("uvicorn.error")


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


def bearer_token(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The token of the first ``Authorization: Bearer <token>``; None without one (or with another scheme)."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            token = token.strip()
            return token if scheme.lower() == b"bearer" and token else None
    return None


def is_operator_token(token: bytes, operator_token: bytes | None) -> bool:
    """True when ``token`` is the operator's (compared in constant time); never without one set."""
    return operator_token is not None and hmac.compare_digest(token, operator_token)


def key_from_headers(headers: list[tuple[bytes, bytes]], operator_token: bytes | None = None) -> ApiKey | None:
    """The attendee key of ``Authorization: Bearer <key>``; None without one, or for the operator token."""
    token = bearer_token(headers)
    if token is None or is_operator_token(token, operator_token):
        return None
    return ApiKey.of(token)


# The key of the request being served, set by KeyScope for everything the request runs.
current_key: ContextVar[ApiKey | None] = ContextVar("mock_llm_api_key", default=None)


class KeyScope:
    """ASGI middleware: makes the request's API key the current one while it is served.

    A request carrying the operator token has none: the operator is no attendee.
    """

    def __init__(self, app: ASGIApp, operator_token: str | None = None) -> None:
        self.app = app
        self.operator_token = operator_token.encode() if operator_token is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = current_key.set(key_from_headers(scope["headers"], self.operator_token))
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
    seen: float = 0.0  # clock time of the key's last request

    def holds_nothing(self) -> bool:
        """Nothing to lose: no calls or refusals in the ledger, no faults received, no settings of its own."""
        ledger = self.ledger
        return self.faults is None and not self.injected and not ledger.models and not ledger.rejected


class Accounts:
    """The accounts of the keys seen, at most ``max_keys``; see the module's docstring for who makes room."""

    def __init__(self, max_keys: int, idle_seconds: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self.idle_seconds = idle_seconds
        self.clock = clock
        self.evicted = 0  # accounts forgotten to make room (each held nothing)
        self.untracked_calls = 0  # billed calls under keys that got no account
        self.untracked_rejected = 0  # refused calls under keys that got no account
        self._accounts: OrderedDict[bytes, Account] = OrderedDict()  # least recently seen first
        # Accounts that may hold nothing (their ledger was reset or their settings dropped),
        # least recently seen first; checked when room is needed, so a full table costs O(1)
        # a new key (amortised) rather than a scan of every account.
        self._maybe_empty: OrderedDict[bytes, None] = OrderedDict()
        self._warned_full_at: float | None = None
        self._lock = threading.Lock()

    # --- finding and opening -----------------------------------------------------------

    def _touch(self, digest: bytes, account: Account) -> None:
        account.seen = self.clock()
        self._accounts.move_to_end(digest)
        if digest in self._maybe_empty:
            self._maybe_empty.move_to_end(digest)

    def get(self, key: ApiKey) -> Account | None:
        """The key's account, if it has one (a request under the key: it counts as seen)."""
        with self._lock:
            account = self._accounts.get(key.digest)
            if account is not None:
                self._touch(key.digest, account)
            return account

    def _open(self, key: ApiKey) -> Account | None:
        """The key's account, opened on first use when there is room; None when there is none. Under the lock."""
        account = self._accounts.get(key.digest)
        if account is not None:
            self._touch(key.digest, account)
            return account
        if len(self._accounts) >= self.max_keys and not self._make_room():
            self._warn_full()
            return None
        account = self._accounts[key.digest] = Account(key.label, seen=self.clock())
        return account

    def _first_spare(self) -> bytes | None:
        """The account that may make room: the least recently seen holding nothing, if idle. Under the lock.

        Candidates that hold something again (or are gone) are dropped on the way, so each
        is looked at once per reset: amortised O(1).
        """
        idle_before = self.clock() - self.idle_seconds
        while self._maybe_empty:
            digest = next(iter(self._maybe_empty))
            account = self._accounts.get(digest)
            if account is None or not account.holds_nothing():
                del self._maybe_empty[digest]
                continue
            # Candidates are in the order seen: if this one was seen recently, so were the rest.
            return digest if account.seen <= idle_before else None
        return None

    def _make_room(self) -> bool:
        """Forget the account :meth:`_first_spare` names; False if there is none. Under the lock."""
        digest = self._first_spare()
        if digest is None:
            return False
        del self._maybe_empty[digest]
        del self._accounts[digest]
        self.evicted += 1
        return True

    def _warn_full(self) -> None:
        now = self.clock()
        if self._warned_full_at is None or now - self._warned_full_at >= FULL_WARNING_EVERY:
            self._warned_full_at = now
            log.warning(
                "mock_llm: %d API keys tracked (--max-keys), none both empty and idle: calls under new keys are "
                "served and counted server-wide only (untracked_calls in /_mock/ledger)",
                self.max_keys,
            )

    def full(self) -> bool:
        """True when a new key would get no account right now."""
        with self._lock:
            return len(self._accounts) >= self.max_keys and self._first_spare() is None

    # --- what a request under a key adds ---------------------------------------------------

    def record(self, key: ApiKey, spec: ModelSpec, prompt_tokens: int, completion_tokens: int) -> bool:
        """Bill a call to the key's account; False (counted as untracked) when it has none."""
        with self._lock:
            account = self._open(key)
            if account is None:
                self.untracked_calls += 1
                return False
            account.ledger.record(spec, prompt_tokens, completion_tokens)
            return True

    def record_rejected(self, key: ApiKey) -> bool:
        with self._lock:
            account = self._open(key)
            if account is None:
                self.untracked_rejected += 1
                return False
            account.ledger.record_rejected()
            return True

    def note_fault(self, key: ApiKey, kind: str) -> None:
        """Count a fault the key's request received (nowhere but server-wide when the key has no account)."""
        with self._lock:
            account = self._open(key)
            if account is not None:
                account.injected[kind] = account.injected.get(kind, 0) + 1

    def own_faults(self, key: ApiKey, make: Callable[[], FaultInjector]) -> FaultInjector | None:
        """The key's own fault settings, made by ``make`` the first time; None when the key gets no account."""
        with self._lock:
            account = self._open(key)
            if account is None:
                return None
            if account.faults is None:
                account.faults = make()
            return account.faults

    # --- what a key (or the operator) takes away ------------------------------------------

    def reset_ledger(self, key: ApiKey) -> None:
        """Empty the key's ledger (its account may then make room for another, once idle)."""
        with self._lock:
            account = self._accounts.get(key.digest)
            if account is None:
                return
            self._touch(key.digest, account)
            account.ledger.reset()
            self._maybe_empty[key.digest] = None
            self._maybe_empty.move_to_end(key.digest)

    def drop_faults(self, key: ApiKey) -> None:
        """The key follows the server-wide fault settings again."""
        with self._lock:
            account = self._accounts.get(key.digest)
            if account is None:
                return
            self._touch(key.digest, account)
            account.faults = None
            self._maybe_empty[key.digest] = None
            self._maybe_empty.move_to_end(key.digest)

    def _all_maybe_empty(self) -> None:
        """Every account is a candidate again, in the order they were seen. Under the lock."""
        self._maybe_empty = OrderedDict.fromkeys(self._accounts)

    def reset_ledgers(self) -> None:
        with self._lock:
            for account in self._accounts.values():
                account.ledger.reset()
            self.untracked_calls = self.untracked_rejected = 0
            self._all_maybe_empty()

    def forget_faults(self) -> None:
        with self._lock:
            for account in self._accounts.values():
                account.faults = None
            self._all_maybe_empty()

    # --- reading -------------------------------------------------------------------------

    def all(self) -> list[Account]:
        with self._lock:
            return list(self._accounts.values())

    def clear(self) -> None:
        with self._lock:
            self._accounts.clear()
            self._maybe_empty.clear()
            self.evicted = self.untracked_calls = self.untracked_rejected = 0
            self._warned_full_at = None

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
            self.accounts.record(key, spec, prompt_tokens, completion_tokens)
        return cost

    def record_rejected(self) -> None:
        super().record_rejected()
        key = current_key.get()
        if key is not None:
            self.accounts.record_rejected(key)

    def reset(self) -> None:
        """Everything: the server-wide ledger and every key's."""
        super().reset()
        self.accounts.reset_ledgers()

    def snapshot(self) -> dict[str, object]:
        """The server-wide view, with a breakdown per key."""
        view = super().snapshot()
        view["keys"] = {label: account.ledger.snapshot() for label, account in labelled(self.accounts.all()).items()}
        view["keys_tracked"] = len(self.accounts)
        view["keys_forgotten"] = self.accounts.evicted  # empty, idle accounts that made room for new keys
        view["max_keys"] = self.accounts.max_keys
        view["keys_full"] = self.accounts.full()  # a new key would get no account now
        view["untracked_calls"] = self.accounts.untracked_calls  # in the totals above, under no key's account
        view["untracked_rejected_requests"] = self.accounts.untracked_rejected
        return view
