"""The TSE part of the DSFinV-K from a running unit: ``tsectl archive dsfinvk`` and the
register API's ``/api/v1/dsfinvk``; every signed line verifies with nothing but the files."""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.support.unit import Register, Unit, running_unit
from tsed.archive.dsfinvk import TRANSACTION_COLUMNS, TSE_COLUMNS
from tsed.fiskaly.tr03151 import transaction_log_data, verify_log

FAST = "register_deadline = 1.0\n"


def _days() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        raw = handle.read()
    assert raw.endswith("\r\n") and "\r\n" in raw.splitlines(keepends=True)[0]
    reader = csv.DictReader(raw.splitlines(keepends=True))
    return list(reader.fieldnames or []), list(reader)


async def _wait(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")


def verified(row: dict[str, str], master: dict[str, str]) -> bool:
    """The DSFinV-K's own promise: the signature checks out without the TSE's export."""
    public_key = base64.b64decode(master["TSE_PUBLIC_KEY"])
    data = transaction_log_data(
        operation="FinishTransaction",
        client_serial=row["Z_KASSE_ID"],
        process_type=row["TSE_TA_VORGANGSART"],
        process_data=row["TSE_VORGANGSDATEN"].encode(),
        tx_number=int(row["TSE_TANR"]),
        public_key=public_key,
        signature_counter=int(row["TSE_TA_SIGZ"]),
        log_time=int(row["TSE_TA_ENDE"]),
    )
    return verify_log(public_key, data, base64.b64decode(row["TSE_TA_SIG"]))


def certificate_matches(master: dict[str, str]) -> bool:
    parts = "".join(
        master[f"TSE_ZERTIFIKAT_{p}"] for p in ("I", "II", "III", "IV", "V", "VI", "VII")
    )
    cert = x509.load_der_x509_certificate(base64.b64decode(parts))
    point = cert.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return point == base64.b64decode(master["TSE_PUBLIC_KEY"])


async def _shop_day(unit: Unit) -> tuple[Register, Register, dict[str, Any]]:
    """Two registers: sales, a cancelled transaction, an outage signed late, one left open."""
    one = await unit.pair("ERS kasse-1")
    two = await unit.pair("ERS kasse-2")
    answers = {"sale-1": await one.receipt(key="sale-1"), "sale-2": await two.receipt(key="sale-2")}
    started = (await one.call("POST", "/api/v1/transactions")).json()["id"]
    answers["cancelled"] = (await one.call("POST", f"/api/v1/transactions/{started}/cancel")).json()
    unit.daemon.sim.faults.update({"latency_ms": 1500, "route": "tx"})
    late = await one.receipt(key="late")
    assert late["tse_failure"] is True
    unit.daemon.sim.faults.reset()

    async def signed_late() -> bool:
        body = (await one.call("GET", f"/api/v1/transactions/{late['id']}")).json()
        return body["result"] is not None

    await _wait(signed_late)
    answers["late"] = (await one.call("GET", f"/api/v1/transactions/{late['id']}")).json()
    answers["open"] = (await two.call("POST", "/api/v1/transactions")).json()
    return one, two, answers


async def test_tsectl_writes_both_files_and_every_signature_verifies(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        _one, _two, answers = await _shop_day(unit)
        start, end = _days()
        code, out = await unit.tsectl("--json", "archive", "dsfinvk", "--from", start, "--to", end)
        assert code == 0, out
        report = json.loads(out)
        directory = Path(report["directory"])
        assert directory.parent == unit.state_dir / "auditor"
        tse_head, tse = _read(directory / "tse.csv")
        tx_head, txs = _read(directory / "transactions_tse.csv")
        assert tse_head == [name for name, _ in TSE_COLUMNS]
        assert tx_head == [name for name, _ in TRANSACTION_COLUMNS]
        assert (report["transactions"], report["signed"], report["open_left"]) == (4, 4, 1)
        assert {(f["name"], f["rows"]) for f in report["files"]} == {
            ("tse.csv", 2), ("transactions_tse.csv", 4)
        }  # fmt: skip
        by_id = {row["BON_ID"]: row for row in txs}
        assert answers["open"]["id"] not in by_id
        masters = {(m["Z_KASSE_ID"], m["TSE_ID"]): m for m in tse}
        assert {serial for serial, _ in masters} == {"ERS kasse-1", "ERS kasse-2"}
        assert len({m["TSE_ID"] for m in tse}) == 1  # one TSS, the same id for both registers
        for master in tse:
            assert master["TSE_SIG_ALGO"] == "ecdsa-plain-SHA256"
            assert master["TSE_ZEITFORMAT"] == "unixTime" and master["TSE_PD_ENCODING"] == "UTF-8"
            assert len(master["TSE_SERIAL"]) == 64 and certificate_matches(master)
        for name in ("sale-1", "sale-2", "cancelled", "late"):
            answer = answers[name]
            row = by_id[answer["id"]]
            assert verified(row, masters[(row["Z_KASSE_ID"], row["TSE_ID"])]), name
            result = answer["result"]
            assert row["TSE_TA_SIG"] == result["signature"]
            assert (int(row["TSE_TANR"]), int(row["TSE_TA_SIGZ"])) == (
                result["transaction_number"], result["signature_counter"]
            )  # fmt: skip
            assert int(row["TSE_TA_START"]) <= int(row["TSE_TA_ENDE"])
        assert by_id[answers["cancelled"]["id"]]["TSE_VORGANGSDATEN"].startswith("AVBelegabbruch")
        outage = by_id[answers["late"]["id"]]["TSE_TA_FEHLER"]
        assert "TSE_TIMEOUT" in outage and "nachsigniert" in outage and len(outage) <= 200
        assert by_id[answers["sale-1"]["id"]]["TSE_TA_FEHLER"] == ""
        _code, shown = await unit.tsectl("archive", "dsfinvk", "--from", start, "--to", end)
        assert "4 Vorgang/Vorgänge, davon 4 signiert" in shown


async def test_a_register_gets_its_own_tables_as_json_and_csv(tmp_path: Path) -> None:
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        one, two, answers = await _shop_day(unit)
        start, end = _days()
        query = f"?from={start}&to={end}"
        mine = (await two.call("GET", f"/api/v1/dsfinvk{query}")).json()
        assert [row["BON_ID"] for row in mine["transactions_tse"]] == [answers["sale-2"]["id"]]
        assert mine["open_left"] == 1 and len(mine["tse"]) == 1
        assert mine["tse"][0]["Z_KASSE_ID"] == "ERS kasse-2"
        listed = await one.call("GET", f"/api/v1/dsfinvk/transactions_tse.csv{query}")
        assert listed.status_code == 200
        assert listed.headers["content-type"].startswith("text/csv")
        _head, rows = _read_text(listed.text)
        assert {row["BON_ID"] for row in rows} == {
            answers[name]["id"] for name in ("sale-1", "cancelled", "late")
        }
        masters = _read_text((await one.call("GET", f"/api/v1/dsfinvk/tse.csv{query}")).text)[1]
        assert all(verified(row, masters[0]) for row in rows)
        # refused: too long a period, a missing or unknown parameter, a half-typed day
        for bad in (
            "?from=2026-01-01&to=2026-03-01",
            f"?from={start}",
            f"?from={start}&to={end}&tenant=x",
            f"?from=2026-1&to={end}",
        ):
            refused = await one.call("GET", f"/api/v1/dsfinvk{bad}")
            assert refused.status_code == 400, (bad, refused.text)
            assert refused.json()["error"]["code"] == "INVALID_REQUEST"


def _read_text(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    return list(reader.fieldnames or []), list(reader)


async def test_the_certificate_comes_from_the_archive_when_fiskaly_is_away(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s", config=FAST) as unit:
        register = await unit.pair()
        answer = await register.receipt(key="archived")
        code, out = await unit.tsectl("--json", "archive", "run")
        assert code == 0, out
        await unit.daemon.sim_server.stop()  # fiskaly cannot be asked for the TSS any more
        start, end = _days()
        code, out = await unit.tsectl("--json", "archive", "dsfinvk", "--from", start, "--to", end)
        assert code == 0, out
        directory = Path(json.loads(out)["directory"])
        master = _read(directory / "tse.csv")[1][0]
        row = _read(directory / "transactions_tse.csv")[1][0]
        assert row["BON_ID"] == answer["id"]
        assert certificate_matches(master) and verified(row, master)
        assert json.loads(out)["notes"] == []


async def test_bad_periods_and_unknown_tenants_are_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    async with running_unit(tmp_path / "s") as unit:
        for args, words in (
            (("--from", "2026-12-02", "--to", "2026-12-01"), "starts after it ends"),
            (("--from", "2026-12-0", "--to", "2026-12-01"), "YYYY-MM-DD"),
            (("--from", "2026-12-01", "--to", "2026-12-01", "--tenant", "nope"), "not known"),
        ):
            code, out = await unit.tsectl("--json", "archive", "dsfinvk", *args)
            assert code == 1, out
            assert words in json.loads(out)["error"]["message"]
        # an empty period is no error: both files with their header lines only
        code, out = await unit.tsectl(
            "--json", "archive", "dsfinvk", "--from", "2001-01-01", "--to", "2001-01-31"
        )
        assert code == 0, out
        report = json.loads(out)
        assert (report["transactions"], report["tse"]) == (0, 0)
        head, rows = _read(Path(report["directory"]) / "transactions_tse.csv")
        assert head and rows == []
