"""The workshop kit on JupyterHub: one shared mock LLM, a copy of the student kit and a key per attendee.

``python -m hub cards|keys|ledger|collect``: the instructor's side; hub/README.md says how
to run a room.
"""
