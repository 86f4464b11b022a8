"""The register API against its own OpenAPI document, fuzzed by schemathesis.

A real unit process (built-in simulator) on loopback TLS, a register paired through the admin
socket; schemathesis generates requests (valid and invalid) for every operation of the
document the unit serves, sends them with the register's bearer token and checks every
answer: never a 5xx, only documented status codes and content types, bodies that match the
response schemas, and error codes from the table of docs/register-api.md. The examples per
operation are bounded so the whole module stays short.
"""

from __future__ import annotations

import itertools
import json
import ssl
import subprocess
import sys
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

from tests.support.register_errors import documented_register_errors
from tests.support.unit import free_port, serve_argv
from tsed.net.openapi import openapi_document

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 15
STATUSES: Counter[int] = Counter()
SCHEMA = schemathesis.openapi.from_dict(openapi_document())
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class LiveUnit:
    base_url: str
    token: str
    cafile: str
    state: Path


@pytest.fixture(scope="module")
def live_unit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveUnit]:
    state = tmp_path_factory.mktemp("fuzz") / "unit"
    state.mkdir(mode=0o700)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, *serve_argv(state, port)],
        env={"PATH": "/usr/bin:/bin", "TSED_MDNS": "off"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (state / "admin.sock").exists():  # bound after the TLS listener
            assert proc.poll() is None, "the unit exited"
            assert time.monotonic() < deadline, "the unit did not come up"
            time.sleep(0.05)
        transport = httpx.HTTPTransport(uds=str(state / "admin.sock"))
        with httpx.Client(transport=transport, base_url="http://tsed") as admin:
            opened = admin.post("/admin/v1/pairing", json={})
        assert opened.status_code == 201, opened.text
        cafile = str(state / "device.crt")
        base_url = f"https://127.0.0.1:{port}"
        context = ssl.create_default_context(cafile=cafile)
        with httpx.Client(base_url=base_url, verify=context) as http:
            paired = http.post(
                "/api/v1/pairings",
                json={"code": opened.json()["code"], "register_serial": "ERS fuzz"},
            )
            assert paired.status_code == 201, paired.text
            served = http.get("/api/v1/openapi.json").json()
        assert served == json.loads(json.dumps(openapi_document())), "served document differs"
        yield LiveUnit(base_url, paired.json()["token"], cafile, state)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class _FromAddress(requests.adapters.HTTPAdapter):
    """Connect from a given loopback address."""

    def __init__(self, source: str) -> None:
        self._source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._source, 0)
        super().init_poolmanager(*args, **kwargs)


_SOURCES = itertools.cycle(f"127.0.{a}.{b}" for a in range(1, 250) for b in range(1, 250))


def _call(case: schemathesis.Case, unit: LiveUnit) -> None:
    # Every case from its own loopback address: the cases without a token (schemathesis
    # tries them) would otherwise lock the one source out and leave later cases untested.
    with requests.Session() as session:
        session.mount("https://", _FromAddress(next(_SOURCES)))
        headers = {"Authorization": f"Bearer {unit.token}"}
        response = case.call(
            base_url=unit.base_url, session=session, headers=headers, verify=unit.cafile,
            timeout=20,
        )  # fmt: skip
        STATUSES[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            code = response.json()["error"]["code"]
            assert code in documented_register_errors(), f"{code} is not in the docs' table"


@SCHEMA.exclude(path="/api/v1/pairings").parametrize()
@FUZZ
def test_register_api_conforms_to_its_openapi_document(
    case: schemathesis.Case, live_unit: LiveUnit
) -> None:
    _call(case, live_unit)


# Last in the module: failed pairing codes lock the source out for a while (429, documented).
@SCHEMA.include(path="/api/v1/pairings").parametrize()
@FUZZ
def test_pairing_conforms_to_its_openapi_document(
    case: schemathesis.Case, live_unit: LiveUnit
) -> None:
    _call(case, live_unit)


def test_the_fuzzing_reached_the_signing_paths(live_unit: LiveUnit) -> None:
    """Guard against a fuzz run that only ever saw errors (a lockout, a broken token)."""
    assert STATUSES[200] >= 5 and STATUSES[201] >= 1, STATUSES
