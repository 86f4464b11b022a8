"""The notification duty's surroundings for the submission tests: a filing service with one
premises (``f1``) and one paired register (``r-1``) that SUBMIT DE accepts, the register's
SIGN DE client in the simulator, a SUBMIT DE client maker (fixtures in
``tests/filing/conftest.py``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tsed.filing.service import FilingService
from tsed.filing.store import FilingStore
from tsed.fiskaly.simulator import Simulator

ADDRESS = {"street": "Hauptstraße", "house_number": "1", "zip_code": "70173", "town": "Stuttgart"}
REGISTER = {"premises": "f1", "maker": "Kassen AG", "model": "K1", "software": "Kasse Pro",
            "purchased_on": "2026-01-02"}  # fmt: skip
TRIGGER = "PUT /api/submission/v1/submission/{submission_id}/transmission"  # the sim's stats key


async def filled_service(path: Path) -> FilingService:
    """An open filing store at ``path`` with the master data of premises ``f1``."""
    store = FilingStore(path)
    await store.open()
    service = FilingService(store)
    await service.set_taxpayer("default", {"name": "Huber GmbH", "tax_number": "2893081508152",
                                           **ADDRESS})  # fmt: skip
    await service.set_premises("f1", "default", {"name": "Filiale 1", **ADDRESS})
    await service.set_register("S1", REGISTER)
    await service.register_paired("r-1", "S1", "default", {"software_version": "4.2"})
    return service


def sim_states(sim: Simulator) -> list[str]:
    return [sim.submit.state_of(s)[0] for s in sim.submit.submissions.values()]


def old_reader(path: Path) -> list[tuple[Any, ...]]:
    """What the release before the resume data does with ``path`` (its rules, written out):
    refuse a version above 1, read ``SELECT *`` into its six fields, write a submission with
    six values; returns the rows it read."""
    db = sqlite3.connect(path)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        assert version <= 1, f"the older tsed refuses the file (schema {version})"
        rows = db.execute("SELECT * FROM submissions ORDER BY created_at").fetchall()
        assert all(len(row) == 6 for row in rows), rows  # its SubmissionRow has six fields
        db.execute("INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?, ?)",
                   ("sub-old", "f1", "CREATED", 9e9, 9e9, None))  # fmt: skip
        db.execute("DELETE FROM submissions WHERE id = 'sub-old'")
        db.commit()
        return rows
    finally:
        db.close()
