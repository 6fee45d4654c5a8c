"""The sandbox a submission runs in while it is graded.

Two layers, because the grader must work both as root on an instructor's server and as a
learner on a laptop:

- **operating system** (Linux: as root, or as a user where user namespaces are allowed):
  the grading process gets its own network namespace with only a loopback interface (no
  network at all; the mock is in process) and its own mount namespace, in which the kit
  is read-only and the reference, the hidden checks, the git history and the course's
  submissions are covered by empty folders: the kernel, not the hook, enforces those;
- **audit hook** (everywhere; PEP 578): the process refuses, with ``PermissionError``,
  to open for writing anything outside its scratch folder, to read or list the reference,
  the hidden checks, the kit's git history or other submissions, to connect anywhere but
  loopback, and to start programs or load native code (``ctypes``). Calls from the
  learner's code that reach into the grader (stack frames, ``gc``) are recorded as flags.

An audit hook lives in the process it guards: code that gets raw memory access could get
round it, which is why ``ctypes`` is refused and flagged, and why the operating-system
layer comes first where it is available. ``docs/grader.md`` says what each platform gets.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import socket
import struct
import sys
from pathlib import Path
from typing import Any

from .loader import is_learner_file

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x20000, 0x10000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
ST_RELATIME = 4096
SIOCSIFFLAGS = 0x8914
SYSTEM_FOLDERS = ("/etc", "/usr", "/var", "/opt", "/home", "/root", "/srv", "/boot", "/lib", "/bin", "/sbin")
IFF_UP, IFF_LOOPBACK, IFF_RUNNING = 0x1, 0x8, 0x40

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
O_PATH = getattr(os, "O_PATH", 0)
FLAG_LIMIT = 50  # flags and notes kept per process: a loop of refusals must not flood the report
EXEC_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile", "pty.spawn"}
MUTATE_EVENTS = {
    "os.remove": 0,
    "os.rename": 0,
    "os.mkdir": 0,
    "os.rmdir": 0,
    "os.chmod": 0,
    "os.chown": 0,
    "os.symlink": 1,
    "os.link": 1,
    "os.truncate": 0,
    "os.utime": 0,
    "shutil.rmtree": 0,
    "shutil.move": 1,
    "shutil.copyfile": 1,
}
LIST_EVENTS = {"os.listdir", "os.scandir", "glob.glob", "os.walk"}
FRAME_ATTRS = {"tb_frame", "gi_frame", "cr_frame", "ag_frame"}
PEEK_EVENTS = {
    "sys._getframe": "reads the grader's stack frames",
    "sys._current_frames": "reads the grader's stack frames",
    "gc.get_objects": "searches the grader's memory",
    "gc.get_referrers": "searches the grader's memory",
    "gc.get_referents": "searches the grader's memory",
}


class Sandbox:
    """The audit-hook layer; :meth:`install` once per process, after the grader's own reads."""

    def __init__(self, scratch: Path, protected: list[Path], allowed: list[Path], denied: list[Path]) -> None:
        self.scratch = os.path.realpath(scratch)
        self.protected = [os.path.realpath(p) for p in protected]
        self.allowed = [os.path.realpath(p) for p in allowed]  # inside a protected folder, but needed
        self.denied = [os.path.realpath(p) for p in denied]  # inside an allowed folder, and never readable
        self.flags: list[str] = []
        self.notes: list[str] = []
        self._busy = False

    # --- the operating-system layer ---

    def isolate(self, hide: list[Path], read_only: list[Path]) -> list[str]:
        """Own network and mount namespaces (Linux): no network, ``read_only`` read-only, ``hide`` emptied.

        As root directly; as a user through a user namespace where the system allows one.
        What was applied, in words; an empty list where nothing could be (the audit hook
        still guards the process).
        """
        if sys.platform != "linux":
            return []
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        uid, gid = os.getuid(), os.getgid()
        flags = CLONE_NEWNS | CLONE_NEWNET | (0 if os.geteuid() == 0 else CLONE_NEWUSER)
        if libc.unshare(flags) != 0:
            return []
        applied = []
        try:
            if flags & CLONE_NEWUSER:
                _write("/proc/self/setgroups", "deny")
                _write("/proc/self/uid_map", f"0 {uid} 1")
                _write("/proc/self/gid_map", f"0 {gid} 1")
            _loopback_up()
            applied.append("no network (own network namespace)")
            _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
            for folder in read_only:
                if folder.is_dir():
                    _mount(libc, str(folder), str(folder), None, MS_BIND | MS_REC)
                    keep = _kept_flags(str(folder))
                    _mount(libc, None, str(folder), None, MS_BIND | MS_REMOUNT | MS_RDONLY | keep)
            applied.append("the kit read-only (own mount namespace)")
            for folder in hide:
                if folder.is_dir():
                    _mount(libc, "tmpfs", str(folder), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k")
            applied.append("the reference, hidden checks and other submissions invisible")
            for system in SYSTEM_FOLDERS:
                if os.path.isdir(system) and not os.path.islink(system):
                    _mount(libc, system, system, None, MS_BIND | MS_REC)
                    _mount(libc, None, system, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _kept_flags(system))
            # /proc/<pid>/root leads back to the whole file system: no /proc at all while grading
            _mount(libc, "tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k")
            applied.append("system folders read-only, /proc hidden")
        except OSError as exc:
            applied.append(f"(stopped: {exc})")
        return applied

    # --- the audit-hook layer ---

    def install(self) -> None:
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self._busy:
            return
        if event == "open":
            self._open(args)
        elif event in MUTATE_EVENTS:
            self._write(args[0], event)
            if MUTATE_EVENTS[event]:
                self._write(args[1], event)
        elif event in LIST_EVENTS:
            if args and self._is_protected(args[0]) and not self._import_system():
                self._refuse(f"listed {args[0]}", flag=True)
        elif event in EXEC_EVENTS:
            self._refuse(f"tried to start another program ({event})", flag=True)
        elif event.startswith("ctypes.") and self._direct():
            self._refuse(f"used ctypes ({event})", flag=True)
        elif event == "socket.connect":
            self._connect(args)
        elif event == "os.fork" and self._from_learner():
            self._record(self.flags, "the notebook's code started a process of its own (os.fork)")
        elif event in PEEK_EVENTS and self._direct():
            self._record(self.flags, f"the notebook's code {PEEK_EVENTS[event]} ({event})")
        elif event == "object.__getattr__" and args[1] in FRAME_ATTRS and self._direct():
            self._record(self.flags, f"the notebook's code walks stack frames ({args[1]})")

    @staticmethod
    def _record(where: list[str], message: str) -> None:
        if message not in where and len(where) < FLAG_LIMIT:
            where.append(message)

    def _direct(self) -> bool:
        """Whether the learner's code itself made the audited call (not a library it called)."""
        self._busy = True
        try:
            return is_learner_file(sys._getframe(2).f_code.co_filename)
        except ValueError:
            return False
        finally:
            self._busy = False

    def _import_system(self) -> bool:
        """Whether Python's import system made the call: its path finder lists a folder on sys.path again
        whenever the folder changes (a file added to the kit while grading). A finder driven by the
        learner's code directly is not the import system."""
        self._busy = True
        try:
            caller: Any = sys._getframe(2)  # past this method and the hook: the frame that made the call
            callers = (caller, caller.f_back)
            return all(f is not None and f.f_code.co_filename.startswith("<frozen importlib") for f in callers)
        except ValueError:
            return False
        finally:
            self._busy = False

    def _from_learner(self) -> bool:
        """Whether the learner's code is on the stack: it made the call, directly or through a library."""
        self._busy = True
        try:
            frame: Any = sys._getframe(2)  # past this method and the hook
            while frame is not None:
                if is_learner_file(frame.f_code.co_filename):
                    return True
                frame = frame.f_back
            return False
        finally:
            self._busy = False

    def _open(self, args: tuple[Any, ...]) -> None:
        path, mode, flags = args[0], args[1], args[2]
        if path is None:
            return
        if isinstance(path, int):
            if path > 2 and self._direct():
                self._record(self.flags, f"the notebook's code opened file descriptor {path} directly")
            return
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(flags & WRITE_FLAGS)
        if (bool(flags & (O_DIRECTORY | O_PATH)) or os.path.isdir(path)) and self._from_learner():
            # a directory descriptor is how dir_fd= reaches paths this hook would refuse by name
            self._refuse(f"opened the folder {os.fsdecode(path)} as a file descriptor", flag=True)
        if writing:
            self._write(path, "open")
        elif self._is_protected(path):
            self._refuse(f"tried to read {os.fsdecode(path)}", flag=True)

    def _write(self, path: Any, event: str) -> None:
        if isinstance(path, int):
            return
        real = _real(path)
        if real == os.devnull or _inside(real, self.scratch):
            return
        flag = any(_inside(real, p) for p in self.protected + self.denied)
        self._refuse(f"tried to write {os.fsdecode(path)} ({event}), outside its scratch folder", flag=flag)

    def _connect(self, args: tuple[Any, ...]) -> None:
        address = args[1]
        host = address[0] if isinstance(address, tuple) and address else address
        if isinstance(host, str) and (host.startswith("127.") or host in {"::1", "localhost"}):
            return
        if isinstance(host, str | bytes) and args[0].family == socket.AF_UNIX:
            self._refuse(f"tried to connect to the socket {host!r}", flag=True)
        self._refuse(f"tried to connect to {address!r}: grading has no network", flag=False)

    def _is_protected(self, path: Any) -> bool:
        if isinstance(path, int):
            return False
        real = _real(path)
        if any(_inside(real, d) for d in self.denied):
            return True
        if any(_inside(real, a) for a in self.allowed):
            return False
        return any(_inside(real, p) for p in self.protected)

    def _refuse(self, what: str, flag: bool) -> None:
        message = f"the notebook's code {what}"
        if self._from_learner():
            self._record(self.flags if flag else self.notes, message)
        raise PermissionError(f"refused by the grading sandbox: {what}")


def _real(path: Any) -> str:
    return os.path.realpath(os.fsdecode(path))


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _mount(libc: Any, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    if libc.mount(_bytes(source), _bytes(target), _bytes(fstype), flags, _bytes(data)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def _bytes(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def _kept_flags(path: str) -> int:
    """The flags a read-only remount must keep (a user namespace may not drop them)."""
    f_flag = os.statvfs(path).f_flag
    kept = 0
    for st, ms in ((MS_NOSUID, MS_NOSUID), (MS_NODEV, MS_NODEV), (MS_NOEXEC, MS_NOEXEC), (MS_NOATIME, MS_NOATIME)):
        if f_flag & st:
            kept |= ms
    if f_flag & MS_NODIRATIME:
        kept |= MS_NODIRATIME
    if f_flag & ST_RELATIME:
        kept |= MS_RELATIME
    return kept


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING)
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, request)
