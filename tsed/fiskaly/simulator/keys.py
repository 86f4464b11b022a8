"""The simulator application's keys: where its routes find the state and the fault engine."""

from __future__ import annotations

from aiohttp import web

from tsed.fiskaly.simulator.engine import SimState
from tsed.fiskaly.simulator.faults import FaultEngine

STATE_KEY: web.AppKey[SimState] = web.AppKey("sim_state", SimState)
FAULTS_KEY: web.AppKey[FaultEngine] = web.AppKey("sim_faults", FaultEngine)
