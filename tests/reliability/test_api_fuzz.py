"""API fuzzing with schemathesis against the daemon's own /openapi.json (the in-process ASGI app
over simulated readers, driven through its TestClient): no 5xx, every response documented and
matching its schema."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cardservice.transport.readers import reader_id
from tests.api.conftest import BASE_URL, READER_A, SERIAL_A

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


EXAMPLES = 30
REAL_PATH_VALUES = {"rid": reader_id(READER_A), "serial": SERIAL_A}


def _aim_at_real_targets(case) -> None:
    for name in case.path_parameters or {}:
        if name in REAL_PATH_VALUES:
            case.path_parameters[name] = REAL_PATH_VALUES[name]


def _operations(daemon) -> list:
    openapi = daemon.client.get("/openapi.json").json()
    return [result.ok() for result in schemathesis.openapi.from_dict(openapi).get_all_operations()]


def _fuzz(operation, daemon, statuses: dict[str, set[int]]) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    headers = daemon.auth("admin")

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), real=st.booleans())
    def run(case, real: bool) -> None:
        if real:  # half the cases reach a real reader / a registered card
            _aim_at_real_targets(case)
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=headers)
        response = daemon.client.request(**kwargs)
        statuses.setdefault(label, set()).add(response.status_code)
        assert response.status_code < 500, (label, response.status_code, response.text)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:
        raise AssertionError(f"{label}: {exc}") from exc


def test_api_conforms_to_its_openapi(daemon, capsys):
    """Each operation of the daemon's own schema, with generated (valid and invalid) input."""
    statuses: dict[str, set[int]] = {}
    failures: list[str] = []
    for operation in _operations(daemon):
        try:
            _fuzz(operation, daemon, statuses)
        except AssertionError as exc:
            failures.append(str(exc))
    with capsys.disabled():
        print(f"\nAPI fuzz: {len(statuses)} operations; statuses seen: "
              + "; ".join(f"{k} {sorted(v)}" for k, v in sorted(statuses.items())))
    assert not failures, "\n\n".join(failures)
    assert len(statuses) >= 10
