"""Waiting on readiness in tests: poll a condition with a generous bound, never sleep a fixed time.

The bounds are generous on purpose (the machine running the suite may be loaded): they only decide
how long a broken test takes to fail, never whether a working one passes. A timeout fails with a
message that says what was awaited, plus whatever ``details()`` adds (a log, the last value seen).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Start-up of a subprocess that imports the app or Scrapy; a whole crawl of a few local pages.
STARTUP_SECONDS = 120.0
POLL_SECONDS = 0.05


def wait_for(
    condition: Callable[[], object],
    *,
    what: str,
    timeout: float = STARTUP_SECONDS,
    details: Callable[[], str] | None = None,
) -> None:
    """Return as soon as ``condition()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            extra = details() if details is not None else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}" + (f"\n{extra}" if extra else ""))
        time.sleep(POLL_SECONDS)


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def is_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an exited process nobody has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def spawn(args: list[str], *, env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """``python ARGS`` in its own session (so a kill of its group takes its crawl along, as a container
    stop does), stdout discarded, stderr appended to ``log``."""
    with log.open("ab") as stream:
        return subprocess.Popen(
            [sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stream, start_new_session=True
        )
