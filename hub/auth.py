"""Login for a workshop room: a card per attendee, with a name and a code.

JupyterHub's own ``SharedPasswordAuthenticator`` lets anyone with the room's password
log in as *anyone*: a neighbour who types your name sees your notebooks and spends from
your ledger. A card code is derived from the room secret and the name (see
:meth:`hub.room.Room.card_code`), so it opens one account only, and nothing per attendee
is stored: ``python -m hub cards roster.txt`` prints the cards to hand out.

Only names on the roster (``allowed_users``) may log in; instructors are ``admin_users``
and log in with their own card like everyone else.
"""

from __future__ import annotations

from secrets import compare_digest
from typing import Any

from jupyterhub.auth import Authenticator  # type: ignore[import-untyped]

from .room import NAME, Room


class CardAuthenticator(Authenticator):  # type: ignore[misc]
    """A name and the code on that name's card."""

    def normalize_username(self, username: str) -> str:
        return str(super().normalize_username(username.strip()))

    async def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:
        name = self.normalize_username(data.get("username", ""))
        code = data.get("password", "").strip().lower()
        if not NAME.match(name) or not code:
            return None
        # Compared in constant time; a wrong name and a wrong code look the same to the caller.
        if compare_digest(code.encode(), Room.from_env().card_code(name).encode()):
            return name
        self.log.warning("login refused for %r: the code does not match that name's card", name)
        return None
