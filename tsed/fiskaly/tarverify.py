"""Verify a TSS TAR export (BSI TR-03151 / TR-03153-1) the way an auditor's tool does.

:func:`verify_tar` reads the archive and returns a frozen :class:`TarReport`; it never raises
for what is in the file (a file that is not a TAR is the finding ``not_a_tar``). Checks, each
with a stable finding code:

- ``truncated``: the archive stops without its end-of-archive blocks (a cut-off file);
- ``unexpected_file``: a member that is not a regular file with a TR-03151 name (flat
  archive of ``*.log``, ``<hash>_X509.<cer|crt|der|pem>`` and ``info.csv``);
- ``info_csv``: ``info.csv`` missing, not UTF-8, CR line endings, or a line that is not
  ``"description:","…","manufacturer:","…","version:","…"``;
- ``certificate``: a certificate that does not load, or a log-signing (TSS) certificate
  whose name is not its key's SHA-256 (the TSS serial number; fiskaly's TEST CA certificate
  is named otherwise, so CA names are not checked); ``chain``: a log-signing certificate
  that does not chain to a self-signed CA certificate in the TAR;
- ``parse``: a log that is not a TR-03151 log message (asn1crypto structures of
  :mod:`.tr03151_asn1`); ``name_mismatch``: the file name disagrees with the content (log
  time, signature counter, log type, operation, transaction number, client);
- ``unknown_key`` / ``algorithm`` / ``signature``: no certificate for the log's serial number,
  an unsupported algorithm, or a signature that does not verify;
- ``counter_duplicate`` / ``counter_gap`` / ``counter_range``: signature counters must be
  unique and continuous (within ``start_counter``..``end_counter`` when the export covered a
  range); pass ``filtered=True`` for exports by client, transaction or date, where gaps are
  normal;
- ``transaction``: per transaction one Start first, Updates, at most one Finish last, one
  client; transaction numbers of the Start logs continuous (unfiltered exports).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import sys
import tarfile
import warnings
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tsed.fiskaly.tarreport import Finding, TarReport
from tsed.fiskaly.tr03151_asn1 import (
    OID_AUDIT_LOG,
    OID_SYSTEM_LOG,
    OID_TRANSACTION_LOG,
    load_message,
    parse_operation_data,
)

_TIME = r"(?P<format>Unixt|Utc|Gent)_(?P<time>[^_]+)_Sig-(?P<counter>\d+)"
_FC = r"(?:_Fc-\d+)?\.log"
TX_NAME = re.compile(
    rf"^{_TIME}_Log-Tra_No-(?P<number>\d+)_(?P<op>Start|Update|Finish)_Client-(?P<client>.+?){_FC}$"
)
SYS_NAME = re.compile(rf"^{_TIME}_Log-Sys_(?P<op>[A-Za-z]+){_FC}$")
AUD_NAME = re.compile(rf"^{_TIME}_Log-Aud{_FC}$")
CERT_NAME = re.compile(r"^(?P<hash>[0-9A-Fa-f]{64})_X509(?:_Fc-\d+)?\.(?:cer|crt|der|pem)$")
INFO_LINE = re.compile(r'^"description:","[^"]*","manufacturer:","[^"]*","version:","[^"]*"$')
HASHES: dict[str, hashes.HashAlgorithm] = {
    "0.4.0.127.0.7.1.1.4.1.2": hashes.SHA224(),
    "0.4.0.127.0.7.1.1.4.1.3": hashes.SHA256(),
    "0.4.0.127.0.7.1.1.4.1.4": hashes.SHA384(),
    "0.4.0.127.0.7.1.1.4.1.5": hashes.SHA512(),
}
_OPERATIONS = {"Start": "StartTransaction", "Update": "UpdateTransaction",
               "Finish": "FinishTransaction"}  # fmt: skip
_FORMATS = {"Unixt": "unix_time", "Utc": "utc_time", "Gent": "generalized_time"}
_KIND_OIDS = {"transaction": OID_TRANSACTION_LOG, "system": OID_SYSTEM_LOG, "audit": OID_AUDIT_LOG}


@dataclass(frozen=True, slots=True)
class _Log:
    file: str
    kind: str
    counter: int
    log_time: int | None
    operation: str
    key: str
    number: int | None = None
    client: str | None = None


@dataclass(slots=True)
class _Archive:
    """Certificates and info.csv (small, read in the first pass)."""

    certificates: dict[str, bytes] = field(default_factory=dict)
    info_csv: bytes | None = None
    complete: bool = True


class _Truncated(Exception):
    """The archive stops without its end-of-archive blocks: the file was cut off."""


def _members(source: Path | bytes) -> Iterator[tuple[str, tarfile.TarFile, tarfile.TarInfo]]:
    fileobj = io.BytesIO(source) if isinstance(source, bytes) else None
    with tarfile.open(name=None if fileobj else source, fileobj=fileobj, mode="r:") as tar:
        for member in tar:
            yield member.name.removeprefix("./"), tar, member
        raw = tar.fileobj
        assert raw is not None
        raw.seek(tar.offset)
        end = raw.read(2 * tarfile.BLOCKSIZE)
        if len(end) < 2 * tarfile.BLOCKSIZE or end.strip(b"\0"):
            raise _Truncated


MAX_MEMBER_BYTES = 4 * 1024 * 1024  # a log message, a certificate, info.csv: far smaller


def _payload(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """A member's content (callers skip members larger than MAX_MEMBER_BYTES)."""
    extracted = tar.extractfile(member)
    return extracted.read() if extracted else b""


