"""The room's JupyterHub settings, as one function that both ways of hosting call.

``hub/jupyterhub_config.py`` calls :func:`configure_room` with ``standalone=True``: the
hub, its proxy, login by card (or a shared password) and a folder per attendee, all from
this repository. The Littlest JupyterHub keeps its own login, users and culler and loads
``hub/tljh/llm-kit.py``, which calls it with ``standalone=False``: only the kit's parts
(the shared mock, each attendee's kit, kernel and key) are added.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from .room import HUB, ROOT, Room, read_roster

CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]


def _env_path(python: str) -> str:
    """The attendees' environment's bin folder first: kernels, `python -m grader` in a terminal find it."""
    return os.pathsep.join([str(Path(python).parent), os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")])


def configure_room(c: Any, room: Room | None = None, *, standalone: bool = True) -> Room:
    room = room or Room.from_env()
    room.prepare()
    if not (room.kit / "labs").is_dir():
        raise SystemExit(f"hub: no student kit at {room.kit} (run `make release`, or set KIT_HUB_KIT)")
    # The attendees' Python (their servers, kernels and the mock): the hub's own, unless the
    # hub runs from an environment of its own (The Littlest JupyterHub: /opt/tljh/user).
    python = os.environ.get("KIT_HUB_USER_PYTHON") or sys.executable
    path = _env_path(python)

    # --- each attendee: their copy of the kit, their kernel, their key for the room's mock ---
    # What attendees' processes read of the hub's files. With system users (TLJH), copy these two
    # to a folder they can read and keep the instructor repository (solutions, hidden checks) closed.
    attendee_files = Path(os.environ.get("KIT_HUB_ATTENDEE_FILES") or HUB)
    c.Spawner.cmd = [python, str(attendee_files / "provision.py"), python, "-m", "jupyterhub.singleuser"]
    c.Spawner.notebook_dir = "~/kit/labs"
    c.Spawner.default_url = "/lab/tree/room_check.ipynb"
    c.Spawner.environment = {
        "PATH": path,
        "LANG": "C.UTF-8",
        "KIT_SOURCE": str(room.kit),
        "KIT_EXTRA_NOTEBOOKS": str(attendee_files / "room_check.ipynb"),
        "OPENAI_BASE_URL": room.mock_url,
        "OPENAI_API_KEY": lambda spawner: room.api_key(spawner.user.name),
        # mock_llm.ensure_server() finds the room's mock there instead of starting its own
        "MOCK_LLM_HOST": "127.0.0.1",
        "MOCK_LLM_PORT": str(room.mock_port),
    }
    # A room of servers starting at once on a busy machine: JupyterLab may take a while.
    c.Spawner.start_timeout = 180
    c.Spawner.http_timeout = 180
    if os.geteuid() == 0 and standalone:  # the simple spawner runs servers as the hub's user
        c.Spawner.args = ["--ServerApp.allow_root=True"]

    # --- the room's one mock LLM: a service the hub starts, restarts and stops ---
    mock_args = shlex.split(os.environ.get("KIT_HUB_MOCK_ARGS", ""))
    services: list[dict[str, Any]] = [
        {
            "name": "mock-llm",
            "command": [python, "-m", "mock_llm", "--host", "127.0.0.1", "--port", str(room.mock_port), *mock_args],
            # Everything reaching the mock comes from this host's loopback, so the operator
            # must be a token, or an attendee without a key could reset everyone's ledger.
            "environment": {
                "PATH": path,
                "MOCK_LLM_OPERATOR_TOKEN": room.operator_token,
                "KIT_HUB_STATE": str(room.state),
            },
            "cwd": str(ROOT),
        }
    ]
    roles: list[dict[str, Any]] = []

    if standalone:
        c.JupyterHub.ip = room.ip
        c.JupyterHub.port = room.port
        c.JupyterHub.hub_ip = "127.0.0.1"
        c.JupyterHub.hub_port = int(os.environ.get("KIT_HUB_API_PORT", "8081"))
        c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(os.environ.get('KIT_HUB_PROXY_API_PORT', '8001'))}"
        proxy = os.environ.get("KIT_HUB_PROXY") or shutil.which("configurable-http-proxy")
        if proxy:
            c.ConfigurableHTTPProxy.command = [proxy]
        c.ConfigurableHTTPProxy.pid_file = str(room.state / "proxy.pid")
        c.JupyterHub.db_url = f"sqlite:///{room.state / 'jupyterhub.sqlite'}"
        c.JupyterHub.cookie_secret_file = str(room.state / "jupyterhub_cookie_secret")

        c.JupyterHub.spawner_class = "simple"
        c.SimpleLocalProcessSpawner.home_dir_template = str(room.homes / "{username}")

        roster = os.environ.get("KIT_HUB_ROSTER")
        names = read_roster(Path(roster)) if roster else []
        admins = {n.strip() for n in os.environ.get("KIT_HUB_ADMINS", "").split(",") if n.strip()}
        if names:
            c.Authenticator.allowed_users = set(names)
        else:
            c.Authenticator.allow_all = True  # cards: only names the instructor printed a card for get in
        c.Authenticator.admin_users = admins
        if os.environ.get("KIT_HUB_AUTH", "cards") == "shared":
            c.JupyterHub.authenticator_class = "shared-password"
            c.SharedPasswordAuthenticator.user_password = os.environ["KIT_HUB_PASSWORD"]
            if os.environ.get("KIT_HUB_ADMIN_PASSWORD"):
                c.SharedPasswordAuthenticator.admin_password = os.environ["KIT_HUB_ADMIN_PASSWORD"]
        else:
            c.JupyterHub.authenticator_class = "hub.auth.CardAuthenticator"

        # Servers left idle are stopped (their files stay); the attendee's next visit starts one again.
        cull = int(os.environ.get("KIT_HUB_CULL_SECONDS", "3600"))
        if cull > 0 and importlib.util.find_spec("jupyterhub_idle_culler") is not None:
            services.append(
                {
                    "name": "idle-culler",
                    "command": [python, "-m", "jupyterhub_idle_culler", f"--timeout={cull}"],
                    "environment": {"PATH": path, "KIT_HUB_STATE": str(room.state)},
                }
            )
            roles.append({"name": "idle-culler", "scopes": CULLER_SCOPES, "services": ["idle-culler"]})

    c.JupyterHub.services = [*c.JupyterHub.services, *services] if "services" in c.JupyterHub else services
    if roles:
        c.JupyterHub.load_roles = [*c.JupyterHub.load_roles, *roles] if "load_roles" in c.JupyterHub else roles
    return room
