"""``make doctor``: is this machine ready for the labs? Each check says what it found and what to do.

Checks Python, the .venv, the Jupyter kernel, the mock LLM (in process and on its port),
JupyterLab with widgets and inline plots, the JupyterLab port, and Redis when REDIS_URL
is set. Exit status 1 when something must be fixed, else 0.

It must run where setup failed, so it starts under any ``python3`` (the Makefile does not
build .venv first), re-runs itself under the kit's .venv when that works, uses only the
standard library at import time, and stays parseable by Python 3.8 so that an old Python
is told it is too old rather than shown a SyntaxError.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
KERNEL = "llm-prod-kit"
KERNEL_DISPLAY = "LLM production kit"
MIN_PYTHON = (3, 11)
WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"
# ipywidgets and the JupyterLab widget manager that renders it come in matched major versions.
WIDGET_PAIRS = {"8": "3", "7": "1"}

OK, NOTE, WARN, FAIL, SKIP = "ok", "note", "warn", "FAIL", "skip"


@dataclass
class Result:
    """One line of the report: a status, what was found, and (for a problem) what to do."""

    status: str
    what: str
    fix: str = ""


def _venv_active() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


# -- Python and the environment ------------------------------------------------------


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3]), executable: str = sys.executable) -> Result:
    shown = ".".join(str(part) for part in version)
    if version[:2] < MIN_PYTHON:
        return Result(
            FAIL,
            f"{shown} ({executable}) is too old: the kit needs Python 3.11 or newer",
            "install Python 3.11+ (python.org, your package manager, pyenv or conda), then: "
            "rm -rf .venv && make setup PYTHON=python3.11",
        )
    return Result(OK, f"{shown} ({executable})")


def project_requirements(root: Path = ROOT) -> list[str]:
    """The dependencies and dev extra that pyproject.toml lists (regex fallback without tomllib)."""
    text = (root / "pyproject.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python < 3.11: the version check already failed; read the lists plainly
        blocks = re.findall(r"^(?:dependencies|dev) = \[(.*?)^\]", text, re.M | re.S)
        return [item for block in blocks for item in re.findall(r'"([^"]+)"', block)]
    project = tomllib.loads(text)["project"]
    return list(project["dependencies"]) + list(project.get("optional-dependencies", {}).get("dev", []))


def check_environment(root: Path = ROOT, requirements: list[str] | None = None) -> list[Result]:
    """The .venv exists, is the interpreter running this, is up to date, and has every package."""
    venv_python = root / ".venv" / "bin" / "python"
    if not venv_python.exists():
        broken = venv_python.is_symlink()
        return [
            Result(
                FAIL,
                "the kit's .venv is broken: its Python is gone (moved or uninstalled)"
                if broken
                else "there is no .venv yet",
                ("rm -rf .venv && make setup" if broken else "make setup (make lab does it too)")
                + ": it needs a network connection to PyPI, or a local wheelhouse",
            )
        ]
    results = []
    if root == ROOT and not _venv_active():
        results.append(
            Result(WARN, f"these checks run under {sys.executable}, not the kit's .venv", "run them with make doctor")
        )
    stamp = root / ".venv" / ".installed"
    if not stamp.exists() or stamp.stat().st_mtime < (root / "pyproject.toml").stat().st_mtime:
        results.append(
            Result(
                WARN,
                "pyproject.toml changed since the .venv was last installed",
                "make setup (any make target does it first)",
            )
        )
    problems = []
    wanted = project_requirements(root) if requirements is None else requirements
    for requirement in wanted:
        problem = _requirement_problem(requirement)
        if problem:
            problems.append(problem)
    if problems:
        results.append(Result(FAIL, "packages: " + "; ".join(problems), "make setup"))
    else:
        results.append(Result(OK, f".venv has the {len(wanted)} packages pyproject.toml lists, in their versions"))
    for package in ("mock_llm", "grader"):
        problem = _kit_package_problem(package, root)
        if problem:
            results.append(Result(FAIL, problem, "make setup (it installs the kit itself, editable)"))
    return results


def _requirement_problem(requirement: str) -> str | None:
    from importlib import metadata

    try:
        from packaging.requirements import Requirement
    except ImportError:  # packaging comes with JupyterLab: without it, check presence only
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            return f"{name} is not installed"
        return None
    parsed = Requirement(requirement)
    try:
        installed = metadata.version(parsed.name)
    except metadata.PackageNotFoundError:
        return f"{parsed.name} is not installed"
    if parsed.specifier and not parsed.specifier.contains(installed, prereleases=True):
        return f"{parsed.name} {installed} is installed, the kit needs {parsed.specifier}"
    return None


def _kit_package_problem(package: str, root: Path) -> str | None:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return f"the kit's {package} package cannot be imported"
    where = Path(spec.origin).resolve()
    if root.resolve() not in where.parents:
        return f"{package} is imported from {where.parent}, not from this kit ({root})"
    return None


# -- The kernel ---------------------------------------------------------------------


def check_kernel(kernel_dirs: list[str] | None = None) -> Result:
    """The kit's kernel spec is installed and its Python runs and imports what the labs import."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager() if kernel_dirs is None else KernelSpecManager(kernel_dirs=kernel_dirs)
    install = (
        f"make setup, or: .venv/bin/python -m ipykernel install --sys-prefix --name {KERNEL} "
        f'--display-name "{KERNEL_DISPLAY}"'
    )
    try:
        spec = manager.get_kernel_spec(KERNEL)
    except NoSuchKernel:
        return Result(FAIL, f'"{KERNEL_DISPLAY}" ({KERNEL}) is not installed: the labs cannot run', install)
    python = spec.argv[0] if spec.argv else ""
    where = f"(spec in {spec.resource_dir})"
    if not python or not Path(python).exists():
        return Result(
            FAIL,
            f'"{KERNEL_DISPLAY}" {where} runs {python or "nothing"}, which does not exist '
            "(the .venv was moved or rebuilt?)",
            f"reinstall the kernel: {install}",
        )
    try:
        done = subprocess.run(
            [python, "-c", "import ipykernel, numpy, matplotlib, ipywidgets, mock_llm, grader"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Result(FAIL, f"its Python {python} does not start: {exc}", install)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        return Result(FAIL, f"its Python {python} cannot import what the labs need: {last}", install)
    note = "" if Path(python).parent == VENV_PYTHON.parent else " (not this kit's .venv)"
    return Result(OK, f'"{KERNEL_DISPLAY}" runs {python}{note}')


# -- The mock LLM and ports --------------------------------------------------------------


def port_holder(port: int) -> str | None:
    """Which program listens on a local TCP port, where /proc tells (Linux): 'cmd (pid N)'."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    if not inodes:
        return None
    proc = Path("/proc")
    for pid in sorted((p for p in proc.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        try:
            fds = list((pid / "fd").iterdir())
        except OSError:  # another user's process, or gone
            continue
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:  # closed meanwhile (the scan's own directory handle, for one)
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                try:
                    command = (pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                except OSError:
                    command = ""
                return f"{command[:100] or 'a program'} (pid {pid.name})"
    return None


def _held_by(port: int) -> str:
    holder = port_holder(port)
    return f"by {holder}" if holder else "by another program"


def check_mock_in_process() -> Result:
    """The mock's app answers a chat completion through the official SDK, with no network."""
    try:
        from mock_llm import InProcessMock

        client = InProcessMock().client()
        answer = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "Classify the sentiment: I love it"}]
        )
        text = (answer.choices[0].message.content or "").strip()
    except Exception as exc:  # any failure is the finding
        return Result(FAIL, f"does not answer in process: {type(exc).__name__}: {exc}", "make setup")
    return Result(OK, f'answers in process (gpt-3.5-turbo said "{text[:40]}")')


