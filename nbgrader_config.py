# nbgrader settings for running nbgrader by hand from the kit's root (formgrader, `nbgrader list`).
# `make release`, `make grade` and `make feedback` pass the course folder explicitly.
c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
c.CourseDirectory.root = "course"
