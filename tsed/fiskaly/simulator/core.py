"""The :class:`Simulator` facade: state, limits, faults and seeded credentials."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tsed.fiskaly.simulator.certs import reissue_certificate, set_certification_id
from tsed.fiskaly.simulator.engine import SimState
from tsed.fiskaly.simulator.faults import FaultConfig, FaultEngine
from tsed.fiskaly.simulator.model import Env
from tsed.fiskaly.simulator.persist import SCHEMA_VERSION, stored_version
from tsed.fiskaly.simulator.submitstate import SubmitState
from tsed.fiskaly.simulator.support import Limits, SimCredentials


class Simulator:
    """A faithful offline stand-in for fiskaly SIGN DE API V2 (and Management API v0)."""

    SCHEMA_VERSION = SCHEMA_VERSION  # of its state directory's database

    @staticmethod
    def stored_version(state_dir: Path) -> int | None:
        """The schema version of the state in ``state_dir`` (None: none yet); a simulator
        refuses a newer one (:class:`~.persist.SimStateTooNew`)."""
        return stored_version(state_dir)

    def __init__(
        self,
        *,
        state_dir: Path | None = None,
        token_ttl: int = 86400,
        refresh_ttl: int = 172800,
        clock: Callable[[], float] = time.time,
        limits: Limits | None = None,
    ) -> None:
        self.state = SimState(
            state_dir=state_dir,
            token_ttl=token_ttl,
            refresh_ttl=refresh_ttl,
            clock=clock,
            limits=limits,
        )
        self.fault_engine = FaultEngine()
        # fiskaly SUBMIT DE (§ 146a Abs. 4 AO), in the same database as SIGN DE's objects
        self.submit = SubmitState.opened(clock, self.state.persist)

    @property
    def faults(self) -> FaultConfig:
        return self.fault_engine.config

    @property
    def stats(self) -> Counter[str]:
        return self.fault_engine.stats

    @property
    def limits(self) -> Limits:
        return self.state.limits

    def add_api_key(
        self,
        env: Env,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        organization_id: str | None = None,
    ) -> SimCredentials:
        """Seed an API key (generated when not given); idempotent for an existing key."""
        key = self.state.add_key(
            env, organization_id=organization_id, api_key=api_key, api_secret=api_secret
        )
        return SimCredentials(key.key, key.secret, key.env, key.organization_id)

    def expire_tokens(self) -> None:
        """Invalidate every token issued so far (forced token expiry)."""
        self.state.token_epoch = self.state.clock() + 1e-6

    def set_tss_state(self, tss_id: str, state: str) -> None:
        """Force a TSS into a system-driven state (DEFECTIVE, DELETED, EVICTED)."""
        tss = self.state.tss[tss_id]
        tss.state = state
        if state == "DEFECTIVE":
            tss.times["time_defective"] = self.state.now()
        self.state.save_tss(tss)

    def reissue_certificate(self, tss_id: str, valid_days: float) -> None:
        """Give the TSS a certificate (same key) that expires ``valid_days`` from now."""
        reissue_certificate(self.state, tss_id, valid_days)

    def set_certification_id(self, tss_id: str, value: str | None) -> None:
        """The BSI certification id the TSS shows (None: the current one)."""
        set_certification_id(self.state, tss_id, value)

    def close(self) -> None:
        self.submit.persist = None
        self.state.close()
