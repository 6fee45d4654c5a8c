"""Does the browser test tell a stub's NotImplementedError from a real error, and notice missing plots and widgets?"""

from __future__ import annotations

from .outputs import Cell, error_name, inspect

STDERR = "application/vnd.jupyter.stderr"
RULER = "-" * 75


def traceback(name: str, message: str = "") -> dict[str, object]:
    """An error output as IPython formats it."""
    head = f"{name}                       Traceback (most recent call last)"
    return shown(f"{RULER}\n{head}\nCell In[3], line 1\n{name}: {message}", mime=STDERR)


def shown(text: str = "", mime: str = "text/plain", images: int = 0, widgets: int = 0) -> dict[str, object]:
    return {"mime": mime, "text": text, "images": images, "widgets": widgets}


def test_error_names() -> None:
    assert error_name(str(traceback("NotImplementedError")["text"])) == "NotImplementedError"
    assert error_name("  Cell In[2], line 1\n    x = (\n        ^\nSyntaxError: incomplete input") == "SyntaxError"
    assert error_name("/lib/x.py:3: DeprecationWarning: old\n  warnings.warn(...)") is None


def test_a_lab_may_show_its_stubs_and_nothing_else() -> None:
    cells = [
        Cell(2, "class A: ...", True, [traceback("NotImplementedError")]),
        Cell(3, "nb.check('x')", True, [traceback("AssertionError", "✗ x: still raises NotImplementedError")]),
        Cell(4, "d['k']", True, [traceback("KeyError", "'k'")]),
        Cell(5, "warn()", True, [shown("x.py:1: UserWarning: careful", mime=STDERR)]),
    ]
    found = inspect(cells, student=True)
    assert len(found.stub_errors) == 2
    assert found.unexpected == ["cell 4: KeyError: 'k'", "cell 5: stderr: x.py:1: UserWarning: careful"]


def test_a_solution_may_show_no_error_at_all() -> None:
    found = inspect([Cell(2, "class A: ...", True, [traceback("NotImplementedError")])], student=False)
    assert found.stub_errors == [] and found.unexpected == ["cell 2: NotImplementedError:"]


def test_a_solution_shows_every_plot_and_widget_it_makes() -> None:
    cells = [
        Cell(1, "plt.plot(x)\nplt.show()", True, [shown("some text")]),
        Cell(2, "plt.plot(x)", True, [shown(mime="image/png", images=1)]),
        Cell(3, "widgets.interact(f, t=widgets.FloatSlider())", True, [shown("Loading widget...")]),
        Cell(4, "widgets.IntSlider()", True, [shown(widgets=1)]),
        Cell(5, "plt.plot(x)", False, []),  # never ran: reported as such by the caller, not here
    ]
    found = inspect(cells, student=False)
    assert found.missing_plots == [1]
    assert found.missing_widgets == [3]
    assert found.widget_trouble == ["cell 3: Loading widget..."]
    assert found.images == 1 and found.widgets == 1 and found.ran == 4


def test_a_lab_may_skip_a_plot_but_never_fail_to_render_one() -> None:
    cells = [
        Cell(1, "try: ...\nexcept NotImplementedError: print('later')\nplt.show()", True, [shown("later")]),
        Cell(2, "plt.plot(x)", True, [shown("<Figure size 700x400 with 1 Axes>")]),  # the inline backend failed
        Cell(3, "widgets.IntSlider()", True, [shown("IntSlider(value=3)")]),  # no widget manager in the page
        Cell(4, "plt.plot(broken)", True, [traceback("NameError", "name 'broken' is not defined")]),
    ]
    found = inspect(cells, student=True)
    assert found.missing_plots == [2]
    assert found.missing_widgets == [3]
    assert found.unexpected == ["cell 4: NameError: name 'broken' is not defined"]