def _read(source: Path | bytes, findings: list[Finding]) -> _Archive | None:
    """First pass: every member but the logs (a TAR of a million logs is not held in memory)."""
    archive = _Archive()
    try:
        for name, tar, member in _members(source):
            if member.isdir() and name in (".", ""):
                continue  # the archive's own directory entry
            if not member.isfile() or "/" in name or name.startswith("."):
                findings.append(Finding("unexpected_file", "not a flat regular file", name))
            elif name.endswith(".log"):
                continue  # read in the second pass
            elif member.size > MAX_MEMBER_BYTES:
                findings.append(Finding("unexpected_file", _too_big(member), name))
            elif name == "info.csv":
                archive.info_csv = _payload(tar, member)
            elif CERT_NAME.match(name):
                archive.certificates[name] = _payload(tar, member)
            else:
                findings.append(Finding("unexpected_file", "no TR-03151 file name", name))
    except _Truncated:
        archive.complete = False
        findings.append(Finding("truncated", _TRUNCATED))
    except (tarfile.TarError, EOFError, OSError) as err:
        findings.append(Finding(
            "not_a_tar",
            f"cannot read the file as a TAR archive ({err}); a TSS export is an "
            "uncompressed TAR file",
        ))  # fmt: skip
        return None
    return archive


def _too_big(member: tarfile.TarInfo) -> str:
    return f"{member.size} bytes: larger than any file of a TSS export ({MAX_MEMBER_BYTES})"


_TRUNCATED = "the TAR archive ends early (no end-of-archive blocks): the file is cut off"


def _read_logs(
    source: Path | bytes, certs: dict[str, tuple[str, x509.Certificate]],
    findings: list[Finding],
) -> list[_Log]:  # fmt: skip
    """Second pass: each log is parsed and checked as it is read."""
    logs = []
    try:
        for name, tar, member in _members(source):
            if member.isfile() and name.endswith(".log") and "/" not in name:
                if member.size > MAX_MEMBER_BYTES:
                    findings.append(Finding("parse", _too_big(member), name))
                    continue
                log = _parse_log(name, _payload(tar, member), certs, findings)
                if log is not None:
                    logs.append(log)
    except _Truncated:
        pass  # reported by the first pass
    except (tarfile.TarError, EOFError, OSError) as err:
        findings.append(Finding("truncated", f"{_TRUNCATED} ({err})"))
    return logs


