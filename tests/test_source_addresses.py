"""Sources naming private, loopback, link-local or reserved addresses are refused when they are added,
through the CLI and the API, with the fetch guard's rules (``watcher.netguard``); the networks named
in WATCHER_ALLOWED_NETWORKS are accepted, link-local and metadata addresses never."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from watcher.config import Settings
from watcher.netguard import ALL_NETWORKS
from watcher.web.app import create_app

TOKEN = "address-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://127.1/",
    "http://2130706433/",
    "http://localhost/",
    "http://[::ffff:127.0.0.1]/",
    "http://10.0.0.1/",
    "http://0x7f000001/",
    "http://[fe80::1]/",
]


@pytest.fixture
def strict(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """After the CLI environment of the tests (which opens loopback): no network allowed."""
    monkeypatch.setenv("WATCHER_ALLOWED_NETWORKS", "")


@pytest.mark.usefixtures("strict")
@pytest.mark.parametrize("url", REFUSED)
def test_cli_refuses_non_public_literal_sources(run_cli, url: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("sources", "add", "https://clinic.example.org/", url)
    assert result.code == 2 and result.err.startswith(f"error: cannot watch {url}") and result.err.count("\n") == 1
    assert run_cli("sources", "list", "--json").json() == [], "all or none: the good URL is not added either"


@pytest.mark.usefixtures("strict")
def test_cli_import_refuses_a_seed_file_with_a_private_source(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seeds = tmp_path / "sources.yaml"
    seeds.write_text("sources:\n  - url: https://clinic.example.org/\n  - url: http://192.168.0.10/admin\n")
    result = run_cli("sources", "import", str(seeds))
    assert result.code == 2 and "192.168.0.10: private address" in result.err
    assert run_cli("sources", "list", "--json").json() == []


def test_cli_accepts_the_allowed_loopback_but_never_metadata(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WATCHER_ALLOWED_NETWORKS", "127.0.0.0/8")
    assert run_cli("sources", "add", "http://127.0.0.1:8000/page").code == 0
    assert run_cli("sources", "add", "http://10.0.0.1/").code == 2
    monkeypatch.setenv("WATCHER_ALLOW_PRIVATE_ADDRESSES", "1")
    assert run_cli("sources", "add", "http://10.0.0.1/").code == 0
    result = run_cli("sources", "add", "http://169.254.169.254/latest/meta-data/")
    assert result.code == 2 and "never fetched" in result.err


@pytest.mark.parametrize("url", REFUSED)
def test_api_refuses_non_public_literal_sources(settings: Settings, url: str) -> None:
    with TestClient(create_app(replace(settings, api_token=TOKEN, allowed_networks=()))) as client:
        response = client.post("/api/sources", json={"url": url}, headers=AUTH)
        assert response.status_code == 400 and response.json()["detail"].startswith(f"cannot watch {url}")
        assert client.get("/api/sources").json()["items"] == []
        assert client.post("/api/sources", json={"url": "https://clinic.example.org/"}, headers=AUTH).status_code == 201


def test_api_never_accepts_metadata_even_with_every_network_allowed(settings: Settings) -> None:
    with TestClient(create_app(replace(settings, api_token=TOKEN, allowed_networks=ALL_NETWORKS))) as client:
        assert client.post("/api/sources", json={"url": "http://10.1.1.1/"}, headers=AUTH).status_code == 201
        for url in ("http://169.254.169.254/latest/", "http://[fd00:ec2::254]/", "http://100.100.100.200/"):
            response = client.post("/api/sources", json={"url": url}, headers=AUTH)
            assert response.status_code == 400 and "never fetched" in response.json()["detail"]
