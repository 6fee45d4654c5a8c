"""JupyterHub for a workshop room on one machine: `python -m jupyterhub -f hub/jupyterhub_config.py`.

Every setting comes from ``KIT_HUB_*`` variables (see hub/README.md and hub/room.py);
with none set, the hub listens on http://127.0.0.1:8000, attendees log in with the code
on their card (``python -m hub cards``), and the room's mock answers on 127.0.0.1:8010.
"""

import sys
from pathlib import Path

# The hub's config is executed, not imported: make the kit's packages importable from it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.hubconf import configure_room

configure_room(get_config(), standalone=True)  # type: ignore[name-defined]  # noqa: F821
