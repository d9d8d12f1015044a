"""The crawl child dies with its parent: a real `watcher check` killed with SIGKILL during a real crawl
of a real local HTTP server takes its crawl along, and each of the two ties (the parent-death signal,
the lifeline pipe) holds on its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from waiting import children, is_running, spawn, wait_for

from watcher.db import Store
from watcher.demo.site import VersionedSite
from watcher.lifeline import LIFELINE_OPTION
from watcher.sources import SourceSpec, add_sources

REPO = Path(__file__).resolve().parent.parent
PAGES = 40
PAGE = "<html><head><title>page {n}</title></head><body><main><h1>Page {n}</h1><p>{text}</p></main></body></html>"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


@pytest.fixture
def slow_site(tmp_path: Path) -> Iterator[VersionedSite]:
    """A site of PAGES pages; with a download delay the crawl of all of them takes tens of seconds."""
    root = tmp_path / "site"
    root.mkdir()
    for n in range(PAGES):
        (root / f"p{n}.html").write_text(PAGE.format(n=n, text=f"Text of page number {n}. " * 20), encoding="utf-8")
    with VersionedSite(root=root) as site:
        yield site


def _page_hits(site: VersionedSite) -> int:
    return sum(count for path, count in site.hits.items() if path.startswith("/p"))


def _crawl_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WATCHER_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "WATCHER_DATA_DIR": str(tmp_path),
        "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WATCHER_DOWNLOAD_DELAY": "0.5",
        "WATCHER_AUTOTHROTTLE": "0",
        "WATCHER_RETRY_TIMES": "0",
        "WATCHER_LOG_LEVEL": "INFO",
    }


def test_sigkill_of_watcher_check_takes_the_crawl_child_along(slow_site: VersionedSite, tmp_path: Path) -> None:
    env = _crawl_env(tmp_path)
    store = Store(env["WATCHER_DATABASE_URL"])
    with store.session() as session:
        add_sources(session, [SourceSpec(url=slow_site.url(f"/p{n}.html")) for n in range(PAGES)])
    store.dispose()
    log = tmp_path / "check.log"
    check = spawn(["-m", "watcher.cli", "check"], env=env, log=log, cwd=REPO)
    try:
        wait_for(lambda: _page_hits(slow_site) >= 3, what="the crawl to fetch its first pages", details=log.read_text)
        crawls = children(check.pid)
        assert len(crawls) == 1, f"expected one crawl child of watcher check, found {crawls}"
        crawl_pid = crawls[0]
        os.kill(check.pid, signal.SIGKILL)  # the parent only: its crawl child is not signalled
        at_kill = _page_hits(slow_site)
        assert check.wait(timeout=60) == -signal.SIGKILL
        wait_for(
            lambda: not is_running(crawl_pid),
            timeout=60,
            what=f"the orphaned crawl child {crawl_pid} to end",
            details=log.read_text,
        )
        assert slow_site.wait_idle(timeout=60), "a request was still being served long after the kill"
        fetched = _page_hits(slow_site)
        # One request may have been on its way when the parent died; the batch's other pages never come.
        assert fetched - at_kill <= 1, f"the crawl fetched {fetched - at_kill} pages after its parent was killed"
        assert fetched < PAGES
    finally:
        if check.poll() is None:
            os.killpg(check.pid, signal.SIGKILL)
            check.wait()
        for pid in children(check.pid):
            os.kill(pid, signal.SIGKILL)


# -- each tie on its own, with `python -m spiders` blocked reading an stdin that never ends ------------

READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}.get(os.uname().machine)


def _reading_stdin(pid: int) -> bool:
    """The process's main thread is blocked in read(0, ...): its start-up, the ties included, is done."""
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    return fields[:2] == [READ_SYSCALL, "0x0"]


def test_lifeline_eof_ends_the_child_while_the_parent_lives(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-m", "spiders", f"{LIFELINE_OPTION}={read_fd}"],
        cwd=REPO,
        pass_fds=(read_fd,),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "WATCHER_DATA_DIR": str(tmp_path)},
    )
    os.close(read_fd)
    try:
        # Its stdin stays open: without the lifeline the child would wait for its targets for ever.
        os.close(write_fd)
        assert child.wait(timeout=120) == -signal.SIGKILL
        assert child.stderr is not None and b"parent process is gone" in child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdin, child.stderr):
            if stream is not None:
                stream.close()


# The parent hands the child an stdin whose write end the test holds, and no lifeline: when the
# parent dies, only the parent-death signal can end the child.
PARENT = """
import os, subprocess, sys
stdin = int(sys.argv[1])
child = subprocess.Popen([sys.executable, "-m", "spiders"], stdin=stdin, stdout=subprocess.DEVNULL)
print(child.pid, flush=True)
child.wait()
"""


@pytest.mark.skipif(READ_SYSCALL is None, reason="system call numbers known for x86_64 and aarch64 only")
def test_parent_death_signal_ends_the_child_without_a_lifeline(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(read_fd)],
        cwd=REPO,
        pass_fds=(read_fd,),
        stdout=subprocess.PIPE,
        env={**os.environ, "WATCHER_DATA_DIR": str(tmp_path)},
        start_new_session=True,
    )
    os.close(read_fd)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    try:
        wait_for(lambda: _reading_stdin(child_pid), what="the child to finish its start-up")
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=60)
        wait_for(lambda: not is_running(child_pid), timeout=60, what="the child to die with its parent")
    finally:
        os.close(write_fd)
        parent.stdout.close()
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait()
        if is_running(child_pid):
            os.kill(child_pid, signal.SIGKILL)
