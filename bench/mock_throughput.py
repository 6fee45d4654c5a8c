"""Throughput of the mock LLM against a bare FastAPI ceiling, measured in one run.

    python bench/mock_throughput.py [--duration 8] [--rounds 3] [--connections 64]

Each server runs as `make mock` runs it (one uvicorn process, latency simulation off),
pinned to CPU 0; wrk drives it from CPU 1 over loopback. Rounds alternate between the
servers so drift on a shared machine hits all of them alike; the report gives medians
and each scenario's ratio to the ceiling measured in the same run. Needs wrk
(`apt-get install wrk`).

"counting and answering memoised" is the mock with a new prompt's token count and answer
shared by prompts that differ only in their digits (bench/mock_memoised.py): the varied
scenario with those two steps as cheap as for a repeated prompt, everything else as is.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What are your support hours?"
CHAT: dict[str, object] = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": QUESTION}]}
STREAM: dict[str, object] = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
"""

# Every request a different prompt: the kit's questions and the handout's sentiment prompt
# over the kit's texts, each with a request number inside, so no answer can be reused.
# Each wrk run starts its numbers where no earlier run (warm-up included) went: wrk
# restarts its Lua state per run, and numbers from 0 again would replay prompts the
# mock's caches already hold.
VARIED_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local parts = {%s}
local n = %d
request = function()
  n = n + 1
  local i = (n %% #parts) + 1
  return wrk.format(nil, nil, nil, parts[i][1] .. n .. parts[i][2])
end
"""


def varied_bodies(limit: int = 400) -> list[tuple[str, str]]:
    """(before, after) JSON halves of chat bodies; the request number goes between them."""

    def load(name: str, field: str) -> list[str]:
        with open(ROOT / "data" / name, encoding="utf-8") as fh:
            return [json.loads(line)[field] for line in fh]

    prompts = [q + " (ticket {n})" for q in load("queries.jsonl", "query")]
    prompts += ["Classify the sentiment: " + t + " #{n}\n\nSentiment:" for t in load("sentiment.jsonl", "text")]
    out = []
    for prompt in prompts[:limit]:
        body = json.dumps({"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": prompt}]})
        before, after = body.split("{n}")
        out.append((before, after))
    return out


RUN_NUMBERS = itertools.count(0, 100_000_000)


def varied_lua() -> str:
    parts = ", ".join(f"{{[==[{a}]==], [==[{b}]==]}}" for a, b in varied_bodies())
    return VARIED_LUA % (parts, next(RUN_NUMBERS))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else argv


def start(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(pinned(0, argv), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {argv}") from None
            time.sleep(0.05)


def check(port: int, body: dict[str, object]) -> None:
    """The scenario must answer 200 before it is timed."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200, resp.status
        resp.read()


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time the process has used (Linux /proc), or None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    port: int, body: dict[str, object] | None, seconds: int, connections: int, pid: int | None = None
) -> dict[str, float]:
    """Drive POST /v1/chat/completions with ``body``, or with varied prompts when it is None.

    With the server's ``pid``, also the CPU time it spent per request: unlike req/s, that
    hardly moves when something else takes CPU from the machine.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA % json.dumps(body) if body is not None else varied_lua())
        script = fh.name
    cpu_before = cpu_seconds(pid) if pid is not None else None
    try:
        out = subprocess.run(
            pinned(
                1,
                [
                    "wrk",
                    "-t1",
                    f"-c{connections}",
                    f"-d{seconds}s",
                    "--latency",
                    "-s",
                    script,
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                ],
            ),
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        os.unlink(script)
    cpu_after = cpu_seconds(pid) if pid is not None else None
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": 1.0 if socket_errors else 0.0,
        "cpu_us": (cpu_after - cpu_before) / requests * 1e6
        if cpu_before is not None and cpu_after is not None and requests
        else float("nan"),
    }


def _latency(out: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out)
    assert match, out
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    python = sys.executable
    bare_port, floor_port, mock_port, memo_port = free_port(), free_port(), free_port(), free_port()
    uvicorn_flags = ["--log-level", "warning", "--no-access-log", "--lifespan", "off"]
    servers = [
        start([python, "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port), *uvicorn_flags], bare_port),
        start(
            [python, "-m", "uvicorn", "bench.bare_app:starlette_app", "--port", str(floor_port), *uvicorn_flags],
            floor_port,
        ),
        start([python, "-m", "mock_llm", "--port", str(mock_port), "--latency", "off"], mock_port),
        start([python, "-m", "bench.mock_memoised", "--port", str(memo_port), "--latency", "off"], memo_port),
    ]
    bare, floor, mock, memo = (proc.pid for proc in servers)  # taskset execs the server: same pid
    scenarios: list[tuple[str, int, int, dict[str, object] | None]] = [
        ("bare FastAPI, fixed JSON (ceiling)", bare_port, bare, CHAT),
        ("mock chat, one question repeated", mock_port, mock, CHAT),
        ("mock chat, every prompt different", mock_port, mock, None),
        ("  the same, counting and answering memoised", memo_port, memo, None),
        ("mock chat, stream=true", mock_port, mock, STREAM),
        ("reference: bare Starlette route", floor_port, floor, CHAT),
    ]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _, _ in scenarios}
    try:
        for _, port, _, body in scenarios:
            check(port, body or CHAT)
            wrk(port, body, 2, args.connections)  # warm-up
        for _ in range(args.rounds):
            for name, port, pid, body in scenarios:
                results[name].append(wrk(port, body, args.duration, args.connections, pid))
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=10)
    ceiling = statistics.median(r["rps"] for r in results[scenarios[0][0]])
    print(
        f"\nmock_llm throughput: one uvicorn process pinned to CPU 0, wrk on CPU 1, {args.connections} connections, "
        f"{args.rounds} x {args.duration}s rounds, medians\n"
    )
    ceiling_cpu = statistics.median(r["cpu_us"] for r in results[scenarios[0][0]])
    print(
        f"{'scenario':44} {'req/s':>7} {'vs ceiling':>10} {'CPU us/req':>10} {'ceiling/CPU':>11} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7}"
    )
    for name, _, _, _ in scenarios:
        runs = results[name]
        rps = statistics.median(r["rps"] for r in runs)
        cpu = statistics.median(r["cpu_us"] for r in runs)
        print(
            f"{name:44} {rps:7.0f} {rps / ceiling:10.0%} {cpu:10.1f} {ceiling_cpu / cpu:11.0%} "
            f"{statistics.median(r['p50_ms'] for r in runs):7.2f} {statistics.median(r['p99_ms'] for r in runs):7.2f} "
            f"{sum(r['non_2xx'] for r in runs):7.0f}"
        )
    print(
        "\nCPU us/req: the server's CPU time (user + system, from /proc) over the requests it answered;"
        "\nceiling/CPU: the ceiling's CPU per request over this one's, the throughput ratio with the"
        "\nmachine's other load taken out."
    )
    print("\nrerun: python bench/mock_throughput.py" + (f" --duration {args.duration}" if args.duration != 8 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
