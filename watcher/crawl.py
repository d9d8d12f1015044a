"""Run the Scrapy crawl in a child process and yield one ``Capture`` per target as it arrives.

Why a subprocess: Twisted's reactor cannot be restarted in-process, and a scheduler that runs for
months must survive a crawl that crashes, hangs or leaks. The protocol is plain text:

    parent ──stdin──> ``python -m spiders``   one FetchTarget JSON per line, then EOF
    parent <─stdout──                          one Capture JSON per line, flushed as each is made
    parent <─stderr──                          Scrapy's log ("LEVEL logger: message") and heartbeats
    environment                                the Settings as WATCHER_* variables
    ``--lifeline-fd``                          a pipe the parent holds open while the child may live

The child dies with the parent on every path (``watcher.lifeline``): a parent-death signal, and EOF
on the lifeline pipe when the parent ends, even by SIGKILL.

Every target yields exactly one Capture. Targets the child never answered (it crashed, was killed,
or went silent for ``STALL_SECONDS``) yield a Capture with error_kind "crawl_failed".

``crawl`` starts a child per call (``watcher check``). ``Crawler`` keeps one child for batch after
batch (``watcher run``): started with ``--serve``, it crawls each target line as it arrives instead
of reading them all up to EOF, and a batch is over when each of its targets has its capture. A child
that died or stalled is replaced at the next batch, one that is ``CHILD_MAX_AGE_SECONDS`` old too
(robots.txt is read again), and a batch abandoned half-way takes its child along (its captures still
to come would otherwise arrive in the next batch). Rendered targets still get a child per batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Generator, Iterator, Sequence

from watcher.capture import Capture, FetchTarget, one_line
from watcher.config import PREFIX, SECRET_SETTINGS, Settings
from watcher.lifeline import Lifeline

log = logging.getLogger(__name__)

HEARTBEAT_LINE = "watcher-crawl: alive"
HEARTBEAT_SECONDS = 10.0
# Silence (no capture, no log line, no heartbeat) for this long means the child's reactor is wedged.
STALL_SECONDS = 120.0
TERMINATE_GRACE_SECONDS = 5.0
_LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+): (.*)$")
_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}
SERVE_OPTION = "--serve"
CHILD_MAX_AGE_SECONDS = 3600.0
# Capture lines read from the child and not yet taken by the parent: with the pipe's own buffer, what
# the parent holds at most, whatever the number of targets.
BUFFERED_CAPTURES = 16


def crawl_command() -> list[str]:
    """The child's command line (a function so tests can substitute a misbehaving child)."""
    return [sys.executable, "-m", "spiders"]


def crawl(targets: Sequence[FetchTarget], *, settings: Settings) -> Iterator[Capture]:
    """Fetch ``targets`` in a crawl subprocess, yielding each Capture as soon as it is made.

    Closing the iterator early stops the child. No process is started for no targets.
    """
    return _without_pauses(crawl_with_pauses(targets, settings=settings, pause_seconds=None))


def _without_pauses(captures: Generator[Capture | None, None, None]) -> Iterator[Capture]:
    with contextlib.closing(captures):
        for capture in captures:
            if capture is not None:
                yield capture


def crawl_with_pauses(
    targets: Sequence[FetchTarget], *, settings: Settings, pause_seconds: float | None
) -> Generator[Capture | None, None, None]:
    """``crawl``, yielding None besides whenever no capture came for ``pause_seconds`` (a caller that
    holds captures back, to record several in one transaction, commits them then)."""
    if not targets:
        return
    pending = _Pending(targets)
    child = _Child(crawl_command(), env=_child_env(settings))
    try:
        child.send(target.to_json() for target in targets)
        yield from _answers(child, pending, pause_seconds=pause_seconds, until_done=False)
        reason = child.failure_reason()
    finally:
        child.close()
    for target in pending.remaining():
        yield crawl_failed(target, reason)


def _child_env(settings: Settings) -> dict[str, str]:
    inherited = {
        key: value for key, value in os.environ.items() if key.removeprefix(PREFIX).lower() not in SECRET_SETTINGS
    }
    return {**inherited, **settings.as_env(include_secrets=False)}


