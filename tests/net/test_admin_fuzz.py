"""The admin API against its own OpenAPI document: every route documented, and schemathesis
fuzzing it through the setup page (a real unit process, a logged-in session with its CSRF
token): never a 5xx, only documented statuses and content types, bodies matching the schemas.

Left out of the fuzzing, tested on their own (``test_web.py``): setting the password and the
factory reset (both end the session the fuzzer uses). fiskaly is a dead loopback port here,
so nothing leaves the machine.
"""

from __future__ import annotations

import ssl
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.unit import free_port, start_unit_process
from tsed.net.admin import build_admin_app
from tsed.net.admin_openapi import admin_openapi_document

UPSTREAM_DOWN = {"FISKALY_UNAVAILABLE", "FISKALY_TIMEOUT"}


def no_internal_error(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """Like not_a_server_error, but fiskaly being unreachable (here: a closed port) is a
    documented 503 with a hint, not a fault of the unit. Any other 5xx still fails."""
    if response.status_code >= 500:
        code = (response.json() or {}).get("error", {}).get("code")
        if code in UPSTREAM_DOWN:
            return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_internal_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SCHEMA = schemathesis.openapi.from_dict(admin_openapi_document())
STATUSES: Counter[int] = Counter()
FUZZ = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
PASSWORD = "Fuzz-Passwort-123"


def test_every_admin_route_is_documented_and_nothing_else() -> None:
    app = build_admin_app(object())  # type: ignore[arg-type]
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.method != "HEAD"
    }
    documented = {
        (method, path)
        for path, item in admin_openapi_document()["paths"].items()
        for method in item
    }
    assert routes == documented


@dataclass(frozen=True)
class Session:
    base_url: str
    cafile: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    state = tmp_path_factory.mktemp("admin-fuzz") / "unit"
    state.mkdir(mode=0o700)
    port = free_port()
    proc = start_unit_process(state, port, 9)  # fiskaly: a closed loopback port
    try:
        deadline = time.monotonic() + 30
        while not (state / "admin.sock").exists():
            assert proc.poll() is None and time.monotonic() < deadline, "unit did not start"
            time.sleep(0.05)
        transport = httpx.HTTPTransport(uds=str(state / "admin.sock"))
        with httpx.Client(transport=transport, base_url="http://tsed") as admin:
            assert admin.put("/admin/v1/password", json={"password": PASSWORD}).is_success
        cafile = str(state / "device.crt")
        base_url = f"https://127.0.0.1:{port}"
        with httpx.Client(
            base_url=base_url, verify=ssl.create_default_context(cafile=cafile)
        ) as web:
            login = web.post("/setup/login", json={"password": PASSWORD})
            assert login.status_code == 200, login.text
            cookie = login.cookies["tsed_session"]
        headers = {"Cookie": f"tsed_session={cookie}", "X-CSRF-Token": login.json()["csrf"]}
        yield Session(f"{base_url}/setup/api", cafile, headers)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@(
    SCHEMA.exclude(path="/admin/v1/password", method="PUT")
    .exclude(path="/admin/v1/factory-reset")
    .exclude(path="/admin/v1/setup-code")  # served on the admin socket only, never the page
    .parametrize()
)
@FUZZ
def test_admin_api_conforms_to_its_openapi_document(
    case: schemathesis.Case, session: Session
) -> None:
    with requests.Session() as http:
        response = case.call(
            base_url=session.base_url, session=http, headers=session.headers,
            verify=session.cafile, timeout=30,
        )  # fmt: skip
    STATUSES[response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


def test_the_fuzzing_reached_the_operations(session: Session) -> None:
    """Guard against a run that only saw 401s (a lost session) or nothing at all."""
    assert STATUSES[200] >= 10 and STATUSES[401] == 0, STATUSES


def test_the_state_survived_the_fuzzing(session: Session, tmp_path: Path) -> None:
    with requests.Session() as http:
        status = http.get(
            f"{session.base_url}/admin/v1/status", headers=session.headers, verify=session.cafile
        )
    assert status.status_code == 200 and status.json()["mode"] == "TEST"
