"""Schemathesis against the served /openapi.json (bounded examples), on a server of its own.

The generated requests may revoke tokens and devices, so this does not share the session
server. Checks: no 5xx, status codes and content types as documented.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    status_code_conformance,
)
from schemathesis.core.result import Err, Ok

from tests.verifier.helpers import VerifierServer, release

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("verifier-schemathesis")]


@pytest.fixture(scope="module")
def st_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VerifierServer]:
    server = VerifierServer(Path(tmp_path_factory.mktemp("verifier-st")), release().key).start()
    try:
        yield server
    finally:
        server.stop()


def test_api_conforms_to_openapi(st_server: VerifierServer) -> None:
    # schemathesis' own pytest plugin does not run under pytest 9 ("no attribute _nodeid"),
    # so each operation's strategy is driven with hypothesis directly.
    # Binary bodies (evidence, signed manifests): any bytes, including junk.
    schemathesis.openapi.media_type(
        "application/eat+cwt", st.binary(max_size=1024), aliases=["application/cose"]
    )
    api = schemathesis.openapi.from_url(f"{st_server.base}/openapi.json")
    headers = {"Authorization": f"Bearer {st_server.admin}"}
    results = list(api.get_all_operations())
    assert not [r.err() for r in results if isinstance(r, Err)]  # the spec itself is valid
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 18
    calls: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def run(case: Any) -> None:
            # A generated DELETE /v1/tokens/1 may revoke the admin token: 401 is documented.
            response = case.call_and_validate(
                base_url=st_server.base,
                headers=headers,
                checks=[not_a_server_error, status_code_conformance, content_type_conformance],
            )
            calls.append(response.status_code)

        run()
    assert len(calls) >= 10 * len(operations)
