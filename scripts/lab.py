"""``make lab``: the mock LLM in the background, JupyterLab in the foreground.

Reuses a mock that already answers on the port; refuses, with advice, a port held by
something else; stops the mock it started when JupyterLab exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from mock_llm.server import PortInUse, check_port, probe

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    host = os.environ.get("MOCK_LLM_HOST", "127.0.0.1")
    port = int(os.environ.get("MOCK_LLM_PORT", "8000"))
    mock: subprocess.Popen[bytes] | None = None
    if probe(host, port) is not None:
        print(f"Using the mock LLM already running on http://{host}:{port}/v1")
    else:
        try:
            check_port(host, port)
        except PortInUse as exc:
            print(f"make lab: {exc}", file=sys.stderr)
            return 2
        mock = subprocess.Popen([sys.executable, "-m", "mock_llm", "--host", host, "--port", str(port)])
        deadline = time.monotonic() + 20
        while probe(host, port) is None:
            if mock.poll() is not None or time.monotonic() > deadline:
                print("make lab: the mock LLM did not start; see the messages above.", file=sys.stderr)
                mock.terminate()
                return 2
            time.sleep(0.1)
    env = {**os.environ, "MOCK_LLM_PORT": str(port), "MOCK_LLM_HOST": host}
    command = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={ROOT / 'labs'}"]
    if os.geteuid() == 0:  # containers and cloud VMs often run as root; JupyterLab refuses without this
        command.append("--allow-root")
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        if mock is not None:
            mock.terminate()
            try:
                mock.wait(timeout=5)
            except subprocess.TimeoutExpired:
                mock.kill()


if __name__ == "__main__":
    sys.exit(main())
