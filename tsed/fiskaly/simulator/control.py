"""``/_sim``: fault injection and statistics (exists only in the simulator)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from tsed.fiskaly.simulator.certs import apply_switches
from tsed.fiskaly.simulator.keys import FAULTS_KEY, STATE_KEY
from tsed.fiskaly.simulator.model import TSS_STATES

_LOGGER = logging.getLogger(__name__)


def _answer(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def add_control_routes(app: web.Application) -> None:
    async def get_faults(request: web.Request) -> web.Response:
        return _answer(request.app[FAULTS_KEY].config.to_json())

    async def post_faults(request: web.Request) -> web.Response:
        faults = request.app[FAULTS_KEY]
        state = request.app[STATE_KEY]
        try:
            body = json.loads(await request.read() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            tss_states = body.pop("tss_state", {})
            expire = bool(body.pop("expire_tokens", False))
            apply_switches(state, body)  # certificate validity, BSI certification id
            faults.config.update(body)
            for tss_id, new_state in dict(tss_states).items():
                if new_state not in TSS_STATES or tss_id not in state.tss:
                    raise ValueError(f"tss_state: unknown TSS {tss_id} or state {new_state}")
                tss = state.tss[tss_id]
                tss.state = new_state
                if new_state == "DEFECTIVE":
                    tss.times["time_defective"] = state.now()
                state.save_tss(tss)
            if expire:
                state.token_epoch = state.clock() + 1e-6
        except (ValueError, TypeError) as err:
            return _answer({"error": str(err)}, 400)
        _LOGGER.warning(
            "simulator: faults set: %s", faults.config.to_json(),
            extra={"TSED_EVENT": "sim_faults_changed"},
        )  # fmt: skip
        return _answer(faults.config.to_json())

    async def delete_faults(request: web.Request) -> web.Response:
        request.app[FAULTS_KEY].config.reset()
        return _answer(request.app[FAULTS_KEY].config.to_json())

    async def stats(request: web.Request) -> web.Response:
        faults = request.app[FAULTS_KEY]
        return _answer(
            {"requests": dict(faults.stats), "injected": dict(faults.injected),
             "objects": request.app[STATE_KEY].views()}
        )  # fmt: skip

    app.router.add_get("/_sim/faults", get_faults)
    app.router.add_post("/_sim/faults", post_faults)
    app.router.add_delete("/_sim/faults", delete_faults)
    app.router.add_get("/_sim/stats", stats)
