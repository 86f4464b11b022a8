"""Simulator switches for the certificate watch: a TSS certificate that expires soon, a
changed BSI certification id.

fiskaly's TSS object carries ``certificate`` (base64 DER X.509 of the TSS signing key, one
year valid in TEST) and ``bsi_certification_id`` (in UNINITIALIZED, INITIALIZED, DISABLED).
Neither changes by itself within a test, so the simulator lets a test (or a register developer
through ``/_sim/faults``) re-issue a TSS's certificate with a shorter validity (same key, so
every signature still verifies against it) and set the certification id it shows.
"""

from __future__ import annotations

import logging
from typing import Any

from tsed.fiskaly.simulator.engine import SimState
from tsed.fiskaly.simulator.support import make_certificate

_LOGGER = logging.getLogger(__name__)
MAX_ID_LENGTH = 100


def reissue_certificate(state: SimState, tss_id: str, valid_days: float) -> str:
    """A new certificate for the TSS's key, valid ``valid_days`` from the simulator's now."""
    if tss_id not in state.tss:
        raise ValueError(f"unknown TSS {tss_id}")
    if not 0 <= valid_days <= 3650:
        raise ValueError(f"valid_days: 0 to 3650 expected, not {valid_days!r}")
    tss = state.tss[tss_id]
    tss.certificate = make_certificate(
        tss.private_key, tss.serial_number, state.clock(), state.ca, valid_days
    )
    state.save_tss(tss)
    _LOGGER.warning("simulator: TSS %s certificate re-issued, valid %g days", tss_id, valid_days)
    return tss.certificate


def set_certification_id(state: SimState, tss_id: str, value: str | None) -> None:
    """The BSI certification id the TSS shows from now on (None: the current default)."""
    if tss_id not in state.tss:
        raise ValueError(f"unknown TSS {tss_id}")
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH):
        raise ValueError("bsi_certification_id: text (1 to 100 characters) or null expected")
    tss = state.tss[tss_id]
    tss.bsi_certification_id = value
    state.save_tss(tss)
    _LOGGER.warning("simulator: TSS %s shows BSI certification id %s", tss_id, value)


def apply_switches(state: SimState, body: dict[str, Any]) -> None:
    """``/_sim/faults`` keys ``tss_certificate_days`` and ``tss_certification_id`` (each a
    map TSS id → value), taken out of ``body``."""
    days = body.pop("tss_certificate_days", {})
    ids = body.pop("tss_certification_id", {})
    if not isinstance(days, dict) or not isinstance(ids, dict):
        raise ValueError("tss_certificate_days and tss_certification_id map TSS ids to values")
    for tss_id, value in days.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"tss_certificate_days: a number of days expected for {tss_id}")
        reissue_certificate(state, str(tss_id), float(value))
    for tss_id, value in ids.items():
        set_certification_id(state, str(tss_id), value)
