"""The DSFinV-K's TSE tables as files: columns, formats, limits, and the streamed writer."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tsed.archive.dsfinvk import (
    CERT_PART_LENGTH,
    TRANSACTION_COLUMNS,
    TSE_COLUMNS,
    build_tables,
    certificate_base64,
    csv_text,
    failure_text,
    log_time,
    masters_of,
    tse_row,
    write_files,
)
from tsed.state.rows import TxRow


def _row(n: int, *, tss: str = "tss-a", state: str = "finished", register: str = "r1",
         result: bool = True, failure: dict[str, object] | None = None) -> TxRow:  # fmt: skip
    signed = {
        "transaction_number": n,
        "signature_counter": 2 * n + 1,
        "time_start": "2026-12-01T10:00:00.000Z",
        "time_end": "2026-12-01T10:00:05.000Z",
        "signature": f"sig{n}",
        "public_key": f"key-{tss}",
        "tss_serial_number": f"{tss}-serial",
        "signature_algorithm": "ecdsa-plain-SHA256",
        "log_time_format": "unixTime",
        "client_serial_number": f"ERS {register}",
        "process_type": "Kassenbeleg-V1",
        "process_data": 'Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar,"x"',
    }
    return TxRow(
        id=f"tx-{n}", register_id=register, tenant_id="t", env="TEST", tss_id=tss,
        client_id="c", tx_id=f"f-{n}", state=state, revision=2, kind="receipt", receipt=None,
        result=json.dumps(signed) if result else None,
        failure=json.dumps(failure) if failure else None, created_at=1_796_119_200.0 + n,
        updated_at=0.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("unixTime", "1796119205"),
        ("utcTime", "2612011000Z"),
        ("utcTimeWithSeconds", "261201100005Z"),
        ("generalizedTime", "20261201100005Z"),
        ("generalizedTimeWithMilliseconds", "20261201100005.000Z"),
    ],
)
def test_log_times_follow_the_tse_time_format(fmt: str, expected: str) -> None:
    assert log_time("2026-12-01T10:00:05.000Z", fmt) == expected
    assert log_time("", fmt) == ""


def test_a_long_certificate_is_split_into_parts_of_1000_characters() -> None:
    body = "A" * 2500
    pem = (
        "-----BEGIN CERTIFICATE-----\n"
        + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        + "\n-----END CERTIFICATE-----\n"
    )
    assert certificate_base64(pem) == body
    master = masters_of([_row(1)], {"tss-a": pem})["tss-a"]
    row = tse_row(1, master, "ERS r1")
    assert [len(row[f"TSE_ZERTIFIKAT_{p}"]) for p in ("I", "II", "III", "IV")] == [
        CERT_PART_LENGTH, CERT_PART_LENGTH, 500, 0
    ]  # fmt: skip
    assert "".join(row[name] for name, _ in TSE_COLUMNS if "ZERTIFIKAT" in name) == body


def test_failure_text_names_the_failure_and_what_became_of_it() -> None:
    failure = {"code": "TSE_TIMEOUT", "reason": "fiskaly did not answer", "at": 1_796_119_200}
    signed_late = failure_text(_row(1, failure=failure))
    assert signed_late.startswith("TSE-Ausfall am 01.12.2026 10:00:00 UTC (TSE_TIMEOUT")
    assert signed_late.endswith("nachsigniert")
    assert failure_text(_row(2, failure=failure, result=False, state="failed")).endswith(
        "nicht signiert"
    )
    long = failure_text(_row(3, failure={**failure, "reason": "x" * 400}))
    assert len(long) == 200 and long.endswith("…")
    assert failure_text(_row(4)) == ""


def test_tables_number_each_tss_once_and_give_each_register_its_master_row() -> None:
    rows = [
        _row(1, tss="tss-a", register="r1"),
        _row(2, tss="tss-b", register="r2"),
        _row(3, tss="tss-a", register="r2"),
        _row(4, tss="tss-a", state="active", result=False),  # open: not in a closing
        _row(
            5,
            tss="tss-b",
            state="failed",
            result=False,
            failure={"code": "TSE_UNREACHABLE", "reason": "down", "at": 1.0},
        ),
    ]
    tables = build_tables(rows, {"r1": "ERS r1", "r2": "ERS r2"}, {})
    assert [(r["Z_KASSE_ID"], r["TSE_ID"], r["TSE_SERIAL"]) for r in tables.tse] == [
        ("ERS r1", "1", "tss-a-serial"),
        ("ERS r2", "2", "tss-b-serial"),
        ("ERS r2", "1", "tss-a-serial"),
        ("ERS r1", "2", "tss-b-serial"),  # its failed transaction was for tss-b
    ]
    assert [(r["BON_ID"], r["TSE_ID"]) for r in tables.transactions] == [
        ("tx-1", "1"), ("tx-2", "2"), ("tx-3", "1"), ("tx-5", "2")
    ]  # fmt: skip
    assert tables.open_left == 1
    unsigned = tables.transactions[-1]
    assert unsigned["TSE_TA_SIG"] == "" and "TSE_UNREACHABLE" in unsigned["TSE_TA_FEHLER"]
    assert any("Zertifikat nicht lesbar" in note for note in tables.notes)
    assert any("ohne Signatur" in note for note in tables.notes)
    assert any("noch offen" in note for note in tables.notes)
    for row in tables.transactions:  # every value fits its column
        for name, limit in TRANSACTION_COLUMNS:
            assert limit is None or len(row[name]) <= limit, name


def test_csv_is_comma_separated_quoted_where_needed_with_crlf() -> None:
    tables = build_tables([_row(1)], {}, {})
    text = csv_text(TRANSACTION_COLUMNS, tables.transactions)
    lines = text.split("\r\n")
    assert lines[0] == ",".join(name for name, _ in TRANSACTION_COLUMNS)
    assert lines[-1] == "" and len(lines) == 3
    parsed = next(csv.DictReader(text.splitlines(keepends=True)))
    assert parsed["TSE_VORGANGSDATEN"] == 'Beleg^1.00_0.00_0.00_0.00_0.00^1.00:Bar,"x"'
    assert parsed["TSE_TA_ENDE"] == "1796119205" and parsed["TSE_TA_SIGZ"] == "3"


def test_the_streamed_files_equal_the_tables_in_memory(tmp_path: Path) -> None:
    rows = [_row(n, tss="tss-a" if n % 3 else "tss-b", register=f"r{n % 2}") for n in range(1, 12)]
    serials = {"r0": "ERS r0", "r1": "ERS r1"}
    in_memory = build_tables(rows, serials, {})
    pages = [rows[i : i + 4] for i in range(0, len(rows), 4)]
    written = write_files(tmp_path / "out", pages, masters_of(rows, {}), serials)
    assert (written.transactions, written.tse) == (11, len(in_memory.tse))
    on_disk = (tmp_path / "out" / "transactions_tse.csv").read_bytes().decode("utf-8")
    assert on_disk == csv_text(TRANSACTION_COLUMNS, in_memory.transactions)
    tse = (tmp_path / "out" / "tse.csv").read_bytes().decode("utf-8")
    assert tse == csv_text(TSE_COLUMNS, in_memory.tse)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "transactions_tse.csv",
        "tse.csv",
    ]  # fmt: skip (no partial file left)
    with pytest.raises(FileExistsError):  # a directory is never written into twice
        write_files(tmp_path / "out", pages, {}, serials)
