"""The TSS views: fiskaly's live figures when it answered, its message when it did not."""

from __future__ import annotations

from tsed.tss.views import TssCounters, TssEntry, TssStatus


def test_a_tss_fiskaly_answered_for_shows_its_live_state_and_counters() -> None:
    entry = TssEntry("tss-1", "TEST", "CREATED", "serial-1",
                     live=TssCounters("INITIALIZED", 33, 1, 1, 0))  # fmt: skip
    assert TssStatus("TEST", "simulator", {"default": entry}).to_json() == {
        "mode": "TEST",
        "backend": "simulator",
        "tss": {"default": {
            "tss_id": "tss-1", "env": "TEST", "state": "INITIALIZED", "serial": "serial-1",
            "signature_counter": 33, "transaction_counter": 1, "registered_clients": 1,
            "active_transactions": 0,
        }},
    }  # fmt: skip


def test_a_tss_fiskaly_did_not_answer_for_shows_the_stored_state_and_why() -> None:
    data = TssEntry("tss-1", "LIVE", "INITIALIZED", None, error="fiskaly is unreachable").to_json()
    assert list(data) == ["tss_id", "env", "state", "serial", "error"]
    assert data["state"] == "INITIALIZED" and data["error"] == "fiskaly is unreachable"
