"""Command modules beyond the core ones in ``watcher/cli.py``.

Each module listed in ``MODULES`` defines ``register(cli: click.Group) -> None`` that adds its
commands; shared helpers (settings, store, ``--json`` output) live in ``watcher.cliapp``.
"""

from __future__ import annotations

from importlib import import_module

import click

MODULES: tuple[str, ...] = ("notify", "service", "history")


def register_all(cli: click.Group) -> None:
    for name in MODULES:
        import_module(f"watcher.commands.{name}").register(cli)
