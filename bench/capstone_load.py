"""The capstone under open-loop load, against lab 01's naive service, in one run.

    python bench/capstone_load.py [--rate 1000] [--duration 60] [--scale 3] [--scale-rate 2500]
                                  [--scale-duration 15] [--fault-rate 0.3] [--seed 0]

Everything runs on this machine over loopback (127.0.0.1): the mock LLM at its realistic
latency (`--latency 1`), the services, Redis and HAProxy for the scaling phase, and the
load generator, an open-loop asyncio client on uvloop: request i is due at start + i/rate
whatever happened to the ones before, and its latency is counted from that due time, so a
service that falls behind shows it as queueing (no coordinated omission). Every loop is
bounded: each phase stops sending after --duration and waits at most --drain seconds.

Phases:
  1. naive    lab 01's service (no cache, no cascade): every request one gpt-3.5-turbo call
  2. capstone the capstone, in-memory caches (cold at the start)
  3. faults   both again with the mock failing --fault-rate of its calls (spread over kinds);
              then the capstone once more with no text repeated (every request meets the cascade)
  4. scale    1..N capstone processes behind HAProxy, sharing one Redis, at --scale-rate

The texts: the held-out half of data/sentiment.jsonl (never seen by the local model), drawn
with Zipf popularity, some re-cased or re-punctuated, some made unique with an order number,
seeded. Cost comes from the mock's own ledger; accuracy from the texts' labels.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from solutions.capstone.local_model import in_training_half, load_rows  # noqa: E402

HOST = "127.0.0.1"
FAULT_MIX = {  # shares of the fault rate, by kind
    "rate_limit": 0.2,
    "timeout": 0.15,
    "server_error": 0.15,
    "unavailable": 0.1,
    "malformed_json": 0.1,
    "truncated": 0.1,
    "empty": 0.1,
    "corrupted": 0.1,
}
LABELS = ("Positive", "Negative", "Neutral")


# ---------------------------------------------------------------- the traffic


@dataclass(frozen=True)
class Item:
    body: bytes
    label: str


def traffic(n: int, seed: int, unique_share: float = 0.1, variant_share: float = 0.15) -> list[Item]:
    """``n`` requests over the held-out texts: Zipf popularity, variants, and some unique texts."""
    rng = random.Random(seed)
    rows = [r for r in load_rows() if not in_training_half(r["id"])]
    rng.shuffle(rows)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(rows))]
    items = []
    for _ in range(n):
        (row,) = rng.choices(rows, weights)
        text = row["text"]
        u = rng.random()
        if u < unique_share:
            text = f"{text} (order #{rng.randrange(10**6)})"
        elif u < unique_share + variant_share:
            text = rng.choice([text.upper(), "  " + text.lower(), text.rstrip(".!") + "!!", text + " ..."])
        items.append(Item(json.dumps({"text": text}).encode(), row["label"]))
    return items


# ---------------------------------------------------------------- the open-loop client


@dataclass
class Result:
    due: float
    done: float
    status: int  # 0: transport error or timeout
    body: bytes
    label: str


@dataclass
class RunStats:
    offered: float
    duration: float
    results: list[Result] = field(default_factory=list)
    unfinished: int = 0
    wall: float = 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def open_loop(
    port: int, items: list[Item], rate: float, connections: int, timeout: float, drain: float
) -> RunStats:
    """Send ``items`` at ``rate`` per second, open loop, over at most ``connections`` keep-alive connections."""
    stats = RunStats(offered=rate, duration=len(items) / rate)
    queue: asyncio.Queue[tuple[float, Item]] = asyncio.Queue()
    template = (
        f"POST /classify HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: {n}\r\n\r\n"
    )

    async def worker() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while True:
            due, item = await queue.get()
            try:
                if writer is None or reader is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
                assert reader is not None and writer is not None
                writer.write(template.replace("{n}", str(len(item.body))).encode() + item.body)
                status, body = await asyncio.wait_for(_read_response(reader), timeout)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError):
                status, body = 0, b""
                if writer is not None:
                    writer.close()
                reader = writer = None
            stats.results.append(Result(due, time.perf_counter(), status, body, item.label))
            queue.task_done()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start = time.perf_counter() + 0.2
    for i, item in enumerate(items):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, item))
    end_of_sending = time.perf_counter()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(queue.join(), timeout=drain)
    stats.unfinished = len(items) - len(stats.results)
    stats.wall = (max((r.done for r in stats.results), default=end_of_sending)) - start
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return stats


def run_load(
    port: int, items: list[Item], rate: float, connections: int = 256, timeout: float = 10.0, drain: float = 15.0
) -> RunStats:
    try:
        import uvloop

        return uvloop.run(open_loop(port, items, rate, connections, timeout, drain))
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(open_loop(port, items, rate, connections, timeout, drain))


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {seconds:.0f} s")


def http_json(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class Processes:
    """Every process the bench starts, stopped (by its own id) when the bench ends."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = Path(tempfile.mkdtemp(prefix="capstone-bench-"))

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.procs)):
            self.stop(proc)


