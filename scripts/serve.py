"""``make serve``: the capstone service in the foreground, against the mock LLM.

Reuses a mock that already answers on MOCK_LLM_PORT, else starts one in the background
(and stops it when the service exits). Settings come from ``CAPSTONE_*`` and ``REDIS_URL``
(see ``solutions/capstone/settings.py``); ``CAPSTONE_LLM_BASE_URL`` defaults to that mock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from mock_llm.server import PortInUse
from scripts.lab import ROOT, start_mock, stop


def main() -> int:
    host, port = "127.0.0.1", int(os.environ.get("MOCK_LLM_PORT", "8000"))
    try:
        mock = start_mock(host, port)
    except (PortInUse, RuntimeError) as exc:
        print(f"make serve: {exc}", file=sys.stderr)
        return 1
    env = {**os.environ}
    env.setdefault("CAPSTONE_LLM_BASE_URL", f"http://{host}:{port}/v1")
    service = subprocess.Popen([sys.executable, "-m", "solutions.capstone", *sys.argv[1:]], cwd=ROOT, env=env)
    # `kill`, a process manager or a container stop sends SIGTERM to this process alone: pass it on,
    # so the service drains its requests in flight, then the mock is stopped below (never orphaned).
    signal.signal(signal.SIGTERM, lambda signum, frame: service.send_signal(signum))
    try:
        code = service.wait()
    except KeyboardInterrupt:  # the service got the same Ctrl-C: let it finish its requests in flight
        code = service.wait()
    finally:
        if mock is not None:
            stop(mock)
    # uvicorn re-raises the signal it drained on, so a clean stop reads as "killed by SIGTERM/SIGINT"
    return 0 if code in (-signal.SIGTERM, -signal.SIGINT) else code


if __name__ == "__main__":
    sys.exit(main())
