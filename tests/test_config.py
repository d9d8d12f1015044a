from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from watcher.config import SECRET_SETTINGS, load_settings
from watcher.errors import ConfigError
from watcher.netguard import ALL_NETWORKS, LOOPBACK_NETWORKS


def test_defaults_and_round_trip_through_env() -> None:
    settings = load_settings({"WATCHER_DATA_DIR": "/tmp/w", "WATCHER_DOWNLOAD_DELAY": "0.5"})
    assert settings.database_url == "sqlite:////tmp/w/watcher.db"
    assert settings.download_delay == 0.5 and settings.obey_robots and not settings.allow_private_addresses
    assert load_settings(settings.as_env()) == settings


def test_crawl_environment_carries_no_secrets() -> None:
    settings = load_settings(
        {
            "WATCHER_DATABASE_URL": "postgresql://u:pw@db/x",
            "WATCHER_SMTP_HOST": "mail",
            "WATCHER_SMTP_USER": "u",
            "WATCHER_SMTP_PASSWORD": "hunter2",
            "WATCHER_API_TOKEN": "t0k",
        }
    )
    env = settings.as_env(include_secrets=False)
    assert not {f"WATCHER_{name.upper()}" for name in SECRET_SETTINGS} & set(env)
    assert "hunter2" not in env.values() and "t0k" not in env.values()
    load_settings(env)  # what the crawl child receives is still a valid configuration


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DOWNLOAD_DELAY", "-1"),
        ("RETRY_TIMES", "two"),
        ("OBEY_ROBOTS", "maybe"),
        ("LOG_LEVEL", "LOUD"),
        ("MAX_BODY_BYTES", "0"),
        ("DATABASE_URL", "oracle://x"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"WATCHER_{name}="):
        load_settings({f"WATCHER_{name}": value})


def test_allowed_networks_round_trip_and_the_legacy_switch() -> None:
    settings = load_settings({"WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8,::1"})
    assert settings.allowed_networks == LOOPBACK_NETWORKS and settings.fetch_networks == LOOPBACK_NETWORKS
    assert settings.as_env()["WATCHER_ALLOWED_NETWORKS"] == "127.0.0.0/8,::1/128"
    assert load_settings(settings.as_env()) == settings
    assert load_settings({}).fetch_networks == ()
    legacy = load_settings({"WATCHER_ALLOW_PRIVATE_ADDRESSES": "1"})
    assert legacy.fetch_networks == ALL_NETWORKS
    assert load_settings(legacy.as_env(include_secrets=False)).fetch_networks == ALL_NETWORKS


@pytest.mark.parametrize("value", ["127.0.0.0/33", "localhost", "169.254.0.0/16"])
def test_bad_allowed_networks_are_one_line(value: str) -> None:
    with pytest.raises(ConfigError, match="WATCHER_ALLOWED_NETWORKS=") as caught:
        load_settings({"WATCHER_ALLOWED_NETWORKS": value})
    assert "\n" not in str(caught.value)


def _data_dir_cases(tmp_path: Path) -> list[tuple[str, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = [
        ("/dev/null", "is not a directory"),
        (str(a_file), "is not a directory"),
        (str(a_file / "below"), "is not a directory"),
        ("/proc/watcher-cannot-be-here", "cannot create"),
    ]
    if os.geteuid() != 0:  # root may write anywhere
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o555)
        cases += [(str(read_only), "is not writable"), (str(read_only / "below"), "is not writable")]
    return cases


def test_a_bad_data_dir_is_one_line_and_exit_status_2(tmp_path: Path) -> None:
    for data_dir, message in _data_dir_cases(tmp_path):
        env = {key: value for key, value in os.environ.items() if not key.startswith("WATCHER_")}
        result = subprocess.run(
            [sys.executable, "-m", "watcher.cli", "sources", "list"],
            capture_output=True,
            text=True,
            env={**env, "WATCHER_DATA_DIR": data_dir},
            timeout=300,
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, (data_dir, result.stderr)
        assert lines[0].startswith("error: ") and message in lines[0] and data_dir.split("/")[1] in lines[0], lines
