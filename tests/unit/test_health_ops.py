"""The housekeeping run on demand (``POST /admin/v1/health/run``, ``tsectl health run``) in a
real unit on the built-in simulator: one run at a time, followed to its end, recorded like a
night; stopping the daemon during a run ends it cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.support.unit import running_unit
from tsed.texts.notices import ids, texts
from tsed.tss.certwatch import CertificateStatus
from tsed.unit.health_ops import certificate_notice
from tsed.unit.housekeeping import Housekeeping

STEPS = ["abandon", "archive", "reconcile", "certificates", "selfcheck"]


@pytest.mark.timeout(120)
async def test_a_run_on_demand_is_followed_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_unit(tmp_path / "state") as unit:
        daemon = unit.daemon
        daemon.archive.archiver.poll_interval = 0.1
        hk: Housekeeping = daemon.running.ops.housekeeping
        register = await unit.pair()
        await register.receipt()

        transport = httpx.AsyncHTTPTransport(uds=str(daemon.options.admin_socket))
        async with httpx.AsyncClient(transport=transport, base_url="http://tsed") as admin:
            started = await admin.post("/admin/v1/health/run")
            assert started.status_code == 202 and started.json()["running"] is True
            again = await admin.post("/admin/v1/health/run")  # one run at a time
            body = again.json()["error"]
            assert again.status_code == 409 and body["code"] == "CONFLICT"
            assert body["text"]["de"]["message"] == "Die Wartung läuft bereits."
            for _ in range(600):
                if not (await admin.get("/admin/v1/health")).json()["running"]:
                    break
                await asyncio.sleep(0.1)
            health = (await admin.get("/admin/v1/health")).json()
        assert health["running"] is False and health["last"]["reason"] == "on demand"
        assert [s["step"] for s in health["last"]["steps"]] == STEPS
        archive = next(s for s in health["last"]["steps"] if s["step"] == "archive")
        assert archive["result"] == "ok", archive  # the receipt's signatures archived
        with contextlib.closing(sqlite3.connect(unit.state_dir / "tsed.sqlite")) as db:
            audit = db.execute("SELECT actor FROM audit WHERE action = 'housekeeping_run'")
            assert [row[0] for row in audit] == ["admin"]

        # tsectl health run: waits for the end, prints the record; a failed run exits 1 (the
        # configuration is not saved yet: the self-check's connection test fails)
        selfcheck = next(s for s in health["last"]["steps"] if s["step"] == "selfcheck")
        assert selfcheck["result"] == "failed" and health["last"]["result"] == "failed"
        monkeypatch.setenv("TSED_LANG", "de")
        code, out = await unit.tsectl("health", "run")
        shown = capsys.readouterr()  # a failed run's record goes to stdout before the error
        assert code == 1 and "Letzte Nacht:" in shown.out and "Zertifikat:" in shown.out
        assert "Die Wartung endete mit FEHLER." in shown.err, shown.err
        assert "Wartung: Schritt" in shown.err, shown.err  # progress on stderr
        code, out = await unit.tsectl("--json", "config", "set", "name", "Laden Mitte")
        assert code == 0, out
        code, out = await unit.tsectl("--json", "health", "run")
        record = json.loads(out)
        assert code == 0 and record["last"]["reason"] == "on demand" and not record["running"]
        assert record["last"]["result"] in ("ok", "warn"), record["last"]
        assert len(hk.log.records()) == 1  # the same day: the newer record replaces it

        # a run that stops before its record: tsectl never shows the earlier record as its own
        async def broken(reason: str) -> None:
            raise RuntimeError("the routine broke")

        monkeypatch.setattr(hk, "run", broken)
        code, out = await unit.tsectl("health", "run")
        shown = capsys.readouterr()
        assert code == 1 and "Der Wartungslauf endete ohne eigenen Bericht." in shown.err
        assert "Letzte Nacht:" not in shown.out
        monkeypatch.undo()

        hk.start_run()  # stopped mid-run: the daemon's stop ends it, nothing left running
    assert not hk.running


def test_an_unreadable_certificate_is_a_notice_of_tsectl_status() -> None:
    """The setup page's banner names an unreadable certificate; tsectl status does too."""
    unreadable = CertificateStatus("default", "tss-1", None, None, None, None,
                                   error="the certificate cannot be read")  # fmt: skip
    found = certificate_notice(unreadable)
    assert found is not None and texts([found])[0].startswith("Das Zertifikat der TSE tss-1")
    assert ids([found])[0]["id"] == "notice.certificate.unreadable"
    fine = CertificateStatus("default", "tss-1", 1.9e9, 300, None, "BSI-K-TR-0490-2021")
    assert certificate_notice(fine) is None