def _check_info_csv(data: bytes | None, findings: list[Finding]) -> None:
    if data is None:
        findings.append(Finding("info_csv", "info.csv is missing", "info.csv"))
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        findings.append(Finding("info_csv", "info.csv is not UTF-8 text", "info.csv"))
        return
    if "\r" in text:
        findings.append(Finding("info_csv", "line endings must be LF, not CR LF", "info.csv"))
    lines = text.replace("\r", "").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        findings.append(Finding("info_csv", "info.csv is empty", "info.csv"))
    for number, line in enumerate(lines, 1):
        if not INFO_LINE.match(line):
            findings.append(Finding(
                "info_csv",
                f'line {number} is not "description:","…","manufacturer:","…","version:","…"',
                "info.csv",
            ))  # fmt: skip


def _key_point(cert: x509.Certificate) -> bytes | None:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return None
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _load_certificates(
    raw: dict[str, bytes], findings: list[Finding]
) -> dict[str, tuple[str, x509.Certificate]]:
    """Certificates by the SHA-256 of their public key (the serialNumber of logs)."""
    by_key: dict[str, tuple[str, x509.Certificate]] = {}
    for name, data in sorted(raw.items()):
        try:
            with warnings.catch_warnings():  # old certificates with a negative serial number
                warnings.simplefilter("ignore")
                cert = (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----")
                        else x509.load_der_x509_certificate(data))  # fmt: skip
        except ValueError:
            findings.append(Finding("certificate", "not an X.509 certificate", name))
            continue
        try:
            point = _key_point(cert)
        except UnsupportedAlgorithm as err:
            findings.append(Finding("certificate", f"unsupported public key: {err}", name))
            continue
        if point is None:
            findings.append(Finding("certificate", "the public key is not an EC key", name))
            continue
        by_key[hashlib.sha256(point).hexdigest()] = (name, cert)
    return by_key


def _check_chain(
    name: str, cert: x509.Certificate, certs: list[tuple[str, x509.Certificate]]
) -> str | None:
    """None if ``cert`` chains to a self-signed certificate of the TAR, else why not."""
    if cert.subject == cert.issuer:
        return "the log-signing certificate is self-signed, not issued by a CA"
    current, current_name = cert, name
    for _ in range(8):
        issuers = [(n, c) for n, c in certs if c.subject == current.issuer]
        if not issuers:
            return f"no certificate of the issuer {current.issuer.rfc4514_string()} in the TAR"
        for issuer_name, issuer in issuers:
            try:
                current.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            if issuer.subject == issuer.issuer:
                try:
                    issuer.verify_directly_issued_by(issuer)
                except (ValueError, TypeError, InvalidSignature):
                    return f"the self-signature of the root {issuer_name} does not verify"
                return None
            current, current_name = issuer, issuer_name
            break
        else:
            return f"the signature of {current_name} does not verify with its issuer's key"
    return "the certificate chain is longer than 8"


