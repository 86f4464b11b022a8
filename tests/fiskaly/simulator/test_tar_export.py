"""What the simulator writes into a TAR export, read back with the asn1crypto structures.

Facts carried from BSI TR-03151 / TR-03153-1 and from real fiskaly and D-Trust exports:
certifiedDataType OIDs, system log operation types with their Appendix A data, file names,
info.csv layout, certificate names (SHA-256 of the public key) and the chain to a CA.
"""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.fiskaly.simulator.conftest import PIN, Api
from tests.fiskaly.test_tr03151_asn1 import START as REAL_START
from tests.support.tar import members, rich_export
from tsed.fiskaly.simulator.engine import SimState
from tsed.fiskaly.tarverify import verify_tar
from tsed.fiskaly.tr03151 import verify_log, verify_qr_code
from tsed.fiskaly.tr03151_asn1 import (
    AuditLogMessage,
    SystemLogMessage,
    TransactionLogMessage,
    load_message,
    parse_operation_data,
)

SYS_NAME = re.compile(r"^Unixt_(\d+)_Sig-(\d+)_Log-Sys_([A-Za-z]+)\.log$")
AUD_NAME = re.compile(r"^Unixt_(\d+)_Sig-(\d+)_Log-Aud\.log$")
INFO_LINE = re.compile(r'^"description:","([^"]*)","manufacturer:","([^"]*)","version:","([^"]*)"$')
# TR-03151 §5.1.2.2 / TR-03153-1: the operations an export of a used TSS must show
OPERATIONS = {
    "initialize", "updateTime", "disableSecureElement", "authenticateUser", "logOut",
    "unblockUser", "registerClient", "deregisterClient",
}  # fmt: skip


def _logs(tar: bytes) -> dict[str, bytes]:
    return {n: d for n, d in members(tar).items() if n.endswith(".log")}


async def test_system_logs_have_tr03151_operation_types_and_appendix_a_data(api: Api) -> None:
    export = await rich_export(api)
    data: dict[str, list[dict]] = {}
    for name, raw in _logs(export.tar).items():
        match = SYS_NAME.match(name)
        if not match:
            continue
        message, _ = load_message(raw)
        assert isinstance(message, SystemLogMessage)
        native = message.native
        assert native["certified_data_type"] == "0.4.0.127.0.7.3.7.1.2"
        assert native["operation_type"] == match.group(3)  # the name says what the log is
        fields = parse_operation_data(native["operation_type"], native["system_operation_data"])
        data.setdefault(native["operation_type"], []).append(fields)
    assert set(data) >= OPERATIONS
    assert data["initialize"] == [{"description": "Kasse 1"}]
    assert {d["client_id"] for d in data["registerClient"]} == {"ERS 1", "ERS 2"}
    assert data["deregisterClient"] == [{"client_id": "ERS 2"}]
    assert data["unblockUser"] == [{"user_id": "admin", "unblock_result": "ok"}]
    assert data["logOut"] == [{"user_id": "admin", "log_out_cause": "user"}]
    results = [d["authentication_result"] for d in data["authenticateUser"]]
    assert results == [False, True, True]  # the wrong PIN is signed too
    assert all(d["role"] == "admin" and d["user_id"] == "admin" for d in data["authenticateUser"])
    (update,) = data["updateTime"]
    assert update["time_before_update"] <= update["time_after_update"]
    (disable,) = data["disableSecureElement"]
    assert disable["time_of_deactivation"] == export.tss["time_disable"]


async def test_a_wrong_pin_consumes_one_counter_and_counters_stay_continuous(api: Api) -> None:
    tss_id, _ = await api.setup_tss()
    before = int((await api.ok("GET", f"/tss/{tss_id}"))["signature_counter"])
    wrong = await api.call("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": "000000"})
    assert wrong.status_code == 401
    after = int((await api.ok("GET", f"/tss/{tss_id}"))["signature_counter"])
    assert after == before + 1
    export = await rich_export(api)
    counters = sorted(load_message(raw)[0].native["signature_counter"]
                      for raw in _logs(export.tar).values())  # fmt: skip
    assert counters == list(range(counters[0], counters[-1] + 1))
    assert counters[-1] == int(export.tss["signature_counter"])


async def test_deploy_writes_an_audit_log_and_counters_match_fiskaly(api: Api) -> None:
    export = await rich_export(api)
    audits = [(n, raw) for n, raw in _logs(export.tar).items() if AUD_NAME.match(n)]
    assert len(audits) == 1
    name, raw = audits[0]
    message, signed = load_message(raw)
    assert isinstance(message, AuditLogMessage)
    native = message.native
    assert native["certified_data_type"] == "0.4.0.127.0.7.3.7.1.3"
    assert native["signature_counter"] == 23 and name.split("_")[2] == "Sig-23"
    assert native["se_audit_data"]
    public_key = base64.b64decode(export.tss["public_key"])
    assert verify_log(public_key, signed, native["signature_value"])
    # the first system log after deploy keeps fiskaly's counter 24 (reference §12.3)
    assert any(n.split("_")[2] == "Sig-24" and n.endswith("_Log-Sys_updateTime.log")
               for n in _logs(export.tar))  # fmt: skip


