"""docker-compose.yml holds together: the services, their health checks and start order, the mail
catcher wiring, and watcher commands and settings that exist. (Docker is not installed where the
tests run, so this stands in for `docker compose config`.)"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import click
import yaml

from watcher.cli import cli
from watcher.config import PREFIX, Settings

REPO = Path(__file__).resolve().parent.parent
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def load() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def test_services_health_and_start_order() -> None:
    services = load()["services"]
    assert {"postgres", "migrate", "scheduler", "worker", "web", "mailpit"} <= set(services)
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["scheduler"]["command"] == ["run"]
    assert services["web"]["command"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    for name in ("scheduler", "worker", "web"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["restart"] == "unless-stopped"
    assert services["scheduler"]["stop_signal"] == "SIGTERM" and services["scheduler"]["init"] is True
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert rule["condition"] in CONDITIONS
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}, which has no healthcheck"
        check = service.get("healthcheck")
        if check is not None:
            assert check["test"][0] in {"CMD", "CMD-SHELL"} and {"interval", "timeout", "retries"} <= set(check)


def test_watcher_services_share_settings_and_reach_mailpit() -> None:
    services = load()["services"]
    known = {PREFIX + f.name.upper() for f in fields(Settings)}
    watcher_services = [name for name, service in services.items() if service.get("build") == "."]
    assert set(watcher_services) >= {"migrate", "scheduler", "worker", "web", "check"}
    for name in watcher_services:
        env = services[name]["environment"]
        assert set(env) <= known, f"{name}: unknown settings {set(env) - known}"
        assert env["WATCHER_DATABASE_URL"].startswith("postgresql://watcher:watcher@postgres:5432/")
        assert (env["WATCHER_SMTP_HOST"], str(env["WATCHER_SMTP_PORT"])) == ("mailpit", "1025")
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["watcher"]' in dockerfile


def test_compose_commands_exist() -> None:
    services = load()["services"]
    for name, service in services.items():
        if service.get("build") != ".":
            continue
        args = list(service["command"])
        if args[0] == "serve" and "serve" not in cli.commands:
            continue  # `watcher serve` is built alongside; its options are checked once it exists
        command: click.Command = cli
        while isinstance(command, click.Group) and args and args[0] in command.commands:
            command = command.commands[args.pop(0)]
        assert not isinstance(command, click.Group), f"{name}: {service['command']} is not a watcher command"
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert {a for a in args if a.startswith("--")} <= options, f"{name}: unknown options in {service['command']}"


def test_worker_service_scales() -> None:
    """`docker compose up --scale worker=3`: nothing in the worker service may be unique to one
    container (a container name, a published host port), and it runs the queue executor's jobs
    that the scheduler queues (both with WATCHER_EXECUTOR=queue on PostgreSQL)."""
    services = load()["services"]
    worker = services["worker"]
    assert worker["command"] == ["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["restart"] == "unless-stopped" and worker["init"] is True
    assert worker["stop_signal"] == "SIGTERM"
    for name in ("scheduler", "worker"):
        env = services[name]["environment"]
        assert env["WATCHER_EXECUTOR"] == "queue" and env["WATCHER_DATABASE_URL"].startswith("postgresql://")
    deploy = worker.get("deploy") or {}
    assert "replicas" not in deploy or int(deploy["replicas"]) >= 1
