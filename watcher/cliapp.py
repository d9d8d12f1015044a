"""What every command module shares: the lazily opened settings and store, JSON output, dates.

Command modules (``watcher/cli.py`` and the ``watcher/commands/`` modules it registers) import from
here, so that adding commands never means editing one ever-growing file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import update_wrapper
from typing import Any, TypeVar

import click

from watcher.config import Settings, load_settings
from watcher.db import Store
from watcher.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])


class AppContext:
    """Lazily loaded settings and store, shared by the subcommands of one invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.settings.database_url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()


def pass_app(function: F) -> F:
    @click.pass_context
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        return ctx.invoke(function, ctx.ensure_object(AppContext), *args, **kwargs)

    return update_wrapper(wrapper, function)  # type: ignore[return-value]


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def parse_date(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"invalid date {text!r}: use YYYY-MM-DD or an ISO 8601 timestamp") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
