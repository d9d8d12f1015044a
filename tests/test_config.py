from __future__ import annotations

import pytest

from watcher.config import SECRET_SETTINGS, load_settings
from watcher.errors import ConfigError


def test_defaults_and_round_trip_through_env() -> None:
    settings = load_settings({"WATCHER_DATA_DIR": "/tmp/w", "WATCHER_DOWNLOAD_DELAY": "0.5"})
    assert settings.database_url == "sqlite:////tmp/w/watcher.db"
    assert settings.download_delay == 0.5 and settings.obey_robots and not settings.allow_private_addresses
    assert load_settings(settings.as_env()) == settings


def test_crawl_environment_carries_no_secrets() -> None:
    settings = load_settings({"WATCHER_DATABASE_URL": "postgresql://u:pw@db/x", "WATCHER_SMTP_HOST": "mail",
                              "WATCHER_SMTP_USER": "u", "WATCHER_SMTP_PASSWORD": "hunter2", "WATCHER_API_TOKEN": "t0k"})
    env = settings.as_env(include_secrets=False)
    assert not {f"WATCHER_{name.upper()}" for name in SECRET_SETTINGS} & set(env)
    assert "hunter2" not in env.values() and "t0k" not in env.values()
    load_settings(env)  # what the crawl child receives is still a valid configuration


@pytest.mark.parametrize(("name", "value"), [("DOWNLOAD_DELAY", "-1"), ("RETRY_TIMES", "two"),
                                             ("OBEY_ROBOTS", "maybe"), ("LOG_LEVEL", "LOUD"),
                                             ("MAX_BODY_BYTES", "0"), ("DATABASE_URL", "oracle://x")])
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"WATCHER_{name}="):
        load_settings({f"WATCHER_{name}": value})
