# nbgrader settings for running nbgrader by hand from the kit's root (formgrader, `nbgrader list`).
# `make release`, `make grade` and `make feedback` pass the course folder explicitly.
import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
# Absolute, so nbgrader does not warn, once per app it loads, that it standardised a relative root.
c.CourseDirectory.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course")