def check_mock_port(host: str, port: int) -> Result:
    """What is on the mock's port: a working mock, nothing yet, or another program."""
    from mock_llm.server import port_is_free, probe

    url = f"http://{host}:{port}/v1"
    health = probe(host, port, timeout=2.0)
    if health is not None:
        try:
            import openai

            with openai.OpenAI(base_url=url, api_key="doctor", max_retries=0, timeout=30) as client:
                client.models.list()
        except Exception as exc:  # any failure is the finding
            return Result(
                FAIL,
                f"one runs on {url} but does not answer the SDK: {type(exc).__name__}: {exc}",
                "stop it (Ctrl-C in its terminal) and start make lab again",
            )
        return Result(OK, f"running on {url}, and answers the SDK")
    try:
        free = port_is_free(host, port)
    except OSError as exc:
        return Result(FAIL, f"cannot use {host}:{port}: {exc}", "set MOCK_LLM_HOST=127.0.0.1")
    if free:
        return Result(NOTE, f"not running on {url} yet: make lab starts it (a notebook starts its own otherwise)")
    return Result(
        FAIL,
        f"port {port} on {host} is used {_held_by(port)}: make lab cannot start the mock there",
        f"stop that program, or choose another port: MOCK_LLM_PORT={port + 1} make lab",
    )


