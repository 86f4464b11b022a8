"""Retention: fiskaly keeps end-customer data in its cloud only for a limited time.

fiskaly's SIGN DE service description names three months; archiving the TAR exports for the
legal ten years is the operator's job. With ``Limits.retention_seconds`` set, the simulator
forgets, on every request, what is older than that: ended transactions (by ``time_end``),
exports (by ``time_request``) and the signed logs (by their log time), so a later read answers
404 (``E_TX_NOT_FOUND``, ``E_EXPORT_NOT_FOUND``) as fiskaly does and an export holds only what
is left. Open transactions, TSS and clients stay. Without it (the embedded default) nothing is
forgotten.
"""

from __future__ import annotations

import logging

from tsed.fiskaly.simulator.engine import SimState

_LOGGER = logging.getLogger(__name__)


def purge(state: SimState) -> int:
    """Forget what is past the retention; returns how many transactions and exports went."""
    keep = state.limits.retention_seconds
    if keep is None:
        return 0
    cutoff = state.now() - int(keep)
    gone = 0
    for tss_id, txs in state.txs.items():
        old = [t for t in txs.values() if t.time_end is not None and t.time_end < cutoff]
        for tx in old:
            del txs[tx.id]
            state.tx_numbers.get(tss_id, {}).pop(tx.number, None)
        if old and state.persist:
            state.persist.forget("tx", [f"{tss_id}/{tx.id}" for tx in old])
        gone += len(old)
    for tss_id, exports in state.exports.items():
        expired = [e for e in exports.values() if e.time_request < cutoff]
        for export in expired:
            del exports[export.id]
        if expired and state.persist:
            state.persist.forget("export", [f"{tss_id}/{e.id}" for e in expired])
        gone += len(expired)
    for tss_id, logs in state.logs.items():
        if logs and logs[0].log_time < cutoff:
            logs[:] = [entry for entry in logs if entry.log_time >= cutoff]
            if state.persist:
                state.persist.forget_logs(tss_id, cutoff)
    if gone:
        _LOGGER.info(
            "simulator: %d transactions and exports past the retention of %d s forgotten",
            gone, int(keep), extra={"TSED_EVENT": "sim_retention"},
        )  # fmt: skip
    return gone
