"""The API fuzzed against its own OpenAPI schema (schemathesis, in-process ASGI, loopback only):
whatever the parameters and bodies, valid or not, never a 5xx. A bounded, deterministic number of
examples per operation and generation mode, with the write token so that writes get past
authentication. On SQLite and PostgreSQL.

(schemathesis' lazy pytest fixtures do not work with this pytest, so the operations' Hypothesis
strategies are driven directly.)"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import schemathesis
from history_factory import build_history
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import get_client

from watcher.config import Settings
from watcher.db import Store
from watcher.web.app import create_app

TOKEN = "fuzz-token"
# Valid requests explore deeper; invalid ones mostly meet the schema validation.
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 12}


def test_no_server_errors(store: Store, settings: Settings) -> None:
    build_history(store, settings)
    app = create_app(replace(settings, api_token=TOKEN))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # The JSON API's operations; the other routers (feeds, dashboard, ...) are tested by their owners.
    operations = [op for result in schema.get_all_operations() if (op := result.ok()).path.startswith("/api/")]
    assert len(operations) >= 17
    try:
        with get_client(app) as client:  # one in-process client for every call
            client.headers["Authorization"] = f"Bearer {TOKEN}"
            for operation in operations:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    _fuzz(operation, mode, client)
    finally:
        app.state.store.dispose()


def _fuzz(operation: Any, mode: GenerationMode, client: Any) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(max_examples=EXAMPLES[mode], derandomize=True, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(session=client, checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:
        assert mode == GenerationMode.NEGATIVE, f"{operation.method.upper()} {operation.path}: no valid input"
        # No parameter or body that could be made invalid: nothing to fuzz negatively.
    except Exception as error:
        raise AssertionError(f"{operation.method.upper()} {operation.path} ({mode.value}): {error}") from error