async def test_asn1crypto_reads_every_log_the_simulator_writes(api: Api) -> None:
    export = await rich_export(api)
    public_key = base64.b64decode(export.tss["public_key"])
    serial = hashlib.sha256(public_key).digest()
    operations = []
    for raw in _logs(export.tar).values():
        message, signed = load_message(raw)
        native = message.native
        assert native["version"] == 2 and native["serial_number"] == serial
        assert native["signature_algorithm"]["algorithm"] == "0.4.0.127.0.7.1.1.4.1.3"
        assert message["log_time"].name == "unix_time"
        assert verify_log(public_key, signed, native["signature_value"])
        if isinstance(message, TransactionLogMessage):
            assert native["client_id"] == "ERS 1"
            operations.append((native["transaction_number"], native["operation_type"]))
    assert sorted(operations) == [
        (1, "FinishTransaction"), (1, "StartTransaction"),
        (2, "FinishTransaction"), (2, "StartTransaction"),
        (3, "FinishTransaction"), (3, "StartTransaction"), (3, "UpdateTransaction"),
    ]  # fmt: skip


def _tlv(tag: int, value: bytes) -> bytes:
    assert len(value) < 128
    return bytes([tag, len(value)]) + value


async def test_start_logs_sign_process_type_and_data_as_fiskaly_does(api: Api) -> None:
    """A Start without a schema signs processType " " and an empty processData, byte for byte
    as in a real fiskaly Start log; the API's answers and the finish's QR code are as before."""
    real = load_message(REAL_START)[0].native
    assert real["process_type"] == " " and real["process_data"] == b""
    real_fields = _tlv(0x82, b"") + _tlv(0x83, b" ")  # [2] processData, [3] processType
    assert _tlv(0x81, real["client_id"].encode()) + real_fields in REAL_START
    tss_id, client_id = await api.setup_tss()
    sale = await api.sale(tss_id, client_id)
    assert verify_qr_code(sale["qr_code_data"]).valid
    assert sale["qr_code_data"].split(";")[2] == "Kassenbeleg-V1"
    started = await api.ok("GET", f"/tss/{tss_id}/tx/{sale['_id']}", tx_revision=1)
    assert started["state"] == "ACTIVE" and "raw" not in started["schema"]
    export = await rich_export(api)
    starts = {n: d for n, d in _logs(export.tar).items() if "_Start_" in n}
    assert len(starts) == 3
    for name, raw in starts.items():
        native = load_message(raw)[0].native
        assert native["operation_type"] == "StartTransaction", name
        assert native["process_type"] == real["process_type"], name
        assert native["process_data"] == real["process_data"], name
        assert _tlv(0x81, native["client_id"].encode()) + real_fields in raw, name
    assert verify_tar(export.tar).ok


async def test_tss_certificate_is_issued_by_the_simulator_ca_in_the_tar(api: Api) -> None:
    export = await rich_export(api)
    certs = {n: x509.load_der_x509_certificate(d) for n, d in members(export.tar).items()
             if n.endswith("_X509.cer")}  # fmt: skip
    assert len(certs) == 2
    for name, cert in certs.items():  # named by the SHA-256 of the public key, like fiskaly
        point = cert.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        assert name == f"{hashlib.sha256(point).hexdigest()}_X509.cer"
    tss_cert = certs[f"{export.tss['serial_number']}_X509.cer"]
    assert base64.b64decode(export.tss["certificate"]) == tss_cert.public_bytes(
        serialization.Encoding.DER
    )
    (ca,) = [c for c in certs.values() if c is not tss_cert]
    assert tss_cert.issuer == ca.subject != tss_cert.subject  # not self-signed
    tss_cert.verify_directly_issued_by(ca)
    ca.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


async def test_info_csv_has_the_tr03151_layout_and_component_lines(api: Api) -> None:
    export = await rich_export(api)
    raw = members(export.tar)["info.csv"]
    assert b"\r" not in raw and raw.endswith(b"\n")
    rows = [INFO_LINE.match(line) for line in raw.decode().splitlines()]
    assert all(rows) and len(rows) == 4  # the TSE, then its components
    assert rows[0] is not None and rows[0].group(1) == "Kasse 1"  # the TSS description
    assert {r.group(2) for r in rows if r} == {"tsed simulator"}


async def test_no_pin_or_puk_in_the_export(api: Api) -> None:
    export = await rich_export(api)
    assert PIN.encode() not in export.tar and export.puk.encode() not in export.tar


def test_the_ca_survives_a_restart(tmp_path) -> None:
    first = SimState(state_dir=tmp_path)
    certificate = first.ca.certificate
    first.close()
    second = SimState(state_dir=tmp_path)
    assert second.ca.certificate == certificate
    second.close()
    assert SimState().ca.certificate != certificate  # memory-only: a CA of its own
