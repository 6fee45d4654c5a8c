"""`python -m mock_llm` in a subprocess, as `make mock` runs it, with its log read line by line.

Tests that need the real server's HTTP layer (uvicorn's protocol, its log) use this rather
than the in-thread server: the log is the process's stderr, exactly as an operator sees it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from mock_llm.server import probe

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0  # generous: the machine may be busy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MockProcess:
    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mock_llm", "--port", str(self.port), *args],
            env={**os.environ, **(env or {})},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while probe("127.0.0.1", self.port) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the mock did not start:\n{self.log()}")
            time.sleep(0.1)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def lines_about(self, client_port: int) -> list[str]:
        """Log lines naming the client at 127.0.0.1:client_port."""
        with self._lock:
            return [line for line in self._lines if f"127.0.0.1:{client_port} " in line]

    def settled_lines_about(self, client_port: int, expected: int, settle: float = 1.0) -> list[str]:
        """The client's lines once ``expected`` have appeared (or 30 s passed) and ``settle`` more seconds."""
        deadline = time.monotonic() + 30
        while len(self.lines_about(client_port)) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(settle)
        return self.lines_about(client_port)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return self.log()