def _parse_log(
    name: str, data: bytes, certs: dict[str, tuple[str, x509.Certificate]],
    findings: list[Finding],
) -> _Log | None:  # fmt: skip
    try:
        message, signed = load_message(data)
        native: dict[str, Any] = message.native
        oid = native["certified_data_type"]
        if oid == OID_SYSTEM_LOG:
            parse_operation_data(native["operation_type"], native["system_operation_data"])
    except (ValueError, TypeError, KeyError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        findings.append(Finding("parse", f"not a TR-03151 log message: {first}", name))
        return None
    kind = next(k for k, o in _KIND_OIDS.items() if o == oid)
    time_name, log_time = message["log_time"].name, message["log_time"].native
    log = _Log(  # interned: a million logs share a few keys, operations and clients
        name, kind, int(native["signature_counter"]),
        int(log_time) if time_name == "unix_time" else None,
        sys.intern(str(native.get("operation_type") or "")),
        sys.intern(bytes(native["serial_number"]).hex()),
        int(native["transaction_number"]) if kind == "transaction" else None,
        sys.intern(str(native["client_id"])) if kind == "transaction" else None,
    )  # fmt: skip
    _check_name(log, time_name, findings)
    _check_signature(name, native, signed, certs, findings)
    return log


def _check_name(log: _Log, time_name: str, findings: list[Finding]) -> None:
    pattern = {"transaction": TX_NAME, "system": SYS_NAME, "audit": AUD_NAME}[log.kind]
    match = pattern.match(log.file)
    if match is None:
        findings.append(Finding("name_mismatch", f"the content is a {log.kind} log", log.file))
        return
    wrong = []
    if int(match.group("counter")) != log.counter:
        wrong.append(f"signature counter {log.counter}")
    if _FORMATS[match.group("format")] != time_name:
        wrong.append(f"log time format {time_name}")
    elif log.log_time is not None and match.group("time") != str(log.log_time):
        wrong.append(f"log time {log.log_time}")
    if log.kind == "transaction":
        if _OPERATIONS[match.group("op")] != log.operation:
            wrong.append(f"operation {log.operation}")
        if int(match.group("number")) != log.number:
            wrong.append(f"transaction number {log.number}")
        if match.group("client") != log.client:
            wrong.append(f"client {log.client}")
    elif log.kind == "system" and match.group("op") != log.operation:
        wrong.append(f"operation {log.operation}")
    if wrong:
        findings.append(Finding(
            "name_mismatch", f"the name disagrees with the content: {', '.join(wrong)}", log.file
        ))  # fmt: skip


def _check_signature(
    name: str, native: dict[str, Any], signed: bytes,
    certs: dict[str, tuple[str, x509.Certificate]], findings: list[Finding],
) -> None:  # fmt: skip
    serial = bytes(native["serial_number"]).hex()
    if serial not in certs:
        findings.append(Finding("unknown_key", f"no certificate for serial number {serial}", name))
        return
    algorithm = native["signature_algorithm"]["algorithm"]
    digest = HASHES.get(algorithm)
    if digest is None:
        findings.append(Finding("algorithm", f"unsupported signature algorithm {algorithm}", name))
        return
    key = certs[serial][1].public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)  # only EC keys are kept
    signature = bytes(native["signature_value"])
    half = len(signature) // 2
    try:
        der = encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                   int.from_bytes(signature[half:], "big"))  # fmt: skip
        key.verify(der, signed, ec.ECDSA(digest))
    except (InvalidSignature, ValueError):
        findings.append(Finding("signature", "the signature does not verify", name))


def _check_counters(
    logs: list[_Log], start: int | None, end: int | None, filtered: bool,
    findings: list[Finding],
) -> None:  # fmt: skip
    by_counter: dict[int, list[str]] = defaultdict(list)
    for log in logs:
        by_counter[log.counter].append(log.file)
    for counter, files in sorted(by_counter.items()):
        if len(files) > 1:
            findings.append(Finding(
                "counter_duplicate", f"signature counter {counter} in {', '.join(sorted(files))}"
            ))  # fmt: skip
        if (start is not None and counter < start) or (end is not None and counter > end):
            findings.append(Finding(
                "counter_range", f"signature counter {counter} is outside {start}..{end}",
                files[0],
            ))  # fmt: skip
    if filtered or not by_counter:
        return
    present = sorted(c for c in by_counter if (start is None or c >= start)
                     and (end is None or c <= end))  # fmt: skip
    expected_first = start if start is not None else (present[0] if present else None)
    previous = None if expected_first is None else expected_first - 1
    for counter in present:
        if previous is not None and counter > previous + 1:
            missing = (f"{previous + 1}" if counter == previous + 2
                       else f"{previous + 1}..{counter - 1}")  # fmt: skip
            findings.append(Finding("counter_gap", f"signature counter {missing} missing"))
        previous = counter