def check_jupyter_port(port: int, host: str = "127.0.0.1") -> Result:
    """JupyterLab's port: free, a Jupyter server of ours, or someone else's (Jupyter then moves on)."""
    from mock_llm.server import port_is_free

    if port_is_free(host, port):
        return Result(OK, f"{port} (JupyterLab's) is free")
    try:
        from jupyter_server.serverapp import list_running_servers

        running = [s for s in list_running_servers() if s.get("port") == port]
    except Exception:  # an unreadable runtime dir is no reason to stop the checks
        running = []
    if running:
        server = running[0]
        return Result(
            NOTE,
            f"a Jupyter server already runs on {port} (pid {server.get('pid')}, serving "
            f"{server.get('root_dir') or server.get('notebook_dir')}): make lab starts another on the next free port",
            f"use the one running (its URL has the token: jupyter server list), or stop it: jupyter server stop {port}",
        )
    return Result(
        WARN,
        f"{port} (JupyterLab's) is used {_held_by(port)}: JupyterLab will take the next free port",
        f"open the URL make lab prints, or choose a port: JUPYTER_PORT={port + 2} make lab",
    )


# -- JupyterLab, widgets and plots ----------------------------------------------------


def _labextension_list() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True, timeout=120
    )
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


def check_jupyterlab(listing: Callable[[], str] = _labextension_list) -> list[Result]:
    """JupyterLab runs, and renders widgets (its widget manager enabled, matched to ipywidgets) and plots."""
    from importlib import metadata

    versions = {}
    for name in ("jupyterlab", "ipywidgets", "jupyterlab_widgets", "matplotlib", "matplotlib-inline"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = ""
    missing = [name for name, version in versions.items() if not version]
    if missing:
        return [Result(FAIL, "not installed: " + ", ".join(missing), "make setup")]
    results = [Result(OK, f"{versions['jupyterlab']}")]
    try:
        shown = listing()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [*results, Result(FAIL, f"jupyter labextension list does not run: {exc}", "make setup")]
    line = next((row.strip() for row in shown.splitlines() if WIDGET_MANAGER in row), "")
    widgets = f"ipywidgets {versions['ipywidgets']}, jupyterlab_widgets {versions['jupyterlab_widgets']}"
    want = WIDGET_PAIRS.get(versions["ipywidgets"].split(".")[0])
    if not line:
        results.append(
            Result(
                FAIL,
                f"JupyterLab does not find its widget manager ({WIDGET_MANAGER}): widgets show 'Loading widget...'",
                "make setup (jupyterlab_widgets installs it)",
            )
        )
    elif " enabled" not in f" {line}" or " OK" not in f" {line}":
        results.append(
            Result(
                FAIL,
                f"JupyterLab's widget manager is not usable: {line}",
                f"jupyter labextension enable {WIDGET_MANAGER}, and check that no page_config.json in "
                "jupyter --paths disables it",
            )
        )
    elif want is not None and not versions["jupyterlab_widgets"].startswith(want + "."):
        results.append(
            Result(
                FAIL,
                f"{widgets} do not match: widgets will not render",
                "make setup (it installs a matched pair)",
            )
        )
    else:
        results.append(Result(OK, f"widgets render ({widgets}); plots inline (matplotlib {versions['matplotlib']})"))
    return results


# -- Redis and the provider -------------------------------------------------------------


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _resp(*words: str) -> bytes:
    return f"*{len(words)}\r\n".encode() + b"".join(f"${len(w.encode())}\r\n{w}\r\n".encode() for w in words)


def check_redis(url: str | None, timeout: float = 3.0) -> Result:
    """When REDIS_URL is set, a Redis server answers PING there (with the URL's password, if any)."""
    if not url:
        return Result(SKIP, "REDIS_URL is not set: caches stay in memory, nothing to check")
    shown = _redact(url)
    parts = urllib.parse.urlsplit(url)
    fix_url = "check REDIS_URL (redis://[:password@]host:6379/0), or unset it to keep caches in memory"
    if parts.scheme not in ("redis", "rediss", "unix"):
        return Result(FAIL, f"REDIS_URL={shown} is not a redis://, rediss:// or unix:// URL", fix_url)
    host, port = parts.hostname or "localhost", parts.port or 6379
    place = parts.path if parts.scheme == "unix" else f"{host}:{port}"
    start = "start Redis (apt-get install redis-server, or redis-server --daemonize yes), or unset REDIS_URL"
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(parts.path)
        else:
            sock = socket.create_connection((host, port), timeout=timeout)
            if parts.scheme == "rediss":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    except ConnectionRefusedError:
        return Result(FAIL, f"nothing listens at {place} (REDIS_URL={shown})", start)
    except TimeoutError:
        return Result(FAIL, f"no answer from {place} within {timeout:g} s (REDIS_URL={shown})", start)
    except (OSError, ssl.SSLError) as exc:
        return Result(FAIL, f"cannot connect to {place} (REDIS_URL={shown}): {exc}", start)
    with sock:
        try:
            if parts.password is not None:
                words = [parts.username, parts.password] if parts.username else [parts.password]
                sock.sendall(_resp("AUTH", *[urllib.parse.unquote(w) for w in words]))
                answer = _read_line(sock)
                if answer.startswith("-"):
                    return Result(FAIL, f"Redis at {place} refused the password in REDIS_URL: {answer}", fix_url)
                if not answer.startswith("+"):
                    return _not_redis(place, answer, fix_url)
            sock.sendall(_resp("PING"))
            answer = _read_line(sock)
        except TimeoutError:
            return Result(FAIL, f"{place} accepted a connection but did not answer PING within {timeout:g} s", start)
        except OSError as exc:
            return Result(FAIL, f"{place} closed the connection: {exc}", start)
    if answer.startswith("+PONG"):
        return Result(OK, f"Redis answers at {place} (REDIS_URL={shown})")
    if answer.startswith("-NOAUTH"):
        return Result(
            FAIL, f"Redis at {place} wants a password: {answer}", "put it in REDIS_URL: redis://:PASSWORD@host:6379/0"
        )
    return _not_redis(place, answer, fix_url)


def _not_redis(place: str, answer: str, fix_url: str) -> Result:
    said = f"it said {answer[:60]!r}" if answer else "it closed the connection without a word"
    what = f"something listens at {place}, but it is not Redis ({said})"
    return Result(FAIL, what, "REDIS_URL points at another service: " + fix_url)


def _read_line(sock: socket.socket) -> str:
    """The first line of the answer: a Redis reply is one line starting with +, -, :, $ or *."""
    data = b""
    while b"\r\n" not in data and b"\n" not in data and len(data) < 512:
        chunk = sock.recv(512)
        if not chunk:
            break
        data += chunk
    return data.splitlines()[0].decode(errors="replace").strip() if data.strip() else ""


def check_provider(environ: dict[str, str]) -> Result | None:
    """A note when OPENAI_BASE_URL sends the labs to a real provider instead of the mock."""
    url = environ.get("OPENAI_BASE_URL")
    if not url:
        return None
    key = "set" if environ.get("OPENAI_API_KEY") else "NOT set"
    return Result(
        NOTE,
        f"OPENAI_BASE_URL={url}: the labs call that provider, not the mock (OPENAI_API_KEY is {key})",
        "unset OPENAI_BASE_URL to use the mock",
    )


# -- The report ---------------------------------------------------------------------


def run_checks(environ: dict[str, str]) -> Iterable[tuple[str, Result]]:
    """Every check, in order, as (topic, result); later checks are skipped when Python itself is too old."""
    python = check_python()
    yield "Python", python
    if python.status == FAIL:
        return
    for result in check_environment():
        yield "Environment", result
    if not VENV_PYTHON.exists():
        yield "Kernel", Result(SKIP, "the other checks need the .venv")
        return
    host = environ.get("MOCK_LLM_HOST", "127.0.0.1")
    mock_port = int(environ.get("MOCK_LLM_PORT", "8000"))
    jupyter_port = int(environ.get("JUPYTER_PORT", "8888"))
    checks: list[tuple[str, Callable[[], Result | list[Result] | None]]] = [
        ("Kernel", check_kernel),
        ("Mock LLM", check_mock_in_process),
        ("Mock LLM", lambda: check_mock_port(host, mock_port)),
        ("Provider", lambda: check_provider(environ)),
        ("JupyterLab", check_jupyterlab),
        ("Ports", lambda: check_jupyter_port(jupyter_port)),
        ("Redis", lambda: check_redis(environ.get("REDIS_URL"))),
    ]
    for topic, check in checks:
        try:
            found = check()
        except Exception as exc:  # a check that breaks is itself a finding, and the others still run
            found = Result(FAIL, f"the check itself failed: {type(exc).__name__}: {exc}", "make setup")
        for result in found if isinstance(found, list) else [found] if found else []:
            yield topic, result


def main(argv: list[str] | None = None) -> int:
    if "--help" in (argv or sys.argv[1:]) or "-h" in (argv or sys.argv[1:]):
        print(__doc__)
        return 0
    if not _venv_active() and VENV_PYTHON.exists() and not os.environ.get("KIT_DOCTOR_REEXEC"):
        # Re-run under the kit's own interpreter: that is the environment to diagnose.
        os.environ["KIT_DOCTOR_REEXEC"] = "1"
        with contextlib.suppress(OSError):  # a .venv whose Python does not start: check_environment says so
            os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *(argv or sys.argv[1:])])
    print("make doctor: checking this machine for the LLM production labs\n", flush=True)
    started = time.monotonic()
    failures = warnings = 0
    for topic, result in run_checks(dict(os.environ)):
        print(f"  {result.status:<5} {topic}: {result.what}", flush=True)
        if result.fix and result.status in (FAIL, WARN, NOTE):
            print(f"        fix: {result.fix}" if result.status != NOTE else f"        {result.fix}", flush=True)
        failures += result.status == FAIL
        warnings += result.status == WARN
    took = time.monotonic() - started
    if failures:
        print(f"\n{failures} problem(s) to fix: see the FAIL lines above, each with its fix. ({took:.1f} s)")
        return 1
    tail = f" ({warnings} warning(s) above)" if warnings else ""
    print(f"\nAll clear{tail}: make lab is ready. ({took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
