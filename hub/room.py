"""One room's settings and secrets: where things live, each attendee's mock key and login card.

Everything here is read from ``KIT_HUB_*`` environment variables (defaults in brackets),
so the hub's config, the instructor's commands and the tests agree without a config
file of their own:

- ``KIT_HUB_STATE`` [``build/hub``]: the hub's database, cookie secret, the room secret,
  the mock's operator token, the attendees' Jupyter config; private to the instructor
  (created 0700);
- ``KIT_HUB_HOMES`` [``STATE/homes``]: one folder per attendee (the simple spawner);
- ``KIT_HUB_KIT`` [``release/student``]: the student kit each attendee gets a copy of
  (``make release`` writes it);
- ``KIT_HUB_IP`` / ``KIT_HUB_PORT`` [``127.0.0.1`` / ``8000``]: where attendees connect;
- ``KIT_HUB_MOCK_PORT`` [``8010``]: the room's one mock LLM, on the hub's loopback;
- ``KIT_HUB_ROOM_SECRET`` and ``MOCK_LLM_OPERATOR_TOKEN``: given by a cluster's Secret
  instead of the files in STATE (Zero to JupyterHub: see hub/k8s/).

Keys and card codes are derived from the room secret with HMAC: nothing per attendee is
stored, an attendee cannot work out another's key or code, and the instructor can
recompute both at any time (``python -m hub cards``, ``python -m hub ledger``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUB = Path(__file__).resolve().parent
KERNEL = "llm-prod-kit"
KIT_FOLDER = "kit"  # the attendee's copy of the student kit, in their home
# JupyterHub's own rule for names is looser; a card is typed by hand, so keep it plain.
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Room:
    state: Path
    homes: Path
    kit: Path
    ip: str
    port: int
    mock_port: int
    given_secret: str | None = None
    given_operator_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Room:
        env = os.environ if env is None else env
        state = Path(env.get("KIT_HUB_STATE") or ROOT / "build" / "hub").resolve()
        return cls(
            state=state,
            homes=Path(env.get("KIT_HUB_HOMES") or state / "homes").resolve(),
            kit=Path(env.get("KIT_HUB_KIT") or ROOT / "release" / "student").resolve(),
            ip=env.get("KIT_HUB_IP", "127.0.0.1"),
            port=int(env.get("KIT_HUB_PORT", "8000")),
            mock_port=int(env.get("KIT_HUB_MOCK_PORT", "8010")),
            given_secret=env.get("KIT_HUB_ROOM_SECRET") or None,
            given_operator_token=env.get("MOCK_LLM_OPERATOR_TOKEN") or None,
        )

    @property
    def mock_url(self) -> str:
        return f"http://127.0.0.1:{self.mock_port}/v1"

    def prepare(self) -> None:
        """Create the private state folder (0700) and the homes folder."""
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o700)
        self.homes.mkdir(parents=True, exist_ok=True)

    def _secret(self, name: str, nbytes: int) -> str:
        """A random secret kept in STATE/name (0600), made on first use."""
        path = self.state / name
        if not path.exists():
            self.prepare()
            value = secrets.token_urlsafe(nbytes)
            # O_EXCL: two processes starting at once keep the first one's secret.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(value + "\n")
        return path.read_text().strip()

    @property
    def room_secret(self) -> bytes:
        """``KIT_HUB_ROOM_SECRET`` (a cluster's Secret), else STATE/room-secret."""
        return (self.given_secret or self._secret("room-secret", 32)).encode()

    @property
    def operator_token(self) -> str:
        """The mock's operator token (``MOCK_LLM_OPERATOR_TOKEN``, else STATE's): the server-wide view."""
        return self.given_operator_token or self._secret("mock-operator-token", 24)

    def _derive(self, purpose: str, name: str) -> bytes:
        return hmac.new(self.room_secret, f"{purpose}:{name}".encode(), hashlib.sha256).digest()

    def api_key(self, name: str) -> str:
        """The attendee's key for the shared mock: their own ledger and faults."""
        return f"room-{name}-{self._derive('mock-key', name).hex()[:16]}"

    def card_code(self, name: str) -> str:
        """The login code printed on the attendee's card: 10 characters of base32 (a-z, 2-7: no 0 or 1)."""
        return base64.b32encode(self._derive("card", name)).decode().lower()[:10]

    def home(self, name: str) -> Path:
        return self.homes / name


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(
            f"{name!r} is not a usable attendee name: lower-case letters, digits, '-' and '_', "
            "starting with a letter, at most 32 characters"
        )
    return name


def read_roster(path: Path) -> list[str]:
    """Attendee names, one a line; blank lines and '#' comments ignored; duplicates refused."""
    names: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        name = line.split("#", 1)[0].strip().lower()
        if not name:
            continue
        try:
            check_name(name)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
        if name in names:
            raise ValueError(f"{path}:{number}: {name!r} is listed twice")
        names.append(name)
    return names