def _check_transactions(
    logs: list[_Log], partial: bool, filtered: bool, findings: list[Finding]
) -> int:
    """Revisions of each transaction in order; Start logs with consecutive numbers (not for
    a filtered export); a transaction without Start only where the export is complete."""
    by_number: dict[int, list[_Log]] = defaultdict(list)
    for log in logs:
        if log.kind == "transaction" and log.number is not None:
            by_number[log.number].append(log)
    for number, revisions in sorted(by_number.items()):
        revisions.sort(key=lambda r: r.counter)
        ops = [r.operation for r in revisions]
        files = revisions[0].file
        if ops.count("StartTransaction") > 1 or ops.count("FinishTransaction") > 1:
            findings.append(Finding("transaction", f"transaction {number}: {ops}", files))
        elif "StartTransaction" in ops and ops[0] != "StartTransaction":
            findings.append(Finding(
                "transaction", f"transaction {number}: a log precedes its Start", files
            ))  # fmt: skip
        elif "StartTransaction" not in ops and not partial:
            findings.append(Finding("transaction", f"transaction {number} has no Start log",
                                    files))  # fmt: skip
        if "FinishTransaction" in ops and ops[-1] != "FinishTransaction":
            findings.append(Finding(
                "transaction", f"transaction {number}: a log follows its Finish", files
            ))  # fmt: skip
        if len({r.client for r in revisions}) > 1:
            findings.append(Finding("transaction", f"transaction {number}: several clients",
                                    files))  # fmt: skip
    starts = (
        []
        if filtered
        else sorted((r for r in logs if r.operation == "StartTransaction"), key=lambda r: r.counter)
    )
    for before, after in itertools.pairwise(starts):
        if (
            before.number is not None
            and after.number is not None
            and (after.number != before.number + 1)
        ):
            findings.append(Finding(
                "transaction",
                f"the Start logs go from transaction {before.number} to {after.number}",
                after.file,
            ))  # fmt: skip
    return len(by_number)


def verify_tar(
    source: Path | bytes, *, start_counter: int | None = None, end_counter: int | None = None,
    filtered: bool = False, name: str | None = None,
) -> TarReport:  # fmt: skip
    """Verify a TAR export (a path or its bytes). See the module docstring for the checks."""
    label = name or (str(source) if isinstance(source, Path) else "export.tar")
    findings: list[Finding] = []
    archive = _read(source, findings)
    logs: list[_Log] = []
    certificates = 0
    if archive is not None:
        _check_info_csv(archive.info_csv, findings)
        certs = _load_certificates(archive.certificates, findings)
        certificates = len(certs)
        logs = _read_logs(source, certs, findings)
        for key_hash in sorted({log.key for log in logs} & set(certs)):
            cert_name, cert = certs[key_hash]
            if cert_name[:64].lower() != key_hash:  # the TSS certificate is named by its key
                findings.append(Finding(
                    "certificate", f"the name is not the TSS serial number {key_hash}", cert_name
                ))  # fmt: skip
            problem = _check_chain(cert_name, cert, list(certs.values()))
            if problem:
                findings.append(Finding("chain", problem, cert_name))
        partial = filtered or start_counter is not None or end_counter is not None
        _check_counters(logs, start_counter, end_counter, filtered, findings)
        transactions = _check_transactions(logs, partial, filtered, findings)
    else:
        transactions = 0
    counters = [log.counter for log in logs]
    return TarReport(
        source=label,
        transaction_logs=sum(1 for log in logs if log.kind == "transaction"),
        system_logs=sum(1 for log in logs if log.kind == "system"),
        audit_logs=sum(1 for log in logs if log.kind == "audit"),
        certificates=certificates,
        transactions=transactions,
        first_counter=min(counters) if counters else None,
        last_counter=max(counters) if counters else None,
        findings=tuple(findings),
    )
