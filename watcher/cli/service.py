"""``watcher run``: the scheduler service (see watcher.scheduler); ``watcher worker``: a worker of the
queue executor (see watcher.queue)."""

from __future__ import annotations

import logging

import click

from watcher.cli.app import AppContext, pass_app
from watcher.errors import ConfigError


@click.command("run")
@click.option(
    "--tick",
    type=click.FloatRange(0.1, 86400),
    default=None,
    help="Seconds between looks for due sources (default: WATCHER_SCHEDULER_TICK, 60).",
)
@click.option("--once", is_flag=True, help="Check what is due and send due notifications once, then exit.")
@pass_app
def run_cmd(app: AppContext, tick: float | None, once: bool) -> int:
    """Run the scheduler: check each source at its own interval until SIGTERM or SIGINT."""
    # lazy import: start-up time
    from watcher.scheduler import Service

    level = getattr(logging, app.settings.log_level)
    if level > logging.DEBUG:
        # One line per run: the per-check lines and APScheduler's job chatter are debug detail here.
        for name in ("watcher.pipeline.run", "watcher.pipeline.record"):
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("procrastinate").setLevel(logging.WARNING)  # one line per job from watcher.queue
        logging.getLogger("watcher.scheduler.apscheduler").setLevel(logging.WARNING)
    dispatcher = None
    if app.settings.executor == "queue":
        # lazy import: start-up time
        from watcher.queue import QueueDispatcher

        dispatcher = QueueDispatcher(app.store, app.settings)
    service = Service(app.store, app.settings, tick=tick, dispatcher=dispatcher)
    return service.once() if once else service.serve()


@click.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=None,
    help="Jobs (host batches) at once, each with its crawl subprocess (default: WATCHER_WORKER_CONCURRENCY, 1).",
)
@pass_app
def worker_cmd(app: AppContext, concurrency: int | None) -> int:
    """Run the queue's jobs (WATCHER_EXECUTOR=queue) until SIGTERM or SIGINT; start any number, anywhere."""
    if app.settings.executor != "queue":
        raise ConfigError(
            "watcher worker needs WATCHER_EXECUTOR=queue (and PostgreSQL); the local executor has no workers"
        )
    # lazy import: start-up time
    from watcher.queue import run_worker

    if getattr(logging, app.settings.log_level) > logging.DEBUG:
        for name in ("watcher.pipeline.run", "watcher.pipeline.record", "procrastinate"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return run_worker(app.store, app.settings, concurrency=concurrency or app.settings.worker_concurrency)


def register(cli: click.Group) -> None:
    cli.add_command(run_cmd)
    cli.add_command(worker_cmd)
