"""The hub's pieces without a hub: keys and cards, the kit copy that never overwrites, the collect that only copies."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

from grader.registry import LABS
from hub.collect import collect
from hub.provision import copy_missing, kernel_spec, provision
from hub.room import Room, read_roster

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def room(tmp_path: Path) -> Room:
    return Room.from_env({"KIT_HUB_STATE": str(tmp_path / "state"), "KIT_HUB_KIT": str(tmp_path / "kit")})


def test_keys_and_codes_are_per_attendee_stable_and_secret(room: Room, tmp_path: Path) -> None:
    assert room.api_key("ada") == room.api_key("ada") != room.api_key("grace")
    assert room.card_code("ada") != room.card_code("grace") and len(room.card_code("ada")) == 10
    assert stat.S_IMODE(room.state.stat().st_mode) == 0o700
    assert stat.S_IMODE((room.state / "room-secret").stat().st_mode) == 0o600
    # Another room (another secret) gives other keys: a key from one workshop opens nothing in the next.
    other = Room.from_env({"KIT_HUB_STATE": str(tmp_path / "other")})
    assert other.api_key("ada") != room.api_key("ada") and other.card_code("ada") != room.card_code("ada")
    # A cluster's Secret gives the same keys on every hub replica.
    given = {"KIT_HUB_STATE": str(tmp_path / "third"), "KIT_HUB_ROOM_SECRET": "s" * 40}
    assert Room.from_env(given).api_key("ada") == Room.from_env({**given, "KIT_HUB_STATE": "/nowhere"}).api_key("ada")
    assert room.operator_token not in {room.api_key(n) for n in ("ada", "grace")}


def test_a_roster_refuses_what_a_card_cannot_carry(tmp_path: Path) -> None:
    roster = tmp_path / "roster.txt"
    roster.write_text("# room 2\nAda\n\ngrace  # late\nlinus\n")
    assert read_roster(roster) == ["ada", "grace", "linus"]
    roster.write_text("ada\nada\n")
    with pytest.raises(ValueError, match="listed twice"):
        read_roster(roster)
    roster.write_text("../etc\n")
    with pytest.raises(ValueError, match=r"roster\.txt:1"):
        read_roster(roster)


def test_the_card_authenticator_opens_one_account(room: Room, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jupyterhub", reason="needs JupyterHub from PyPI (the dev extra)")
    from hub.auth import CardAuthenticator

    monkeypatch.setenv("KIT_HUB_STATE", str(room.state))
    auth = CardAuthenticator()

    def login(name: str, code: str) -> str | None:
        return asyncio.run(auth.authenticate(None, {"username": name, "password": code}))

    assert login("ada", room.card_code("ada")) == "ada"
    assert login(" Ada ", room.card_code("ada").upper()) == "ada", "typed from a card: case and spaces forgiven"
    assert login("grace", room.card_code("ada")) is None, "ada's card does not open grace's account"
    assert login("ada", "") is None and login("", room.card_code("ada")) is None


def test_provision_copies_the_kit_once_and_never_overwrites(tmp_path: Path) -> None:
    source = tmp_path / "student"
    (source / "labs").mkdir(parents=True)
    (source / "labs" / "01_production_api.ipynb").write_text("starter")
    (source / "grader").mkdir()
    (source / "grader" / "nb.py").write_text("v1")
    home = tmp_path / "home"
    kit = provision(home, source, [])
    assert (kit / "labs" / "01_production_api.ipynb").read_text() == "starter"

    (kit / "labs" / "01_production_api.ipynb").write_text("my work")
    (kit / "grader" / "nb.py").unlink()  # deleted by the attendee: restored, since it is missing
    (source / "labs" / "01_production_api.ipynb").write_text("a newer starter")
    (source / "labs" / "02_semantic_cache.ipynb").write_text("released later")
    copied = copy_missing(source, kit)
    assert (kit / "labs" / "01_production_api.ipynb").read_text() == "my work"
    assert sorted(p.name for p in copied) == ["02_semantic_cache.ipynb", "nb.py"]

    spec = json.loads((home / ".local/share/jupyter/kernels/llm-prod-kit/kernel.json").read_text())
    assert spec["display_name"] == "LLM production kit" and spec["env"]["PYTHONPATH"] == str(kit)
    assert kernel_spec(kit)["argv"][0]  # the environment's own interpreter


def test_collect_copies_started_labs_and_touches_nothing(tmp_path: Path) -> None:
    """Copies (byte for byte, with nbgrader's timestamp), skips untouched starters, reads nothing else."""
    kit = tmp_path / "student"
    (kit / "labs").mkdir(parents=True)
    starter = (ROOT / "labs" / f"{LABS['01']}.ipynb").read_bytes()
    (kit / "labs" / f"{LABS['01']}.ipynb").write_bytes(starter)
    (kit / "labs" / f"{LABS['02']}.ipynb").write_bytes((ROOT / "labs" / f"{LABS['02']}.ipynb").read_bytes())
    homes = tmp_path / "homes"
    for name in ("ada", "grace"):
        provision(homes / name, kit, [])
    ada = homes / "ada" / "kit" / "labs"
    worked = json.loads(starter)
    worked["cells"][0]["source"] = "my notes"
    (ada / f"{LABS['01']}.ipynb").write_text(json.dumps(worked))
    renamed = ada / "attempt two.ipynb"  # renamed: found by its test cells
    renamed.write_text(json.dumps(worked | {"metadata": {"note": "copy"}}))
    (ada / "scratch.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (homes / "linus").mkdir()  # never logged in
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in homes.rglob("*") if p.is_file()}

    course = tmp_path / "course"
    done = collect(homes, course, kit)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in homes.rglob("*") if p.is_file()} == before
    assert sorted(done.copied["ada"]) == [f"{LABS['01']}/{LABS['01']}.ipynb", f"{LABS['01']}/attempt two.ipynb"]
    assert done.not_started == {"ada": [LABS["02"]], "grace": [LABS["01"], LABS["02"]]}
    assert done.no_kit == ["linus"]
    target = course / "submitted" / "ada" / LABS["01"] / f"{LABS['01']}.ipynb"
    assert target.read_bytes() == (ada / f"{LABS['01']}.ipynb").read_bytes()
    assert (target.parent / "timestamp.txt").read_text().strip().endswith("UTC")
    assert not list(course.rglob(".collect-*")), "no scratch file left behind"

    again = collect(homes, course, kit)
    assert again.copied == {} and len(again.unchanged["ada"]) == 2
    worked["cells"][0]["source"] = "more notes"
    (ada / f"{LABS['01']}.ipynb").write_text(json.dumps(worked))
    os.utime(ada / f"{LABS['01']}.ipynb")
    assert collect(homes, course, kit).copied == {"ada": [f"{LABS['01']}/{LABS['01']}.ipynb"]}
