"""Headless Chromium for the tests that look at what a person sees: JupyterLab (here) and the hub (tests/hub)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# What the browser tests need; without either they skip, saying so.
BROWSER_CAN_RUN = CHROMIUM.exists() and importlib.util.find_spec("playwright") is not None
SHOTS = ROOT / "build" / "screenshots"  # a picture of each page, for a person to look at
# Chromium as root needs --no-sandbox; the rest keep it off a closed network (no
# component updates, sync, QUIC probes or first-run pages).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
