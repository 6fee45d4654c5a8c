"""Running the mock as a real HTTP server: in the foreground, or in a background thread."""

from __future__ import annotations

import atexit
import errno
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import uvicorn

from .app import create_app
from .protocols import protocol_class
from .settings import DEFAULT_PORT, Settings


class PortInUse(RuntimeError):
    """The port is taken by something else; the message says what and what to do."""


def probe(host: str, port: int, timeout: float = 0.5) -> dict[str, object] | None:
    """The mock's ``/health`` answer at host:port, or None if no mock answers there."""
    try:
        with urllib.request.urlopen(f"http://{_url_host(host)}:{port}/health", timeout=timeout) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return body if isinstance(body, dict) and body.get("service") == "mock_llm" else None


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check_port(host: str, port: int) -> None:
    """Raise PortInUse with advice when host:port cannot be served."""
    if port == 0 or port_is_free(host, port):
        return
    if probe(host, port) is not None:
        raise PortInUse(
            f"a mock_llm server is already running on {host}:{port}; use it, or stop it first "
            f"(or pick another port: MOCK_LLM_PORT={port + 1} make mock)."
        )
    raise PortInUse(
        f"port {port} on {host} is already in use by another program; choose a free port, "
        f"e.g. MOCK_LLM_PORT={port + 1} make lab (or python -m mock_llm --port {port + 1})."
    )


def uvicorn_config(settings: Settings, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,  # a log line per request would cost a third of the throughput
        loop="auto",
        # uvicorn's own protocol (httptools when installed, else h11) with a bounded head and
        # head and body deadlines, which uvicorn lacks (see mock_llm.protocols)
        http=protocol_class(settings),
        # The client address is the connection's. uvicorn would otherwise take it from
        # X-Forwarded-For for peers in FORWARDED_ALLOW_IPS (by default loopback; "*" trusts
        # anyone's header): a client could then claim to be on loopback, the operator.
        proxy_headers=False,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass
class BackgroundServer:
    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}/v1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


_servers: dict[tuple[str, int], BackgroundServer] = {}
_lock = threading.Lock()


def start_background(settings: Settings, ready_timeout: float = 15.0) -> BackgroundServer:
    """Start a server in a daemon thread and wait until it accepts connections."""
    check_port(settings.host, settings.port)
    server = uvicorn.Server(uvicorn_config(settings))
    thread = threading.Thread(target=server.run, name=f"mock_llm:{settings.port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + ready_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"mock_llm did not start on {settings.host}:{settings.port}")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return BackgroundServer(server, thread, settings.host, port)


def ensure_server(port: int | None = None, host: str = "127.0.0.1", **settings: object) -> str:
    """The base URL of a mock server, starting one in the background if none runs.

    Reuses a server already listening on the port (``MOCK_LLM_PORT``, default 8000), for
    instance the one ``make lab`` started; otherwise starts one in a daemon thread of this
    process. Pass ``port=0`` for a fresh server on a free port. Keyword arguments (seed,
    latency, faults, ...) apply only to a server this call starts.
    """
    if port is None:
        port = int(os.environ.get("MOCK_LLM_PORT", DEFAULT_PORT))
    with _lock:
        running = _servers.get((host, port))
        if running is not None and running.thread.is_alive():
            return running.base_url
        if port != 0 and probe(host, port) is not None:
            return f"http://{_url_host(host)}:{port}/v1"
        options: dict[str, Any] = {"host": host, "port": port, **settings}
        background = start_background(Settings.from_env(None, **options))
        _servers[(host, background.port)] = background
        if port == 0:
            _servers[(host, 0)] = background
        return background.base_url


def stop_servers() -> None:
    """Stop every server this process started with ensure_server()."""
    with _lock:
        for background in {id(b): b for b in _servers.values()}.values():
            background.stop()
        _servers.clear()


atexit.register(stop_servers)
