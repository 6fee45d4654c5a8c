"""The Littlest JupyterHub: the kit's room on one VM. Copy to /opt/tljh/config/jupyterhub_config.d/.

TLJH keeps its own login, system users (jupyter-<name>), systemd spawner and idle
culler; this adds the kit's parts: the room's shared mock as a hub service, each
attendee's copy of the student kit, their kernel and their own key for the mock. It
expects the kit's instructor repository at /opt/llm-kit (KIT_HUB_ROOT to change it), readable
by root only, and what attendees read in /opt/llm-kit-room: the student kit (`make release`)
and hub/provision.py and hub/room_check.ipynb. See docs/hosting.md.
"""

import os
import sys
from pathlib import Path

ROOT = Path(os.environ.get("KIT_HUB_ROOT", "/opt/llm-kit"))
sys.path.insert(0, str(ROOT))
# Keys and the operator token live with the hub, readable by root only.
os.environ.setdefault("KIT_HUB_STATE", "/opt/tljh/state/llm-kit")
# The hub runs from /opt/tljh/hub; attendees' servers, kernels and the mock from the user environment.
os.environ.setdefault("KIT_HUB_USER_PYTHON", "/opt/tljh/user/bin/python")
# Attendees are system users here: they read the student kit and the two per-attendee files from
# /opt/llm-kit-room; the instructor repository (solutions, hidden checks) stays root's (0700).
os.environ.setdefault("KIT_HUB_KIT", "/opt/llm-kit-room/student")
os.environ.setdefault("KIT_HUB_ATTENDEE_FILES", "/opt/llm-kit-room")

from hub.hubconf import configure_room  # noqa: E402

configure_room(get_config(), standalone=False)  # type: ignore[name-defined]  # noqa: F821
