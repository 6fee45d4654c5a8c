"""Hidden checks: the instructor repository only. ``make release`` leaves this package out of the student kit."""