class Crawler:
    """One crawl child reused batch after batch (see the module's docstring); ``close()`` ends it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = 0  # children started so far
        self._child: _Child | None = None
        self._born = 0.0

    @property
    def pid(self) -> int | None:
        """The running child's process id, if one runs."""
        return self._child.pid if self._child is not None else None

    def crawl(self, targets: Sequence[FetchTarget]) -> Iterator[Capture]:
        """``crawl(targets)`` through the kept child."""
        return _without_pauses(self.crawl_with_pauses(targets, pause_seconds=None))

    def crawl_with_pauses(
        self, targets: Sequence[FetchTarget], *, pause_seconds: float | None
    ) -> Generator[Capture | None, None, None]:
        """``crawl_with_pauses(targets)`` through the kept child."""
        if not targets:
            return
        if any(target.needs_browser for target in targets):  # the browser is set up per child
            yield from crawl_with_pauses(targets, settings=self.settings, pause_seconds=pause_seconds)
            return
        child = self._running_child()
        pending = _Pending(targets)
        reason = ""
        try:
            child.feed(target.to_json() for target in targets)
            yield from _answers(child, pending, pause_seconds=pause_seconds, until_done=True)
            if pending.done():
                return
            reason = child.failure_reason()  # its stdout closed: it died, or was killed as stalled
        finally:
            if not pending.done():
                self.close()
        for target in pending.remaining():
            yield crawl_failed(target, reason)

    def close(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None

    def _running_child(self) -> _Child:
        child = self._child
        if child is not None and (not child.alive() or time.monotonic() - self._born > CHILD_MAX_AGE_SECONDS):
            self.close()
            child = None
        if child is None:
            child = self._child = _Child([*crawl_command(), SERVE_OPTION], env=_child_env(self.settings))
            self._born = time.monotonic()
            self.started += 1
        return child


def _answers(
    child: _Child, pending: _Pending, *, pause_seconds: float | None, until_done: bool
) -> Generator[Capture | None, None, None]:
    """The child's captures of the pending targets (and None for each pause), until its stdout closes
    or, ``until_done``, each target has its capture."""
    for line in child.lines(stall_seconds=STALL_SECONDS, pause_seconds=pause_seconds):
        if line is None:
            yield None
            continue
        capture = _parse_capture(line)
        if capture is not None and pending.take(capture):
            yield capture
            if until_done and pending.done():
                return


def crawl_failed(target: FetchTarget, reason: str) -> Capture:
    return Capture.failed(target, kind="crawl_failed", error=reason)


class _Pending:
    """Targets still waiting for their capture, matched by (source_id, requested URL)."""

    def __init__(self, targets: Sequence[FetchTarget]) -> None:
        self._waiting: dict[tuple[int, str], deque[FetchTarget]] = defaultdict(deque)
        for target in targets:
            self._waiting[(target.source_id, target.url)].append(target)
        self._count = len(targets)  # done() after each capture, without a pass over every key

    def take(self, capture: Capture) -> bool:
        waiting = self._waiting.get((capture.source_id, capture.requested_url))
        if not waiting:
            log.warning(
                "crawl returned an unexpected capture for source %s (%s); ignored",
                capture.source_id,
                capture.requested_url,
            )
            return False
        waiting.popleft()
        self._count -= 1
        return True

    def done(self) -> bool:
        return self._count == 0

    def remaining(self) -> list[FetchTarget]:
        return [target for waiting in self._waiting.values() for target in waiting]


def _parse_capture(line: str) -> Capture | None:
    if not line.strip():
        return None
    try:
        return Capture.from_json(line)
    except (ValueError, TypeError, KeyError) as error:
        log.warning("crawl wrote a line that is not a capture (%s): %.120s", error, line)
        return None


class _Child:
    """The crawl process and the threads that feed its stdin and drain its stdout and stderr."""

    def __init__(self, command: list[str], *, env: dict[str, str]) -> None:
        self._lifeline = Lifeline()
        try:
            self._process = subprocess.Popen(
                command + self._lifeline.child_args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=self._lifeline.pass_fds,
                env=env,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
            )
        except BaseException:
            self._lifeline.cut()
            raise
        self._lifeline.started()
        # Bounded: when the parent records more slowly than the child fetches, the reader thread waits,
        # the pipe fills and the child's writes block (back-pressure), instead of captures piling up here.
        self._lines: queue.Queue[str | None] = queue.Queue(maxsize=BUFFERED_CAPTURES)
        self._last_activity = time.monotonic()
        self._last_error = ""
        self._closing = threading.Event()
        self._writing = threading.Lock()
        self._stalled: float | None = None  # the silence, in seconds, after which it was killed
        self._threads = [  # failure_reason() waits for the stderr reader: [1]
            threading.Thread(target=self._read_stdout, name="crawl-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="crawl-stderr", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.poll() is None

    def send(self, lines: Iterator[str]) -> None:
        """All the targets, then end of input."""
        self._write(lines, end=True)

    def feed(self, lines: Iterator[str]) -> None:
        """More targets for a ``--serve`` child, input left open."""
        self._write(lines, end=False)

    def _write(self, lines: Iterator[str], *, end: bool) -> None:
        # A thread, so that a child which never reads its input cannot block the parent.
        payload = "".join(line + "\n" for line in lines)
        writer = threading.Thread(target=self._write_stdin, args=(payload, end), name="crawl-stdin", daemon=True)
        writer.start()
        self._threads = [thread for thread in self._threads if thread.is_alive()] + [writer]

    def lines(self, *, stall_seconds: float, pause_seconds: float | None = None) -> Iterator[str | None]:
        """Capture lines until the child closes stdout; kills the child if it goes silent. With
        ``pause_seconds``, None after each such wait with no line."""
        wait = min(1.0, stall_seconds) if pause_seconds is None else min(pause_seconds, stall_seconds)
        while True:
            try:
                line = self._lines.get(timeout=wait)
            except queue.Empty:
                if time.monotonic() - self._last_activity > stall_seconds and self._stalled is None:
                    log.error("crawl made no progress for %.0f s; killing it", stall_seconds)
                    self._stalled = stall_seconds
                    self._process.kill()
                if pause_seconds is not None:
                    yield None
                continue
            if line is None:
                return
            yield line

    def failure_reason(self) -> str:
        """Why targets may lack a capture, once stdout is closed."""
        try:
            code = self._process.wait(timeout=TERMINATE_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        # The child has exited: its last error line may still be on its way through the stderr reader,
        # which ends when the pipe does (bounded, should a grandchild keep the pipe open).
        self._threads[1].join(timeout=TERMINATE_GRACE_SECONDS)
        if self._stalled is not None:
            return f"crawl stalled (no progress for {self._stalled:.0f} s) and was killed"
        if code < 0:
            return f"crawl process was killed by signal {-code}" + self._error_suffix()
        if code != 0:
            return f"crawl process exited with status {code}" + self._error_suffix()
        return "crawl finished without a capture for this target" + self._error_suffix()

    def close(self) -> None:
        self._closing.set()  # nobody reads the buffer any more: the reader stops filling it
        process = self._process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=TERMINATE_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._lifeline.cut()
        for thread in self._threads:
            thread.join(timeout=TERMINATE_GRACE_SECONDS)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _error_suffix(self) -> str:
        return f": {self._last_error}" if self._last_error else ""

    def _write_stdin(self, payload: str, end: bool) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            with self._writing:  # a batch's lines are never interleaved with another's
                stdin.write(payload)
                stdin.flush()
                if end:
                    stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass  # the child died before reading its targets; failure_reason() will tell

    def _read_stdout(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            for line in stdout:
                self._last_activity = time.monotonic()
                # Once closing, lines are read and dropped, so that a child blocked on a full pipe can
                # take its SIGTERM and end cleanly.
                if self._put(line):
                    self._last_activity = time.monotonic()  # waiting for the parent is no silence
        except (ValueError, OSError):
            pass
        finally:
            self._put(None)

    def _put(self, line: str | None) -> bool:
        """Hand a line to the parent, waiting while the buffer is full; False once close() gave up on it."""
        while not self._closing.is_set():
            try:
                self._lines.put(line, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read_stderr(self) -> None:
        stderr = self._process.stderr
        assert stderr is not None
        level = logging.WARNING  # lines before the first log record are start-up trouble
        try:
            for raw in stderr:
                self._last_activity = time.monotonic()
                line = raw.rstrip("\n")
                if line == HEARTBEAT_LINE or not line.strip():
                    continue
                match = _LOG_LINE.match(line)
                if match:
                    level = _LEVELS[match.group(1)]
                    line = f"{match.group(2)}: {match.group(3)}"
                if level >= logging.ERROR or (not match and level >= logging.WARNING):
                    self._last_error = one_line(line)
                # The child's chatter is debug detail for the parent; its warnings stay warnings.
                log.log(level if level >= logging.WARNING else logging.DEBUG, "%s", line)
        except (ValueError, OSError):
            pass
