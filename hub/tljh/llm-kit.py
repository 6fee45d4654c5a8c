"""The Littlest JupyterHub: the kit's room on one VM. Copy to /opt/tljh/config/jupyterhub_config.d/.

TLJH keeps its own login, system users (jupyter-<name>), systemd spawner and idle
culler; this adds the kit's parts: the room's shared mock as a hub service, each
attendee's copy of the student kit, their kernel and their own key for the mock. It
expects the kit's instructor repository at /opt/llm-kit (KIT_HUB_ROOT to change it),
installed into TLJH's user environment, and the student kit built there with `make release`.
See docs/hosting.md.
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
os.environ.setdefault("KIT_HUB_KIT", str(ROOT / "release" / "student"))

from hub.hubconf import configure_room  # noqa: E402

configure_room(get_config(), standalone=False)  # type: ignore[name-defined]  # noqa: F821
