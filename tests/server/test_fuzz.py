"""Fuzz the REST API from its own OpenAPI document (schemathesis), against a real
server: no request may cause a server error, every response must match the
document, and schema-invalid requests must be refused. (Schema-valid requests may
still be refused for the log's state — an unknown topic, an offset out of range —
so the check that they are accepted is left out.)"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.servers import LogwayServer

pytestmark = pytest.mark.slow


def test_api_follows_its_document(server: LogwayServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.http}/openapi.json")
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/stream"):
            continue  # a stream never ends by itself: tested in test_http.py

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(
                timeout=30, excluded_checks=[schemathesis.checks.positive_data_acceptance]
            )

        fuzz()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 8, checked
