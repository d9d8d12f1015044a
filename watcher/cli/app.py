"""What every command module of ``watcher.cli`` shares: the lazily opened settings and store, and
JSON output. Commands that never touch the database (``watcher compare``) never load it.
"""

from __future__ import annotations

import json
import textwrap
import unicodedata
from collections.abc import Callable, Iterable
from functools import update_wrapper
from typing import TYPE_CHECKING, Any, TypeVar

import click

from watcher.config import Settings, check_executor, load_settings

if TYPE_CHECKING:
    from watcher.db import Store

F = TypeVar("F", bound=Callable[..., Any])


class AppContext:
    """Lazily loaded settings and store, shared by the subcommands of one invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = check_executor(load_settings())
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            # lazy import: start-up time (the database stack is loaded by the commands that use it)
            from watcher.db import Store

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


def emit_json_list(items: Iterable[Any]) -> None:
    """``emit_json(list(items))``, the same text, written item by item as they come: a long run's
    results are not all held until the end."""
    separator = "[\n"
    for item in items:
        text = json.dumps(item, ensure_ascii=False, indent=2, default=str)
        click.echo(separator + textwrap.indent(text, "  "), nl=False)
        separator = ",\n"
    click.echo("[]" if separator == "[\n" else "\n]")


def display_width(text: str) -> int:
    """Terminal columns a text takes: wide (Japanese) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad_cells(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal columns."""
    return text + " " * (width - display_width(text))


def emit_rows(rows: list[dict[str, Any]], *, as_json: bool, empty: str, show: Callable[[dict[str, Any]], None]) -> None:
    """A listing: the rows as JSON with ``--json``; else ``show`` each row, or the ``empty`` hint on stderr."""
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo(empty, err=True)
    for row in rows:
        show(row)
