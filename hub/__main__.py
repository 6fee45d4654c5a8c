"""``python -m hub``: the instructor's commands for a hosted room.

- ``cards ROSTER``: one line per attendee with their name and login code, to print and hand out;
- ``ledger``: each attendee's calls and dollars on the room's mock, and the room's total;
- ``collect --course COURSE``: copy every attendee's started labs into COURSE/submitted for ``make grade``.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .room import NAME, Room, read_roster


def _get(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def attendees(room: Room, roster: Path | None) -> list[str]:
    if roster is not None:
        return read_roster(roster)
    if not room.homes.is_dir():
        return []
    return sorted(p.name for p in room.homes.iterdir() if p.is_dir() and NAME.match(p.name))


def ledger(room: Room, names: list[str]) -> dict[str, Any]:
    """Every attendee's own ledger (read with their key, as they see it) and the operator's total."""
    control = room.mock_url.removesuffix("/v1")
    out: dict[str, Any] = {"attendees": {}}
    for name in names:
        out["attendees"][name] = _get(f"{control}/_mock/ledger", room.api_key(name))
    out["room"] = _get(f"{control}/_mock/ledger", room.operator_token)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cards = sub.add_parser("cards", help="print each attendee's name and login code")
    cards.add_argument("roster", type=Path, help="attendee names, one a line")
    cards.add_argument("--url", default="", help="the hub's address, printed on every card")
    show = sub.add_parser("ledger", help="each attendee's calls and dollars on the room's mock")
    show.add_argument("--roster", type=Path, help="only these attendees (default: every home folder)")
    show.add_argument("--json", action="store_true")
    collect_cmd = sub.add_parser("collect", help="copy the attendees' started labs into COURSE/submitted")
    collect_cmd.add_argument("--course", type=Path, default=Path("course"), help="the course folder (default: course/)")
    args = parser.parse_args(argv)
    room = Room.from_env()

    if args.command == "cards":
        try:
            names = read_roster(args.roster)
        except (OSError, ValueError) as exc:
            print(f"python -m hub cards: {exc}", file=sys.stderr)
            return 2
        for name in names:
            where = f"  {args.url}" if args.url else ""
            print(f"{name:<20} code: {room.card_code(name)}{where}")
        return 0

    if args.command == "ledger":
        try:
            data = ledger(room, attendees(room, args.roster))
        except (OSError, urllib.error.URLError) as exc:
            print(f"python -m hub ledger: the room's mock at {room.mock_url} did not answer: {exc}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(data, indent=1))
            return 0
        for name, mine in data["attendees"].items():
            total = mine["total"]
            refused = mine["rejected_requests"]
            print(f"{name:<20} {total['calls']:>5} calls  ${total['cost_usd']:.6f}  refused {refused}")
        total = data["room"]["total"]
        print(f"{'the room':<20} {total['calls']:>5} calls  ${total['cost_usd']:.6f}")
        return 0

    from .collect import collect

    course = args.course.resolve()
    if not room.homes.is_dir():
        print(f"python -m hub collect: no attendee folders at {room.homes} (KIT_HUB_HOMES)", file=sys.stderr)
        return 2
    done = collect(room.homes, course, room.kit)
    copied = sum(len(v) for v in done.copied.values())
    print(f"Collected {copied} notebook(s) into {course / 'submitted'} (copies: the attendees' files are untouched)")
    print("\n".join(done.lines()))
    print(f"Next: make grade COURSE={course}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
