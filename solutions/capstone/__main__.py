"""Serve the capstone: ``python -m solutions.capstone [--host H] [--port P] [--naive]``.

Settings come from ``CAPSTONE_*`` variables and ``REDIS_URL`` (see settings.py); the flags
win. On SIGTERM or Ctrl-C the service stops accepting, reports not-ready, and finishes the
requests in flight (up to CAPSTONE_GRACEFUL_SHUTDOWN_SECONDS) before it exits.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from types import FrameType
from typing import Any

import uvicorn

from . import logs
from .settings import Settings

log = logging.getLogger("capstone")


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which first marks the service not ready when asked to stop."""

    service: Any = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.service is not None and not self.service.draining:
            self.service.draining = True
            log.info("draining", extra={"signal": sig, "in_flight": self.service.in_flight})
        super().handle_exit(sig, frame)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions.capstone", description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="interface (default CAPSTONE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default CAPSTONE_PORT or 8080)")
    parser.add_argument("--naive", action="store_true", help="serve lab 01's plain service instead (the baseline)")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        print(f"capstone: bad setting: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    if args.naive:
        from .naive import create_naive_app

        app = create_naive_app(settings)
    else:
        from .app import create_app

        app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_shutdown_seconds),
        backlog=4096,
    )
    server = DrainingServer(config)
    server.service = getattr(app.state, "service", None)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn raises Ctrl-C again once it has drained: a clean stop
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
