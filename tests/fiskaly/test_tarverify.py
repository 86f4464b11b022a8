"""The TAR verifier on real simulator exports, intact and damaged in each way an auditor finds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tests.fiskaly.simulator.conftest import PIN, Api, api, server, sim  # noqa: F401 - fixtures
from tests.support.tar import RichExport, build, download_export, members, rich_export
from tsed.fiskaly.simulator import Simulator
from tsed.fiskaly.tarverify import Finding, verify_tar

COUNTER = re.compile(r"_Sig-(\d+)_")


@pytest.fixture
async def export(api: Api) -> RichExport:  # noqa: F811
    return await rich_export(api)


def _counter(name: str) -> int:
    match = COUNTER.search(name)
    assert match
    return int(match.group(1))


def _log_names(files: dict[str, bytes]) -> list[str]:
    return sorted((n for n in files if n.endswith(".log")), key=_counter)


async def test_a_simulator_export_passes(export: RichExport, tmp_path: Path) -> None:
    path = tmp_path / "export.tar"
    path.write_bytes(export.tar)
    report = verify_tar(path)
    assert report.ok, report.lines()
    assert report.findings == ()
    assert (report.transaction_logs, report.transactions, report.audit_logs) == (7, 3, 1)
    assert report.certificates == 2 and report.system_logs >= 9
    assert report.first_counter == 23
    assert report.last_counter == int(export.tss["signature_counter"])
    assert report.to_json()["ok"] is True and report.lines()[0].endswith(": OK")


async def test_one_byte_changed_is_a_bad_signature_of_that_file(export: RichExport) -> None:
    files = members(export.tar)
    finish = next(n for n in _log_names(files) if "_Finish_" in n)
    data = bytearray(files[finish])
    index = data.index(b"Beleg^")  # inside processData: still DER, no longer what was signed
    data[index] ^= 0x01
    files[finish] = bytes(data)
    report = verify_tar(build(files))
    assert report.findings == (Finding("signature", "the signature does not verify", finish),)


async def test_one_file_removed_is_a_counter_gap(export: RichExport) -> None:
    files = members(export.tar)
    names = _log_names(files)
    removed = next(n for n in names[1:-1] if "_Log-Sys_registerClient" in n)
    del files[removed]
    report = verify_tar(build(files))
    assert report.findings == (
        Finding("counter_gap", f"signature counter {_counter(removed)} missing"),
    )


async def test_a_start_log_removed_is_a_gap_and_a_transaction_without_start(
    export: RichExport,
) -> None:
    files = members(export.tar)
    start = next(n for n in _log_names(files) if "_No-2_Start_" in n)
    del files[start]
    codes = [(f.code, f.message) for f in verify_tar(build(files)).findings]
    assert ("counter_gap", f"signature counter {_counter(start)} missing") in codes
    assert ("transaction", "transaction 2 has no Start log") in codes
    assert ("transaction", "the Start logs go from transaction 1 to 3") in codes
    assert len(codes) == 3


async def test_two_files_swapped_are_two_name_mismatches(export: RichExport) -> None:
    files = members(export.tar)
    names = _log_names(files)
    first = next(n for n in names if "_No-1_Finish_" in n)
    second = next(n for n in names if "_No-2_Finish_" in n)
    files[first], files[second] = files[second], files[first]
    report = verify_tar(build(files))
    assert sorted((f.code, f.file) for f in report.findings) == sorted(
        [("name_mismatch", first), ("name_mismatch", second)]
    )
    assert all("signature counter" in f.message and "transaction number" in f.message
               for f in report.findings)  # fmt: skip


async def test_the_same_log_twice_is_a_duplicate_counter(export: RichExport) -> None:
    files = members(export.tar)
    name = _log_names(files)[3]
    copy = name.replace(".log", "_Fc-1.log")
    files[copy] = files[name]
    report = verify_tar(build(files))
    assert [f.code for f in report.findings] == ["counter_duplicate"]
    assert name in report.findings[0].message and copy in report.findings[0].message


async def test_a_missing_ca_certificate_breaks_the_chain(export: RichExport) -> None:
    files = members(export.tar)
    serial = export.tss["serial_number"]
    ca = next(n for n in files if n.endswith("_X509.cer") and not n.startswith(serial))
    del files[ca]
    report = verify_tar(build(files))
    assert [(f.code, f.file) for f in report.findings] == [("chain", f"{serial}_X509.cer")]
    assert "no certificate of the issuer" in report.findings[0].message


async def test_a_self_signed_tss_certificate_is_refused(
    export: RichExport,
    sim: Simulator,  # noqa: F811
) -> None:
    """What the simulator exported before it had a CA: the TSS key signing its own cert."""
    files = members(export.tar)
    cert_name = f"{export.tss['serial_number']}_X509.cer"
    key = sim.state.tss[export.tss_id].private_key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fiskaly Test TSE")])
    now = datetime.now(tz=UTC)
    self_signed = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    files[cert_name] = self_signed.public_bytes(serialization.Encoding.DER)
    assert verify_tar(build(files)).findings == (
        Finding("chain", "the log-signing certificate is self-signed, not issued by a CA",
                cert_name),
    )  # fmt: skip


async def test_info_csv_is_checked(export: RichExport) -> None:
    files = members(export.tar)
    good = files["info.csv"]
    files["info.csv"] = good.replace(b"\n", b"\r\n")
    assert [f.code for f in verify_tar(build(files)).findings] == ["info_csv"]
    # the layout main's simulator wrote: a header row and a value row
    files["info.csv"] = b"manufacturer,model,serial_number\r\ntsed simulator,x,y\r\n"
    assert {f.code for f in verify_tar(build(files)).findings} == {"info_csv"}
    del files["info.csv"]
    assert verify_tar(build(files)).findings == (
        Finding("info_csv", "info.csv is missing", "info.csv"),
    )
    files["info.csv"] = good
    files["notes.txt"] = b"hello"
    assert verify_tar(build(files)).findings == (
        Finding("unexpected_file", "no TR-03151 file name", "notes.txt"),
    )


async def test_a_cut_off_tar_is_truncated(export: RichExport) -> None:
    half = export.tar[: len(export.tar) // 2 // 512 * 512]  # ends on a header boundary
    codes = [f.code for f in verify_tar(half).findings]
    assert codes[0] == "truncated"
    assert verify_tar(half).findings[0].message.startswith("the TAR archive ends early")
    assert verify_tar(export.tar).ok  # the whole file, end-of-archive blocks included


def test_oversized_members_and_odd_names_are_refused_not_read(
    export: RichExport, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tsed.fiskaly import tarverify

    files = members(export.tar)
    log = _log_names(files)[0]
    files["info.csv\x1b[2J"] = b"x"
    monkeypatch.setattr(tarverify, "MAX_MEMBER_BYTES", len(files[log]) - 1)
    report = verify_tar(build(files))
    too_big = [f for f in report.findings if "larger than any file" in f.message]
    assert {f.file for f in too_big} >= {log, "info.csv"}
    assert "\x1b" not in "\n".join(report.lines())  # control characters are not printed


@pytest.mark.parametrize("payload", [b"", b"not a tar at all" * 100, b"\x1f\x8b\x08" + b"\0" * 600])
def test_a_file_that_is_not_a_tar(payload: bytes, tmp_path: Path) -> None:
    path = tmp_path / "export.tar"
    path.write_bytes(payload)
    report = verify_tar(path)
    assert [f.code for f in report.findings] == ["not_a_tar"]
    assert "cannot read the file as a TAR archive" in report.findings[0].message
    assert not report.ok and report.first_counter is None


async def test_a_counter_range_export_is_continuous_within_the_range(api: Api) -> None:  # noqa: F811
    export = await rich_export(api)
    start, end = 26, 32
    tar = await download_export(
        api, export.tss_id, start_signature_counter=str(start), end_signature_counter=str(end)
    )
    files = members(tar)
    assert [_counter(n) for n in _log_names(files)] == list(range(start, end + 1))
    assert verify_tar(tar, start_counter=start, end_counter=end).ok
    # the first log of the range missing: only the range says it should be there
    first = _log_names(files)[0]
    del files[first]
    damaged = build(files)
    assert verify_tar(damaged).ok  # on its own the rest is continuous
    assert verify_tar(damaged, start_counter=start, end_counter=end).findings == (
        Finding("counter_gap", f"signature counter {start} missing"),
    )
    # a log outside the range it claims to cover
    report = verify_tar(tar, start_counter=start + 1, end_counter=end)
    assert [f.code for f in report.findings] == ["counter_range"]


async def test_a_filtered_export_may_have_gaps(api: Api) -> None:  # noqa: F811
    tss_id, client_id = await api.setup_tss()
    await api.sale(tss_id, client_id)
    await api.ok("POST", f"/tss/{tss_id}/admin/auth", {"admin_pin": PIN})  # a system log between
    await api.sale(tss_id, client_id)
    tar = await download_export(api, tss_id, client_id=client_id)
    assert verify_tar(tar, filtered=True).ok
    assert [f.code for f in verify_tar(tar).findings] == ["counter_gap"]