def start_mock(procs: Processes, seed: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = procs.start(
        "mock",
        [
            sys.executable,
            "-m",
            "mock_llm",
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--latency",
            "1",
            "--hang-seconds",
            "5",
        ],
    )
    root = f"http://{HOST}:{port}"
    wait_http(root + "/health")
    return proc, root


def start_service(
    procs: Processes, name: str, mock_root: str, *, naive: bool = False, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [sys.executable, "-m", "solutions.capstone", "--port", str(port)] + (["--naive"] if naive else [])
    proc = procs.start(
        name, argv, {"CAPSTONE_LLM_BASE_URL": mock_root + "/v1", "CAPSTONE_LOG_LEVEL": "WARNING", **(env or {})}
    )
    wait_http(f"http://{HOST}:{port}/health")
    return proc, port


# ---------------------------------------------------------------- figures


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    i = math.floor(pos)
    return s[i] if i + 1 >= len(s) else s[i] + (s[i + 1] - s[i]) * (pos - i)


def where(body: dict[str, Any]) -> str:
    """Which part of the service answered: a cache, a tier, or a fallback."""
    if body.get("degraded"):
        return "degraded"
    if body.get("source") in ("exact", "semantic"):
        return f"{body['source']} cache"
    return str(body.get("tier", body.get("model_used", "?")))


def summarise(stats: RunStats, cost: float) -> dict[str, Any]:
    done = stats.results
    n = len(done) + stats.unfinished
    latencies = [(r.done - r.due) * 1000 for r in done]
    first_due = min((r.due for r in done), default=0.0)
    ok = [r for r in done if r.status == 200]
    bodies = []
    for r in ok:
        with contextlib.suppress(ValueError):
            bodies.append((json.loads(r.body), r.label))
    valid = [(b, label) for b, label in bodies if b.get("sentiment") in LABELS]
    groups: dict[str, list[bool]] = defaultdict(list)
    for b, label in valid:
        groups[where(b)].append(b["sentiment"] == label)
    return {
        "sent": n,
        # answers completed while the load was being offered, per second of it: the sustained rate
        "achieved": sum(r.done <= first_due + stats.duration for r in done) / stats.duration,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "errors": 1 - len(ok) / n if n else math.nan,
        "error_kinds": dict(
            Counter("transport/timeout" if r.status == 0 else str(r.status) for r in done if r.status != 200)
        )
        | ({"unfinished": stats.unfinished} if stats.unfinished else {}),
        "valid": len(valid) / n if n else math.nan,
        "degraded": sum(bool(b.get("degraded")) for b, _ in valid) / n if n else math.nan,
        "accuracy": sum(b["sentiment"] == label for b, label in valid) / len(valid) if valid else math.nan,
        "cost_per_1k": cost / n * 1000 if n else math.nan,
        "cost_per_1k_answered": cost / len(valid) * 1000 if valid else math.nan,
        "groups": {k: (len(v) / len(valid), sum(v) / len(v)) for k, v in sorted(groups.items())},
    }


def ledger_cost(mock_root: str) -> float:
    return float(http_json("GET", mock_root + "/_mock/ledger")["total"]["cost_usd"])


def reset_mock(mock_root: str, fault_rate: float, seed: int) -> None:
    http_json("DELETE", mock_root + "/_mock/ledger")
    rates = {kind: share * fault_rate for kind, share in FAULT_MIX.items()} if fault_rate else {}
    http_json("PUT", mock_root + "/_mock/faults", {"rates": rates, "seed": seed})


def phase(
    procs: Processes,
    name: str,
    mock_root: str,
    items: list[Item],
    rate: float,
    *,
    naive: bool,
    fault_rate: float,
    seed: int,
) -> dict[str, Any]:
    proc, port = start_service(procs, name, mock_root, naive=naive)
    try:
        reset_mock(mock_root, fault_rate, seed)
        print(f"  {name}: {len(items)} requests at {rate:g}/s ...", flush=True)
        before = injected(mock_root)  # the mock's count is cumulative: take the difference
        stats = run_load(port, items, rate)
        cost = ledger_cost(mock_root)
        faults = injected(mock_root) - before
    finally:
        procs.stop(proc)
    return {**summarise(stats, cost), "faults_injected": faults}


def injected(mock_root: str) -> int:
    return sum(int(n) for n in http_json("GET", mock_root + "/_mock/faults")["injected"].values())


HAPROXY_CFG = """global
    maxconn 4096
    nbthread 1
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 5s
    option http-keep-alive
frontend capstone
    bind {host}:{port}
    default_backend services
backend services
    balance roundrobin
    option httpchk GET /ready
{servers}
"""


def scale_phase(procs: Processes, mock_root: str, n: int, items: list[Item], rate: float, seed: int) -> dict[str, Any]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    redis = shutil.which("redis-server") or "/usr/bin/redis-server"
    redis_port = free_port()
    redis_proc = procs.start(
        "redis", [redis, "--port", str(redis_port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    )
    services = []
    lb = None
    try:
        time.sleep(0.5)
        for i in range(n):
            services.append(
                start_service(procs, f"scale{n}-{i}", mock_root, env={"REDIS_URL": f"redis://{HOST}:{redis_port}/0"})
            )
        port = free_port()
        servers = "\n".join(
            f"    server s{i} {HOST}:{p} check inter 1s fall 5 rise 1" for i, (_, p) in enumerate(services)
        )
        cfg = procs.logs / f"haproxy{n}.cfg"
        cfg.write_text(HAPROXY_CFG.format(host=HOST, port=port, servers=servers))
        lb = procs.start(f"haproxy{n}", [haproxy, "-db", "-f", str(cfg)])
        wait_http(f"http://{HOST}:{port}/health")
        time.sleep(1.5)  # let the health checks mark every server up
        reset_mock(mock_root, 0.0, seed)
        print(f"  {n} process(es) behind HAProxy: {len(items)} requests at {rate:g}/s ...", flush=True)
        stats = run_load(port, items, rate, connections=512)
        cost = ledger_cost(mock_root)
    finally:
        if lb is not None:
            procs.stop(lb)
        for proc, _ in services:
            procs.stop(proc)
        procs.stop(redis_proc)
    return summarise(stats, cost)


def row(name: str, s: dict[str, Any]) -> str:
    return (
        f"| {name} | {s['sent']:,} | {s['achieved']:,.0f}/s | {s['p50']:,.1f} | {s['p95']:,.1f} | "
        f"{s['p99']:,.1f} | {s['errors']:.2%} | {s['valid']:.2%} | {s['degraded']:.2%} | {s['accuracy']:.1%} | "
        f"${s['cost_per_1k']:.5f} | ${s['cost_per_1k_answered']:.5f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second, open loop")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per phase")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of mock calls that fail (phase 3)")
    parser.add_argument("--scale", type=int, default=3, help="most service processes behind HAProxy (0: skip)")
    parser.add_argument("--scale-rate", type=float, default=1500.0, help="offered rate in the scaling phase")
    parser.add_argument("--scale-duration", type=float, default=15.0, help="seconds of load per scaling step")
    parser.add_argument("--skip-naive-faults", action="store_true", help="run the fault phase on the capstone only")
    parser.add_argument("--phases", default="naive,capstone,faults,faults-unique,scale", help="which phases to run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    command = "python bench/capstone_load.py " + " ".join(argv if argv is not None else sys.argv[1:])
    n = int(args.rate * args.duration)
    items = traffic(n, args.seed)
    procs = Processes()
    results: dict[str, dict[str, Any]] = {}
    scaling: list[tuple[int, dict[str, Any]]] = []
    try:
        _, mock_root = start_mock(procs, args.seed)
        print(f"logs in {procs.logs}", flush=True)
        phases = set(args.phases.split(","))
        if "naive" in phases:
            results["naive (lab 01)"] = phase(
                procs, "naive", mock_root, items, args.rate, naive=True, fault_rate=0, seed=args.seed
            )
        if "capstone" in phases:
            results["capstone"] = phase(
                procs, "capstone", mock_root, items, args.rate, naive=False, fault_rate=0, seed=args.seed
            )
        if args.fault_rate and "faults" in phases:
            if not args.skip_naive_faults:
                results[f"naive, {args.fault_rate:.0%} faults"] = phase(
                    procs,
                    "naive-faults",
                    mock_root,
                    items,
                    args.rate,
                    naive=True,
                    fault_rate=args.fault_rate,
                    seed=args.seed,
                )
            results[f"capstone, {args.fault_rate:.0%} faults"] = phase(
                procs,
                "capstone-faults",
                mock_root,
                items,
                args.rate,
                naive=False,
                fault_rate=args.fault_rate,
                seed=args.seed,
            )
        if args.fault_rate and "faults-unique" in phases:
            # The worst case for the boundary: no text repeats, so every request goes through
            # the cascade and every paid call meets the mock's faults.
            unique = traffic(n, args.seed + 2, unique_share=1.0, variant_share=0.0)
            results[f"capstone, {args.fault_rate:.0%} faults, no repeats"] = phase(
                procs,
                "capstone-faults-unique",
                mock_root,
                unique,
                args.rate,
                naive=False,
                fault_rate=args.fault_rate,
                seed=args.seed,
            )
        scale_items = traffic(int(args.scale_rate * args.scale_duration), args.seed + 1)
        for k in range(1, (args.scale if "scale" in phases else 0) + 1):
            scaling.append((k, scale_phase(procs, mock_root, k, scale_items, args.scale_rate, args.seed)))
    finally:
        procs.stop_all()

    print()
    print(f"Measured by: {command}")
    print(
        f"{os.cpu_count()} CPUs, shared by the load generator, the services, the mock (latency 1) and Redis;"
        f" open loop, latency from each request's due time; {n:,} requests a phase, seed {args.seed}."
    )
    print()
    print(
        "| run | requests | achieved | p50 ms | p95 ms | p99 ms | errors | valid answers | degraded | accuracy "
        "| $ per 1,000 | $ per 1,000 answered |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, s in results.items():
        print(row(name, s))
    for name, s in results.items():
        kinds = ", ".join(f"{k} {v}" for k, v in s["error_kinds"].items()) or "none"
        print(f"\n{name}: non-200 by kind: {kinds}; faults the mock injected: {s.get('faults_injected', 0):,}")
        print(
            "  answered by: "
            + "; ".join(f"{k} {share:.1%} (accuracy {acc:.1%})" for k, (share, acc) in s["groups"].items())
        )
    if scaling:
        print()
        print(
            f"Scaling: N capstone processes behind HAProxy (roundrobin, keep-alive), one shared Redis, "
            f"{args.scale_rate:g} requests/s offered for {args.scale_duration:g} s"
        )
        print()
        print("| processes | achieved | p50 ms | p95 ms | p99 ms | errors | $ per 1,000 |")
        print("|---|---|---|---|---|---|---|")
        for k, s in scaling:
            kinds = ", ".join(f"{kind} {count}" for kind, count in s["error_kinds"].items()) or "none"
            print(
                f"| {k} | {s['achieved']:,.0f}/s | {s['p50']:,.1f} | {s['p95']:,.1f} | {s['p99']:,.1f} | "
                f"{s['errors']:.2%} ({kinds}) | ${s['cost_per_1k']:.5f} |"
            )
    capstone = results.get("capstone")
    if capstone:
        rate_met = capstone["achieved"] >= 0.99 * 1000 and capstone["errors"] < 0.01
        print()
        print(
            "Targets (capstone, no faults): "
            f"cost ${capstone['cost_per_1k']:.5f} per 1,000 (target < $0.01: "
            f"{'met' if capstone['cost_per_1k'] < 0.01 else 'NOT met'}); "
            f"p95 {capstone['p95']:,.1f} ms (target < 500: {'met' if capstone['p95'] < 500 else 'NOT met'}); "
            f"achieved {capstone['achieved']:,.0f}/s of {args.rate:g} offered with {capstone['errors']:.2%} errors "
            f"(target 1,000/s: {'met' if rate_met else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
