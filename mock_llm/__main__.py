"""``python -m mock_llm``: serve the mock in the foreground."""

from __future__ import annotations

import argparse
import gc
import sys

import uvicorn

from .faults import FAULT_DESCRIPTIONS, parse_rates
from .server import PortInUse, check_port, uvicorn_config
from .settings import Settings, parse_latency


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mock_llm",
        description="An OpenAI-compatible mock LLM server. Environment variables MOCK_LLM_HOST, "
        "MOCK_LLM_PORT, MOCK_LLM_SEED, MOCK_LLM_LATENCY, MOCK_LLM_FAULTS, MOCK_LLM_RPM, MOCK_LLM_TPM, "
        "MOCK_LLM_HEADER_TIMEOUT, MOCK_LLM_BODY_TIMEOUT, MOCK_LLM_MAX_KEYS, MOCK_LLM_OPERATOR_TOKEN and MOCK_LLM_HTTP "
        "set the defaults; "
        "flags win.",
        epilog="fault kinds: " + "; ".join(f"{k}: {v}" for k, v in FAULT_DESCRIPTIONS.items()),
    )
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8000)")
    parser.add_argument("--seed", type=int, help="seed for answers, latency and faults (default 0)")
    parser.add_argument(
        "--latency", type=parse_latency, help="scale of simulated latency: 1 = realistic, 0 or 'off' = none"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help="server-wide fault rate, repeatable: --fault rate_limit=0.1",
    )
    parser.add_argument("--hang-seconds", type=float, help="how long a timeout fault hangs (default 30)")
    parser.add_argument("--rpm", type=int, help="requests per minute per model before real 429s")
    parser.add_argument("--tpm", type=int, help="tokens per minute per model before real 429s")
    parser.add_argument(
        "--header-timeout", type=float, help="seconds a client has to send a request's headers (default 10)"
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        help="seconds a client has to send a request's body after its headers (default 60)",
    )
    parser.add_argument(
        "--max-keys",
        type=int,
        help="API keys whose ledgers and faults are kept apart at once (default 10000); beyond it, new keys are "
        "served but counted server-wide only",
    )
    parser.add_argument(
        "--operator-token",
        metavar="TOKEN",
        help="the server-wide view and settings need Authorization: Bearer TOKEN, from any address, instead of "
        "a request without a key from loopback: set it whenever a proxy on this host forwards other people's "
        "requests. Prefer MOCK_LLM_OPERATOR_TOKEN: a flag shows in the process list",
    )
    parser.add_argument("--http", choices=["auto", "httptools", "h11"], help="uvicorn's HTTP implementation (auto)")
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(
            host=args.host,
            port=args.port,
            seed=args.seed,
            latency=args.latency,
            faults=parse_rates(args.fault) if args.fault else None,
            hang_seconds=args.hang_seconds,
            rpm=args.rpm,
            tpm=args.tpm,
            header_timeout=args.header_timeout,
            body_timeout=args.body_timeout,
            max_keys=args.max_keys,
            operator_token=args.operator_token,
            http=args.http,
        )
        check_port(settings.host, settings.port)
    except (ValueError, PortInUse) as exc:
        print(f"mock_llm: {exc}", file=sys.stderr)
        return 2
    faults = ", ".join(f"{k}={v:g}" for k, v in settings.faults.items()) or "none"
    # Never the token itself: this line is on a shared screen, in a log.
    operator = "operator token set" if settings.operator_token else "operator: no key, on loopback"
    print(
        f"mock_llm listening on http://{settings.host}:{settings.port}/v1  "
        f"(seed {settings.seed}, latency x{settings.latency:g}, faults: {faults}; {operator}); Ctrl-C stops it.",
        flush=True,
    )
    server = uvicorn.Server(uvicorn_config(settings, args.log_level))
    # Everything imported so far lives as long as the process: keep it out of the garbage
    # collector's scans, which otherwise grow with the import graph (openai, numpy).
    gc.collect()
    gc.freeze()
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
