"""Server settings: one place, read from flags or the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .faults import parse_rates

DEFAULT_PORT = 8000
HTTP_IMPLEMENTATIONS = ("auto", "httptools", "h11")
MIN_OPERATOR_TOKEN, MAX_OPERATOR_TOKEN = 12, 512  # long enough not to be guessed over HTTP; fits in a header


def parse_latency(value: str | float) -> float:
    """``off``/``0`` switches simulated latency off; a number scales every model's profile."""
    if isinstance(value, str) and value.strip().lower() in {"off", "none", "false", "no"}:
        return 0.0
    scale = float(value)
    if not 0 <= scale <= 100:
        raise ValueError(f"latency scale must be between 0 and 100, got {value}")
    return scale


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    seed: int = 0
    latency: float = 1.0  # scale of every model's latency profile; 0 = off
    faults: dict[str, float] = field(default_factory=dict)
    hang_seconds: float = 30.0  # how long a "timeout" fault hangs (bounded by faults.MAX_HANG)
    rpm: int | None = None  # requests per minute per model; None = no limit
    tpm: int | None = None  # tokens per minute per model; None = no limit
    max_body_bytes: int = 8 * 1024 * 1024
    # What one connection may take before it is cut (see mock_llm.protocols):
    header_timeout: float = 10.0  # seconds from a request's first byte (or the connection) to its last header
    body_timeout: float = 60.0  # seconds from a request's last header to the end of its body
    max_header_bytes: int = 32 * 1024  # request line and headers together; more is a 431
    max_headers: int = 100  # header lines in one request; more is a 431
    http: str = "auto"  # uvicorn's HTTP implementation: auto (httptools when installed), httptools or h11
    # One mock, many attendees: ledgers and faults kept per API key (see mock_llm.accounts).
    max_keys: int = 10_000  # accounts kept at once; beyond it, only an empty idle one makes room (mock_llm.accounts)
    key_idle_seconds: float = 600.0  # an account seen more recently than this is never made room from
    # The operator's server-wide view: with a token, for ``Authorization: Bearer <token>`` from
    # any address; without one, for requests without a key from loopback. Never shown (repr=False).
    operator_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``MOCK_LLM_*`` variables; keyword arguments win over them."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if "MOCK_LLM_HOST" in env:
            values["host"] = env["MOCK_LLM_HOST"]
        if "MOCK_LLM_PORT" in env:
            values["port"] = int(env["MOCK_LLM_PORT"])
        if "MOCK_LLM_SEED" in env:
            values["seed"] = int(env["MOCK_LLM_SEED"])
        if "MOCK_LLM_LATENCY" in env:
            values["latency"] = parse_latency(env["MOCK_LLM_LATENCY"])
        if env.get("MOCK_LLM_FAULTS"):
            values["faults"] = parse_rates(env["MOCK_LLM_FAULTS"])
        if "MOCK_LLM_HANG_SECONDS" in env:
            values["hang_seconds"] = float(env["MOCK_LLM_HANG_SECONDS"])
        if env.get("MOCK_LLM_RPM"):
            values["rpm"] = int(env["MOCK_LLM_RPM"])
        if env.get("MOCK_LLM_TPM"):
            values["tpm"] = int(env["MOCK_LLM_TPM"])
        if env.get("MOCK_LLM_HEADER_TIMEOUT"):
            values["header_timeout"] = float(env["MOCK_LLM_HEADER_TIMEOUT"])
        if env.get("MOCK_LLM_BODY_TIMEOUT"):
            values["body_timeout"] = float(env["MOCK_LLM_BODY_TIMEOUT"])
        if env.get("MOCK_LLM_MAX_KEYS"):
            values["max_keys"] = int(env["MOCK_LLM_MAX_KEYS"])
        if env.get("MOCK_LLM_OPERATOR_TOKEN"):
            values["operator_token"] = env["MOCK_LLM_OPERATOR_TOKEN"]
        if env.get("MOCK_LLM_HTTP"):
            values["http"] = env["MOCK_LLM_HTTP"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        if not 0 < self.header_timeout <= 3600 or not 0 < self.body_timeout <= 3600:
            raise ValueError("header and body timeouts must be between 0 and 3600 seconds")
        if not 1024 <= self.max_header_bytes <= 1024 * 1024:
            raise ValueError("max_header_bytes must be between 1 KiB and 1 MiB")
        if not 1 <= self.max_headers <= 10_000:
            raise ValueError("max_headers must be between 1 and 10000")
        if not 1 <= self.max_keys <= 1_000_000:
            raise ValueError("max_keys must be between 1 and 1000000")
        if not 0 <= self.key_idle_seconds <= 7 * 24 * 3600:
            raise ValueError("key_idle_seconds must be between 0 and 604800 (a week)")
        token = self.operator_token
        if token is not None and not (
            MIN_OPERATOR_TOKEN <= len(token) <= MAX_OPERATOR_TOKEN and token.isascii() and token.isprintable()
            and " " not in token
        ):  # fmt: skip
            # Never the value in the message: it ends up on a terminal, in a log.
            raise ValueError(
                f"operator token must be {MIN_OPERATOR_TOKEN} to {MAX_OPERATOR_TOKEN} printable ASCII characters "
                "without spaces (e.g. python -c 'import secrets; print(secrets.token_urlsafe())')"
            )
        if self.http not in HTTP_IMPLEMENTATIONS:
            raise ValueError(f"http must be one of {', '.join(HTTP_IMPLEMENTATIONS)}, got {self.http!r}")
