"""README documents every command and every setting."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import click

from watcher.cli import cli
from watcher.config import PREFIX, Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def command_paths(group: click.Group, prefix: str = "watcher") -> list[str]:
    paths = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, path))
        else:
            paths.append(path)
    return paths


def test_every_command_is_documented() -> None:
    missing = [path for path in command_paths(cli) if f"`{path}" not in README]
    assert not missing, f"README does not document: {missing}"


def test_every_option_is_documented() -> None:
    def walk(group: click.Group, prefix: str) -> list[str]:
        out = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                out.extend(walk(command, f"{prefix} {name}"))
                continue
            out.extend(
                f"{prefix} {name} {opt}"
                for param in command.params
                if isinstance(param, click.Option)
                for opt in param.opts
                if opt.startswith("--") and opt not in README
            )
        return out

    assert not walk(cli, "watcher"), "README does not mention these options"


def test_every_setting_is_documented() -> None:
    missing = [PREFIX + f.name.upper() for f in fields(Settings) if f"`{PREFIX}{f.name.upper()}`" not in README]
    assert not missing, f"README does not document: {missing}"
