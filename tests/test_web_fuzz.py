"""API fuzzing with schemathesis over the OpenAPI document (authenticated with a bearer token).

Every operation gets positive (schema-valid) and negative (schema-violating) cases; ≥ 1,000
requests in total, derandomized; no answer may be a 5xx. (Negative cases include requests whose
security is deliberately broken, hence a share of 401 answers.)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from web_support import api_token, fresh_postgres_database, make_app, make_app_on, sample_patient

EXAMPLES_PER_MODE = 60
EXAMPLES_PER_MODE_POSTGRES = 15
MIN_REQUESTS = 1000


def fuzz(app: FastAPI, examples_per_mode: int) -> tuple[list[tuple[str, int]], list[str]]:
    """Run positive and negative cases of every operation; (label, status) sent, 5xx found."""
    with TestClient(app) as client:
        headers = api_token(client, "adam")
        # a few stored patients so that ids 1..3 exist for GET/PUT/DELETE
        for n in range(3):
            client.post(
                "/api/v1/patients?centre=leiden", json=sample_patient(id=f"F-{n}"),
                headers=headers,
            )

    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    sent: list[tuple[str, int]] = []
    server_errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    # Logging out everywhere revokes the fuzzing token: that operation goes last.
    operations.sort(key=lambda operation: operation.path.endswith("/logout-everywhere"))
    assert len(operations) >= 9

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples_per_mode,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                response = case.call(headers=headers)
                sent.append((case.operation.label, response.status_code))
                if response.status_code >= 500:
                    server_errors.append(
                        f"{case.operation.label} → {response.status_code}: "
                        f"{case.as_curl_command()}"
                    )

            run()
    counts = sorted(Counter(status for _, status in sent).items())
    print(f"schemathesis: {len(sent)} requests; status counts {counts}")
    return sent, server_errors


@pytest.mark.slow
def test_fuzz_api_no_server_errors(tmp_path: Path) -> None:
    sent, server_errors = fuzz(make_app(tmp_path), EXAMPLES_PER_MODE)
    assert len(sent) >= MIN_REQUESTS, len(sent)
    assert server_errors == []


@pytest.mark.slow
@pytest.mark.postgres
def test_fuzz_api_on_postgres_no_server_errors(postgres_url: str) -> None:
    """PostgreSQL refuses what SQLite stores (NUL characters, VARCHAR overflow): still no 5xx."""
    url, drop = fresh_postgres_database(postgres_url)
    try:
        app = make_app_on(url)
        sent, server_errors = fuzz(app, EXAMPLES_PER_MODE_POSTGRES)
        app.state.engine.dispose()
    finally:
        drop()
    assert len(sent) >= 300
    assert server_errors == []
