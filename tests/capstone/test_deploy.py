"""The Kubernetes manifests agree with the service: probes, settings and the shutdown budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from solutions.capstone.settings import PREFIX, Settings

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: the manifest checks read YAML")
K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def documents() -> dict[tuple[str, str], Any]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "metadata" in doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def test_configmap_is_valid_settings() -> None:
    """Does every variable in the ConfigMap name a setting, with a value the service accepts?"""
    env = documents()[("ConfigMap", "capstone")]["data"]
    known = {PREFIX + name.upper() for name in Settings.__dataclass_fields__} | {"REDIS_URL"}
    assert set(env) <= known, set(env) - known
    settings = Settings.from_env(env)
    assert settings.redis_url == env["REDIS_URL"]


def test_probes_and_shutdown_budget() -> None:
    """Do the probes hit the service's routes, and does the grace period cover preStop plus the drain?"""
    docs = documents()
    pod = docs[("Deployment", "capstone")]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"][-1]
    sleep = float(pre_stop.split("sleep(")[1].rstrip(")"))
    drain = float(docs[("ConfigMap", "capstone")]["data"]["CAPSTONE_GRACEFUL_SHUTDOWN_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > sleep + drain
    services = {name for kind, name in docs if kind == "Service"}
    assert {"capstone", "redis", "mock-llm"} <= services
