"""Bad input never causes a 5xx; no secret reaches a log, a response, mDNS TXT or a state file."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.unit import RECEIPT, running_unit

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
receipt_like = st.fixed_dictionaries(
    {},
    optional={
        "receipt_type": st.one_of(st.sampled_from(["RECEIPT", "TRAINING", "X"]), json_values),
        "amounts_per_vat_rate": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "vat_rate": st.one_of(
                            st.sampled_from(["NORMAL", "NULL", "19"]), json_values
                        ),
                        "amount": st.one_of(
                            st.sampled_from(["1.00", "-0.01", "1.123456"]), json_values
                        ),
                    },
                ),
                max_size=3,
            ),
            json_values,
        ),
        "amounts_per_payment_type": json_values,
        "extra": json_values,
    },
)


async def test_fuzzed_bodies_never_cause_a_5xx(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s") as unit:
        register = await unit.pair()
        tx = (await register.call("POST", "/api/v1/transactions")).json()["id"]
        seen: list[int] = []

        @settings(
            max_examples=120,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(
            body=st.one_of(receipt_like, json_values),
            target=st.sampled_from(
                [
                    ("POST", "/api/v1/receipts"),
                    ("PUT", f"/api/v1/transactions/{tx}"),
                    ("POST", f"/api/v1/transactions/{tx}/cancel"),
                    ("POST", "/api/v1/pairings"),
                    ("POST", "/api/v1/transactions"),
                ]
            ),
        )
        def check(body, target) -> None:
            seen.append(0)
            bodies.append((target, body))

        bodies: list = []
        check()
        for (method, path), body in bodies:
            response = await register.http.request(
                method,
                path,
                content=json.dumps(body).encode(),
                headers={**register.auth, "Content-Type": "application/json"},
            )
            assert response.status_code < 500, (method, path, body, response.text)
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["message"] and error["hint"] and error["code"]
        assert len(seen) >= 50


SECRET_NAMES = ("api_secret", "sim_secret", ".pin", ".puk", "password", "mgmt")


async def test_no_secret_leaks_anywhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "s"
    async with running_unit(
        state, config="extended_logging = true\nregister_deadline = 1.0\n"
    ) as unit:
        _code, out = await unit.tsectl("--json", "pair")
        pairing_code = json.loads(out)["code"]
        register = await unit.pair()
        token = register.token
        answers = [await register.receipt()]
        unit.daemon.sim.faults.update({"error_rate": 1.0, "error_status": 401})
        answers.append(await register.receipt())  # error paths with extended logging on
        unit.daemon.sim.faults.reset()
        bad = await register.http.post(
            "/api/v1/receipts", json=RECEIPT, headers={"Authorization": f"Bearer {token}x"}
        )
        responses = [json.dumps(a) for a in answers] + [bad.text]
        _code, status = await unit.tsectl("--json", "status")
        _code, config = await unit.tsectl("--json", "config", "show")
        responses += [status, config]
        vault = unit.daemon.vault
        secrets = [
            vault.get(name) for name in vault.names() if any(part in name for part in SECRET_NAMES)
        ]
        secrets = [s for s in secrets if s]
        secrets += [token, pairing_code, pairing_code.replace("-", "")]
        from tsed.net.mdns import build_txt

        txt = json.dumps(
            build_txt(
                short_id=unit.daemon.identity.short_id,
                mode="TEST",
                pairing=True,
                fingerprint=unit.daemon.identity.fingerprint_sha256,
            )
        )
    assert len(secrets) >= 5
    logs = "\n".join(
        record.getMessage()
        + " "
        + " ".join(str(v) for k, v in record.__dict__.items() if k.startswith("TSED_"))
        for record in caplog.records
    )
    files = []
    for path in state.rglob("*"):
        # The vault holds the secrets; simulator/ is the simulated fiskaly's own database.
        if path.is_file() and path.name != "vault.json" and "simulator" not in path.parts:
            files.append(path.read_bytes().decode("latin-1"))
    haystacks = {
        "logs": logs,
        "responses": "\n".join(responses),
        "state files": "\n".join(files),
        "mdns": txt,
    }
    for secret in secrets:
        for where, text in haystacks.items():
            assert secret not in text, f"a secret reached the {where}"
    assert re.search(r"tse_failure|fiskaly", logs)  # the logs did cover the error path
