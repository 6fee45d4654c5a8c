# nbgrader settings for running nbgrader by hand from the kit's root (formgrader, `nbgrader list`).
# `make release`, `make grade` and `make feedback` pass the course folder explicitly.
import os

from nbgrader.converters import Autograde

from grader.nbgrader_demos import SkipDemos

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
# Absolute, so nbgrader does not warn, once per app it loads, that it standardised a relative root.
c.CourseDirectory.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course")

# Raw `nbgrader autograde` skips the cells tagged "demo", as `make grade` does, and always runs
# graded cells whatever their tags (grader/nbgrader_demos.py).
c.Autograde.sanitize_preprocessors = [*Autograde.class_traits()["sanitize_preprocessors"].default(), SkipDemos]
