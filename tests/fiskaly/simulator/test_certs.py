"""The simulator's switches for the certificate watch: a TSS certificate that expires soon and
a changed BSI certification id, as fiskaly's TSS object shows them (``certificate``,
``bsi_certification_id``)."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
from cryptography import x509

from tests.fiskaly.simulator.conftest import Api
from tsed.fiskaly.simulator import Simulator, SimulatorServer
from tsed.fiskaly.simulator.model import BSI_CERTIFICATION_ID


def _not_after(tss: dict[str, object]) -> float:
    der = base64.b64decode(str(tss["certificate"]))
    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()


async def test_a_tss_certificate_is_valid_a_year_and_can_be_reissued_shorter(
    api: Api, sim: Simulator
) -> None:
    tss_id, client_id = await api.setup_tss()
    tss = await api.ok("GET", f"/tss/{tss_id}")
    assert abs(_not_after(tss) - (time.time() + 365 * 86400)) < 600
    assert tss["bsi_certification_id"] == BSI_CERTIFICATION_ID
    old_key = x509.load_der_x509_certificate(base64.b64decode(tss["certificate"])).public_key()
    sim.reissue_certificate(tss_id, 20)
    tss = await api.ok("GET", f"/tss/{tss_id}")
    assert abs(_not_after(tss) - (time.time() + 20 * 86400)) < 600
    cert = x509.load_der_x509_certificate(base64.b64decode(tss["certificate"]))
    assert cert.public_key() == old_key  # the same key: earlier signatures still verify
    assert tss["serial_number"] in cert.subject.rfc4514_string()
    await api.sale(tss_id, client_id)


async def test_switches_through_the_fault_route(api: Api) -> None:
    tss_id, _ = await api.setup_tss()
    response = await api.http.post(
        "/_sim/faults",
        json={"tss_certificate_days": {tss_id: 45}, "tss_certification_id": {tss_id: "BSI-K-X"}},
    )
    assert response.status_code == 200, response.text
    tss = await api.ok("GET", f"/tss/{tss_id}")
    assert tss["bsi_certification_id"] == "BSI-K-X"
    assert abs(_not_after(tss) - (time.time() + 45 * 86400)) < 600
    for bad in ({"tss_certificate_days": {tss_id: "soon"}},
                {"tss_certificate_days": {"no-such-tss": 3}},
                {"tss_certification_id": {tss_id: ""}},
                {"tss_certificate_days": [tss_id]}):  # fmt: skip
        response = await api.http.post("/_sim/faults", json=bad)
        assert response.status_code == 400, bad
        assert "error" in response.json()
    back = await api.http.post("/_sim/faults", json={"tss_certification_id": {tss_id: None}})
    assert back.status_code == 200
    assert (await api.ok("GET", f"/tss/{tss_id}"))["bsi_certification_id"] == BSI_CERTIFICATION_ID


async def test_the_switches_survive_a_restart_of_a_persistent_simulator(tmp_path: Path) -> None:
    sim = Simulator(state_dir=tmp_path)
    server = SimulatorServer(sim)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
            api = Api(http, sim.add_api_key("TEST"))
            await api.auth()
            tss_id, _ = await api.setup_tss()
        sim.reissue_certificate(tss_id, 7)
        sim.set_certification_id(tss_id, "BSI-K-TR-0001-2027")
        certificate = sim.state.tss[tss_id].certificate
    finally:
        await server.stop()
        sim.close()
    again = Simulator(state_dir=tmp_path)
    try:
        tss = again.state.tss[tss_id]
        assert tss.certificate == certificate
        assert tss.bsi_certification_id == "BSI-K-TR-0001-2027"
    finally:
        again.close()
