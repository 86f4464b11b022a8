"""The TSE part of a register's DSFinV-K: the files ``tse.csv`` and ``transactions_tse.csv``.

The register builds its DSFinV-K (Digitale Schnittstelle der Finanzverwaltung für
Kassensysteme); the two tables that describe the TSE come from the unit, which owns the TSS and
journals every signature (docs/dsfinvk.md lists every column with its source):

* ``Stamm_TSE`` (``tse.csv``, DSFinV-K 3.2.7): one row per TSS used in the period: serial
  number, signature algorithm, log time format, process data encoding, public key, certificate
  (base64, split into parts of 1 000 characters).
* ``TSE_Transaktionen`` (``transactions_tse.csv``, 3.1.2.5): one row per transaction: TSE
  reference, transaction number, start and end log time, process type, signature counter,
  signature, the TSE failure text when the TSE failed (an outage), and the process data.

The register's own columns (``Z_KASSE_ID``, ``Z_ERSTELLUNG``, ``Z_NR``) identify its cash
closing (Kassenabschluss), which the unit does not know: ``Z_KASSE_ID`` is filled with the
register's serial number (the TSE client's serial), ``Z_ERSTELLUNG`` and ``Z_NR`` stay empty
for the register to fill; ``BON_ID`` is the unit's transaction id, which the register got as
``id`` when it started the transaction. Files are CSV as in the DSFinV-K's index.xml: UTF-8,
comma, text in double quotes where needed, CRLF.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tsed.fiskaly.tarverify import CERT_NAME
from tsed.state.files import atomic_write
from tsed.state.rows import TxRow

# (column, maximum length or None): DSFinV-K 2.x, files 3.2.7 and 3.1.2.5
CERT_PARTS = ("I", "II", "III", "IV", "V", "VI", "VII")
CERT_PART_LENGTH = 1000
TSE_COLUMNS: tuple[tuple[str, int | None], ...] = (
    ("Z_KASSE_ID", 50),
    ("Z_ERSTELLUNG", None),
    ("Z_NR", None),
    ("TSE_ID", None),
    ("TSE_SERIAL", 68),
    ("TSE_SIG_ALGO", 30),
    ("TSE_ZEITFORMAT", 31),
    ("TSE_PD_ENCODING", 5),
    ("TSE_PUBLIC_KEY", 512),
    *((f"TSE_ZERTIFIKAT_{part}", CERT_PART_LENGTH) for part in CERT_PARTS),
)
TRANSACTION_COLUMNS: tuple[tuple[str, int | None], ...] = (
    ("Z_KASSE_ID", 50),
    ("Z_ERSTELLUNG", None),
    ("Z_NR", None),
    ("BON_ID", 40),
    ("TSE_ID", None),
    ("TSE_TANR", None),
    ("TSE_TA_START", None),
    ("TSE_TA_ENDE", None),
    ("TSE_TA_VORGANGSART", 30),
    ("TSE_TA_SIGZ", None),
    ("TSE_TA_SIG", 512),
    ("TSE_TA_FEHLER", 200),
    ("TSE_VORGANGSDATEN", None),
)
TSE_FILE = "tse.csv"
TRANSACTIONS_FILE = "transactions_tse.csv"
ENDED = ("finished", "cancelled", "failed")  # what a cash closing can contain


@dataclass(frozen=True, slots=True)
class TseMaster:
    """What ``tse.csv`` says of one TSS (from fiskaly's TSS object and the signed results)."""

    tss_id: str
    serial: str
    algorithm: str
    time_format: str
    public_key: str  # base64
    certificate: str  # base64 of the DER certificate, "" when it could not be read
    encoding: str = "UTF-8"


@dataclass(frozen=True, slots=True)
class TseTables:
    """Both tables of one period, in the DSFinV-K's column order."""

    tse: tuple[dict[str, str], ...]
    transactions: tuple[dict[str, str], ...]
    open_left: int  # transactions of the period still open (not part of a closing yet)
    notes: tuple[str, ...]


def certificate_base64(pem_or_der: str) -> str:
    """The certificate as one base64 string of its DER bytes (a PEM's body, joined)."""
    lines = [line.strip() for line in pem_or_der.strip().splitlines()]
    body = [line for line in lines if line and not line.startswith("-----")]
    return "".join(body)


def certificate_from_tar(path: Path, serial: str) -> str:
    """The TSS's certificate (base64 DER) from an archived export, "" when it has none.

    Used when fiskaly cannot be asked (offline, or the TSS is long gone): every TSS export
    carries the log-signing certificate, named by the TSS's serial number."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                match = CERT_NAME.match(name)
                if not (match and match["hash"].lower() == serial.lower() and member.isfile()):
                    continue
                handle = tar.extractfile(member)
                data = handle.read(1 << 20) if handle else b""
                cert = (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----")
                        else x509.load_der_x509_certificate(data))  # fmt: skip
                return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()
    except (OSError, tarfile.TarError, ValueError):
        return ""
    return ""


def log_time(iso: str, time_format: str) -> str:
    """A log time (the result's ISO 8601 UTC) in the TSE's ``TSE_ZEITFORMAT``."""
    if not iso:
        return ""
    stamp = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    if time_format == "unixTime":
        return str(int(stamp.timestamp()))
    if time_format == "utcTime":
        return stamp.strftime("%y%m%d%H%MZ")
    if time_format == "utcTimeWithSeconds":
        return stamp.strftime("%y%m%d%H%M%SZ")
    if time_format == "generalizedTimeWithMilliseconds":
        return stamp.strftime("%Y%m%d%H%M%S.") + f"{stamp.microsecond // 1000:03d}Z"
    return stamp.strftime("%Y%m%d%H%M%SZ")  # generalizedTime


def master_from_result(tss_id: str, result: dict[str, str], certificate: str) -> TseMaster:
    return TseMaster(
        tss_id=tss_id,
        serial=result.get("tss_serial_number", ""),
        algorithm=result.get("signature_algorithm", ""),
        time_format=result.get("log_time_format", ""),
        public_key=result.get("public_key", ""),
        certificate=certificate_base64(certificate) if certificate else "",
    )


def tse_row(tse_id: int, master: TseMaster, register_serial: str = "") -> dict[str, str]:
    row = {
        "Z_KASSE_ID": register_serial,
        "Z_ERSTELLUNG": "",
        "Z_NR": "",
        "TSE_ID": str(tse_id),
        "TSE_SERIAL": master.serial,
        "TSE_SIG_ALGO": master.algorithm,
        "TSE_ZEITFORMAT": master.time_format,
        "TSE_PD_ENCODING": master.encoding,
        "TSE_PUBLIC_KEY": master.public_key,
    }
    cert = master.certificate
    for index, part in enumerate(CERT_PARTS):
        chunk = cert[index * CERT_PART_LENGTH : (index + 1) * CERT_PART_LENGTH]
        row[f"TSE_ZERTIFIKAT_{part}"] = chunk
    return row


def failure_text(row: TxRow) -> str:
    """``TSE_TA_FEHLER``: what the TSE failure was (≤ 200 characters), empty when none."""
    failure = row.json_field("failure")
    if not failure:
        return ""
    reason = str(failure.get("reason") or failure.get("code") or "TSE-Ausfall")
    when = failure.get("at")
    stamp = ""
    if isinstance(when, int | float):
        stamp = datetime.fromtimestamp(when, UTC).strftime(" am %d.%m.%Y %H:%M:%S UTC")
    signed = "; nachsigniert" if row.result else "; nicht signiert"
    text = f"TSE-Ausfall{stamp} ({failure.get('code', '')}: {reason}){signed}"
    return text if len(text) <= 200 else text[:199] + "…"


def transaction_row(row: TxRow, tse_id: int | None, register_serial: str) -> dict[str, str]:
    result = row.json_field("result") or {}
    fmt = str(result.get("log_time_format", ""))
    number = result.get("transaction_number")
    counter = result.get("signature_counter")
    return {
        "Z_KASSE_ID": register_serial,
        "Z_ERSTELLUNG": "",
        "Z_NR": "",
        "BON_ID": row.id,
        "TSE_ID": "" if tse_id is None else str(tse_id),
        "TSE_TANR": "" if number is None else str(number),
        "TSE_TA_START": log_time(str(result.get("time_start", "")), fmt),
        "TSE_TA_ENDE": log_time(str(result.get("time_end", "")), fmt),
        "TSE_TA_VORGANGSART": str(result.get("process_type", "")),
        "TSE_TA_SIGZ": "" if counter is None else str(counter),
        "TSE_TA_SIG": str(result.get("signature", "")),
        "TSE_TA_FEHLER": failure_text(row),
        "TSE_VORGANGSDATEN": str(result.get("process_data", "")),
    }


def masters_of(first_signed: Iterable[TxRow], certificates: dict[str, str]) -> dict[str, TseMaster]:
    """Per TSS (in the order of first use) what ``tse.csv`` says of it, from a signed
    transaction of it and its certificate (missing ones leave the columns empty)."""
    masters: dict[str, TseMaster] = {}
    for row in first_signed:
        result = row.json_field("result")
        if result and row.tss_id not in masters:
            certificate = certificates.get(row.tss_id, "")
            masters[row.tss_id] = master_from_result(row.tss_id, result, certificate)
    return masters


class _Collector:
    """Turns transactions into ``transactions_tse.csv`` lines and keeps what ``tse.csv`` and
    the notes need: one master row per register and TSS (each register's DSFinV-K has its own
    ``tse.csv``), a TSS keeping its ``TSE_ID`` for every register."""

    def __init__(self, masters: dict[str, TseMaster], serials: dict[str, str]) -> None:
        self.masters = masters
        self.serials = serials
        self.tse_ids = {tss_id: index for index, tss_id in enumerate(masters, start=1)}
        self.pairs: dict[tuple[str, str], None] = {}
        self.lines = 0
        self.unsigned = 0
        self.open_left = 0

    def line(self, row: TxRow) -> dict[str, str] | None:
        if row.state not in ENDED:
            self.open_left += 1
            return None
        # the serial the TSE signed as the client's (the register's serial at pairing)
        result = row.json_field("result") or {}
        serial = str(result.get("client_serial_number") or self.serials.get(row.register_id, ""))
        line = transaction_row(row, self.tse_ids.get(row.tss_id), serial)
        if row.tss_id in self.masters:
            self.pairs[(serial, row.tss_id)] = None
        self.lines += 1
        self.unsigned += 0 if line["TSE_TA_SIG"] else 1
        return line

    def tse(self) -> tuple[dict[str, str], ...]:
        return tuple(
            tse_row(self.tse_ids[tss_id], self.masters[tss_id], serial)
            for serial, tss_id in self.pairs
        )

    def notes(self) -> tuple[str, ...]:
        notes = [
            f"TSS {tss_id}: Zertifikat nicht lesbar (Spalten TSE_ZERTIFIKAT_* leer)"
            for tss_id, master in self.masters.items()
            if not master.certificate
        ]
        if self.unsigned:
            notes.append(
                f"{self.unsigned} Vorgang/Vorgänge ohne Signatur (TSE-Ausfall, noch nicht "
                "nachsigniert, oder abgebrochen): TSE_TA_FEHLER sagt, was geschah"
            )
        if self.open_left:
            notes.append(
                f"{self.open_left} Vorgang/Vorgänge noch offen (nicht abgeschlossen): nicht "
                "enthalten"
            )
        return tuple(notes)


def build_tables(
    rows: Sequence[TxRow], serials: dict[str, str], certificates: dict[str, str]
) -> TseTables:
    """Both tables for ``rows`` (a period's transactions, oldest first) in memory (a
    register's own, bounded period); ``serials``: register id → serial (``Z_KASSE_ID``)."""
    collector = _Collector(masters_of(rows, certificates), serials)
    table = tuple(line for row in rows if (line := collector.line(row)) is not None)
    return TseTables(collector.tse(), table, collector.open_left, collector.notes())


@dataclass(frozen=True, slots=True)
class Written:
    """What :func:`write_files` wrote."""

    transactions: int
    unsigned: int
    tse: int
    open_left: int
    notes: tuple[str, ...]


def write_files(
    dest: Path,
    pages: Iterable[Sequence[TxRow]],
    masters: dict[str, TseMaster],
    serials: dict[str, str],
) -> Written:
    """Both files into the new directory ``dest``, the transactions streamed page by page (a
    year of a busy shop is never held in memory); each file flushed before it gets its name."""
    dest.mkdir(parents=True)
    collector = _Collector(masters, serials)
    names = [name for name, _ in TRANSACTION_COLUMNS]
    partial = dest / f".{TRANSACTIONS_FILE}.partial"
    with partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\r\n")
        writer.writeheader()
        for page in pages:
            writer.writerows(line for row in page if (line := collector.line(row)) is not None)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, dest / TRANSACTIONS_FILE)
    tse = collector.tse()
    atomic_write(dest / TSE_FILE, csv_text(TSE_COLUMNS, tse).encode("utf-8"))
    return Written(collector.lines, collector.unsigned, len(tse), collector.open_left,
                   collector.notes())  # fmt: skip


def csv_text(columns: Sequence[tuple[str, int | None]], rows: Iterable[dict[str, str]]) -> str:
    """One DSFinV-K file: a header line, then the rows; UTF-8 text, comma, CRLF."""
    out = io.StringIO()
    names = [name for name, _ in columns]
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\r\n", extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: row.get(name, "") for name in names})
    return out.getvalue()


def files_of(tables: TseTables) -> dict[str, str]:
    """File name → content of both files."""
    return {
        TSE_FILE: csv_text(TSE_COLUMNS, tables.tse),
        TRANSACTIONS_FILE: csv_text(TRANSACTION_COLUMNS, tables.transactions),
    }


def tables_json(tables: TseTables) -> dict[str, object]:
    return {
        "tse": list(tables.tse),
        "transactions_tse": list(tables.transactions),
        "open_left": tables.open_left,
        "notes": list(tables.notes),
    }
