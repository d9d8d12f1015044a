"""The API fuzzed against its own OpenAPI schema (schemathesis, in-process ASGI, loopback only) with
every check schemathesis has: never a 5xx, every status, content type, header and body as documented,
invalid input rejected, valid input accepted, security declared exactly where it is enforced (reads
open unless WATCHER_API_READ_TOKEN_REQUIRED=1). A bounded, deterministic number of examples per
operation and generation mode, with the token so that writes get past authentication. On SQLite and
PostgreSQL, with reads open and with reads behind the token.

Valid-by-schema input may still be refused with the documented 400 when it means nothing (an http
URL without a host, the 31st of February, an unknown clinic): ``positive_data_acceptance`` is told so.

(schemathesis' lazy pytest fixtures do not work with this pytest, so the operations' Hypothesis
strategies are driven directly.)"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import schemathesis
from history_factory import build_history
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.python.asgi import get_client
from sqlalchemy import func, select

from watcher.config import Settings
from watcher.db import Store
from watcher.models import Source
from watcher.web.app import create_app

TOKEN = "fuzz-token"
# Valid requests explore deeper; invalid ones mostly meet the schema validation.
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 12}
# Every check on (some are off by default); 400 is a documented answer to meaningless valid input.
CONFIG = {
    # The token goes where the schema declares bearer security, and only there (a session-wide header
    # would hide both a missing declaration and a check of what happens without it).
    "auth": {"openapi": {"HTTPBearer": {"bearer": TOKEN}}},
    "checks": {
        "enabled": True,
        "positive_data_acceptance": {"expected-statuses": ["2XX", "400", "401", "403", "404", "409", "429"]},
    },
}


@pytest.mark.parametrize("reads_need_token", [False, True], ids=["open-reads", "token-reads"])
def test_the_api_behaves_as_its_schema_says(
    store: Store, settings: Settings, reads_need_token: bool, fault_figures: list[dict[str, object]]
) -> None:
    build_history(store, settings)
    # Throttling is tested on its own (test_login_throttle): here, ignored_auth's wrong tokens must not trip it.
    app = create_app(
        replace(
            settings,
            api_token=TOKEN,
            api_read_token_required=reads_need_token,
            login_max_failures=10**6,
            login_max_failures_global=10**6,
        )
    )
    with store.session() as session:
        known_urls = list(session.scalars(select(Source.url)))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=SchemathesisConfig.from_dict(CONFIG))
    document = app.openapi()
    assert ("security" in document["paths"]["/api/sources"]["get"]) is reads_need_token
    assert ("security" in document["paths"]["/feeds/alerts.atom"]["get"]) is reads_need_token
    assert "security" in document["paths"]["/api/sources"]["post"]
    assert "security" not in document["paths"]["/unsubscribe/{token}"]["get"], "the link itself is the key"
    # The JSON API's operations; the other routers (feeds, dashboard, ...) are tested by their owners.
    operations = [op for result in schema.get_all_operations() if (op := result.ok()).path.startswith("/api/")]
    assert len(operations) >= 17
    cases = 0
    try:
        with get_client(app) as client:  # one in-process client for every call
            for operation in operations:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    cases += _fuzz(operation, mode, client)
    finally:
        app.state.store.dispose()
    assert cases >= 10 * len(operations), "too few generated requests to mean anything"
    with store.session() as session:
        added = session.scalar(select(func.count()).select_from(Source).where(Source.url.not_in(known_urls)))
    assert added, "no write got past authentication: the token is not sent where the schema asks for it"
    reads = "reads behind the token" if reads_need_token else "open reads"
    fault_figures.append(
        {
            "scenario": f"API fuzzed against its schema, all checks ({store.engine.dialect.name}, {reads})",
            "faults": f"{cases} generated requests",
            "survived": f"{cases}/{cases}",
            "rows": "-",
            "lost": 0,
            "duplicates": 0,
            "service": "0 failures",
        }
    )


def _fuzz(operation: Any, mode: GenerationMode, client: Any) -> int:
    """Run the bounded examples of one operation and mode; returns how many cases were sent."""
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(session=client)  # the configured checks: all of them

    try:
        run()
    except Unsatisfiable:
        assert mode == GenerationMode.NEGATIVE, f"{operation.method.upper()} {operation.path}: no valid input"
        # No parameter or body that could be made invalid: nothing to fuzz negatively.
    except (Exception, BaseExceptionGroup) as error:  # schemathesis reports failures as a group
        raise AssertionError(f"{operation.method.upper()} {operation.path} ({mode.value}): {error}") from error
    return sent
