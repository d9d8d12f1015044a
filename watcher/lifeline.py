"""The crawl child dies with its parent, however the parent ends.

A crawl child that outlives its parent keeps fetching its whole batch for nobody: the results are
discarded, the pages are fetched again when the service restarts (double load on the clinic's
server) and two crawlers run on one host. So the child is tied to its parent twice:

1. **Parent-death signal** (Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``): the kernel kills the child
   the moment the thread that started it ends — which, for watcher, is the parent process ending,
   since the thread that starts a crawl is the one that reads its captures until it is over.
2. **Lifeline pipe** (any POSIX system, and the answer to the signal's start-up race): the parent
   keeps the write end of a pipe whose read end the child inherits, and never writes to it. When the
   parent ends — SIGKILL included — the kernel closes the write end, the child's read returns EOF and
   the child kills itself. If the parent was already gone before the child armed itself, the read
   returns EOF at once.

Parent side: ``Lifeline`` (``pass_fds`` and an argument for the child's command line).
Child side: ``die_with_parent(fd)``, first thing at start-up (``python -m spiders``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading

LIFELINE_OPTION = "--lifeline-fd"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Lifeline:
    """A pipe whose write end the parent holds for as long as the child may live."""

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()  # both non-inheritable: only pass_fds hands one on

    @property
    def child_args(self) -> list[str]:
        return [f"{LIFELINE_OPTION}={self.read_fd}"]

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self.read_fd,)

    def started(self) -> None:
        """The child has its copy of the read end: the parent's is not needed any more."""
        self._close_read()

    def cut(self) -> None:
        """Close the write end: a child still running sees EOF and ends itself."""
        self._close_read()
        if self._write_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._write_fd)
            self._write_fd = -1

    def _close_read(self) -> None:
        if self.read_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.read_fd)
            self.read_fd = -1


def lifeline_fd(argv: list[str]) -> int | None:
    """The lifeline descriptor named on the child's command line, if any."""
    for arg in argv:
        name, _, value = arg.partition("=")
        if name == LIFELINE_OPTION and value.isdigit():
            return int(value)
    return None


def die_with_parent(fd: int | None) -> None:
    """Arm both ties to the parent (the signal where the system has it; the pipe when given)."""
    set_parent_death_signal(signal.SIGKILL)
    if fd is not None:
        threading.Thread(target=_watch, args=(fd,), name="lifeline", daemon=True).start()


def set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent ends; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    return bool(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0)


def _watch(fd: int) -> None:
    try:
        while os.read(fd, 1):
            pass  # the parent never writes; any byte is ignored
    except OSError:
        pass  # a closed or invalid descriptor means the same thing: no parent to report to
    with contextlib.suppress(OSError, ValueError):
        print("watcher-crawl: the parent process is gone; stopping", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
