from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Registered here as well as in pyproject.toml, so `--strict-markers` accepts it in either order of landing.
    config.addinivalue_line(
        "markers", "hub: starts a real JupyterHub with configurable-http-proxy and drives it in headless Chromium"
    )
