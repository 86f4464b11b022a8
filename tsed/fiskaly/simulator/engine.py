"""The simulator's state and rules: organizations, API keys, tokens, TSS, admin, clients.

Transactions live in :mod:`.transactions`, exports in :mod:`.exports`; both operate on the
:class:`SimState` defined here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import string
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from tsed.fiskaly.simulator.metadata import Patch, initial, merge
from tsed.fiskaly.simulator.model import (
    ENVS,
    ApiKey,
    Client,
    Env,
    Export,
    LogEntry,
    Organization,
    SimError,
    Transaction,
    Tss,
)
from tsed.fiskaly.simulator.persist import SimPersistence, one_commit
from tsed.fiskaly.simulator.signedlogs import ADMIN_USER, deploy_logs, load_ca, system_log
from tsed.fiskaly.simulator.support import (
    Limits,
    TokenInfo,
    b64url,
    make_certificate,
    random_key,
    random_secret,
    verify_token,
)
from tsed.fiskaly.tr03151 import public_key_bytes

_LOGGER = logging.getLogger(__name__)
_ALNUM_LOWER = string.ascii_lowercase + string.digits
_ALNUM = string.ascii_letters + string.digits


class SimState:
    """All of the simulator's data and the rules that do not concern transactions."""

    def __init__(
        self,
        *,
        state_dir: Path | None = None,
        token_ttl: int = 86400,
        refresh_ttl: int = 172800,
        clock: Callable[[], float] = time.time,
        limits: Limits | None = None,
    ) -> None:
        self.clock = clock
        self.token_ttl = token_ttl
        self.refresh_ttl = refresh_ttl
        self.limits = limits or Limits()
        self.orgs: dict[str, Organization] = {}
        self.keys: dict[str, ApiKey] = {}
        self.tss: dict[str, Tss] = {}
        self.clients: dict[str, Client] = {}
        self.txs: dict[str, dict[str, Transaction]] = {}
        self.tx_numbers: dict[str, dict[int, str]] = {}
        self.active_tx: dict[str, int] = {}
        self.exports: dict[str, dict[str, Export]] = {}
        self.logs: dict[str, list[LogEntry]] = {}
        self.token_epoch = 0.0
        self.list_calls: dict[str, list[float]] = {}
        self.persist = SimPersistence(state_dir) if state_dir is not None else None
        secret = self.persist.setting("token_secret") if self.persist else None
        if secret is None:
            secret = secrets.token_hex(32)
            if self.persist:
                self.persist.set_setting("token_secret", secret)
        self._token_secret = bytes.fromhex(secret)
        self.ca = load_ca(self.persist, self.clock())
        self._verified: dict[str, dict[str, Any]] = {}
        if self.persist:
            self._load()

    # -- persistence ------------------------------------------------------------------------

    def _load(self) -> None:
        assert self.persist is not None
        for org in self.persist.load_orgs():
            self.orgs[org.id] = org
        for key in self.persist.load_keys():
            self.keys[key.key] = key
        for tss in self.persist.load_tss():
            self.tss[tss.id] = tss
        for client in self.persist.load_clients():
            self.clients[client.id] = client
        for tx in self.persist.load_txs():
            self.txs.setdefault(tx.tss_id, {})[tx.id] = tx
            self.tx_numbers.setdefault(tx.tss_id, {})[tx.number] = tx.id
            if tx.state == "ACTIVE":
                self.active_tx[tx.tss_id] = self.active_tx.get(tx.tss_id, 0) + 1
        for export in self.persist.load_exports():
            self.exports.setdefault(export.tss_id, {})[export.id] = export
        for entry in self.persist.load_logs():
            self.logs.setdefault(entry.tss_id, []).append(entry)
        for tss in self.tss.values():  # a state from before one_commit: counters may lag
            tss.transaction_counter = max(
                [tss.transaction_counter, *self.tx_numbers.get(tss.id, {})]
            )
            logs = self.logs.get(tss.id, [])
            tss.signature_counter = max([tss.signature_counter, *(e.counter for e in logs)])

    def close(self) -> None:
        if self.persist:
            self.persist.close()
            self.persist = None

    def now(self) -> int:
        return int(self.clock())

    # -- organizations and keys -------------------------------------------------------------

    def create_org(
        self, name: str, *, managed_by: str | None = None, vat_id: str | None = None, **extra: Any
    ) -> Organization:
        org = Organization(
            str(uuid.uuid4()), name, self.now(), managed_by=managed_by, vat_id=vat_id, extra=extra
        )
        self.orgs[org.id] = org
        if self.persist:
            self.persist.save_org(org)
        return org

    def add_key(
        self,
        env: Env,
        *,
        organization_id: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        name: str = "sim",
    ) -> ApiKey:
        if env not in ENVS:
            raise ValueError(f"env must be TEST or LIVE, not {env!r}")
        if api_key is not None and api_key in self.keys:
            existing = self.keys[api_key]
            if api_secret is not None and not hmac.compare_digest(existing.secret, api_secret):
                raise ValueError(f"API key {api_key} exists with another secret")
            return existing
        if organization_id is None:
            organization_id = self.create_org(f"Simulated organization ({env})").id
        key = ApiKey(
            id=str(uuid.uuid4()),
            key=api_key
            or (
                random_key(name) if env == "TEST" else random_key(name).replace("test_", "live_", 1)
            ),
            secret=api_secret or random_secret(),
            env=env,
            organization_id=organization_id,
            name=name,
            created_at=self.now(),
        )
        self.keys[key.key] = key
        if self.persist:
            self.persist.save_key(key)
        return key

    # -- tokens -----------------------------------------------------------------------------

    def _sign_token(self, claims: dict[str, Any]) -> str:
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        mac = hmac.new(self._token_secret, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{b64url(mac.digest())}"

    def issue_tokens(self, org_id: str, env: Env, api: str) -> dict[str, Any]:
        now = self.clock()
        access_exp = now + self.token_ttl
        refresh_exp = now + self.refresh_ttl
        common = {"organization": org_id, "env": env, "iat": now, "api": api}
        access = self._sign_token(
            {**common, "exp": access_exp, "jti": str(uuid.uuid4()), "typ": "Bearer"}
        )
        refresh = self._sign_token(
            {**common, "exp": refresh_exp, "jti": str(uuid.uuid4()), "typ": "Refresh"}
        )
        return {
            "access_token": access,
            "access_token_claims": {"env": env, "organization_id": org_id},
            "access_token_expires_in": int(access_exp - now),
            "access_token_expires_at": int(access_exp),
            "refresh_token": refresh,
            "refresh_token_expires_in": int(refresh_exp - now),
            "refresh_token_expires_at": int(refresh_exp),
        }

    def decode_token(self, token: str, kind: str) -> TokenInfo | None:
        claims = self._verified.get(token)  # every call checks the same few tokens
        if claims is None:
            claims = verify_token(self._token_secret, token)
            if claims is None:
                return None
            if len(self._verified) >= 4096:
                self._verified.clear()
            self._verified[token] = claims
        expected = "Bearer" if kind == "access" else "Refresh"
        now = self.clock()
        if claims.get("typ") != expected or claims["exp"] <= now:
            return None
        if claims["iat"] < self.token_epoch:
            return None
        return TokenInfo(
            claims["jti"], claims["organization"], claims["env"], claims["iat"], claims["exp"],
            kind, claims.get("api", "v2"),
        )  # fmt: skip

    def authenticate(self, body: Any, api: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise SimError(400, "E_FAILED_SCHEMA_VALIDATION", "request body must be an object")
        if "refresh_token" in body:
            info = self.decode_token(str(body["refresh_token"]), "refresh")
            if info is None or info.api != api:
                raise SimError(401, "E_UNAUTHORIZED", "Invalid refresh token")
            return self.issue_tokens(info.organization_id, info.env, api)
        api_key, api_secret = body.get("api_key"), body.get("api_secret")
        if not isinstance(api_key, str) or not isinstance(api_secret, str):
            raise SimError(
                400,
                "E_FAILED_SCHEMA_VALIDATION",
                "body must contain api_key and api_secret, or refresh_token",
            )
        key = self.keys.get(api_key)
        if key is None or not hmac.compare_digest(key.secret, api_secret):
            raise SimError(401, None, "Invalid credentials")
        if key.status != "enabled":
            raise SimError(401, "E_UNAUTHORIZED", "API key is disabled")
        return self.issue_tokens(key.organization_id, key.env, api)

    # -- TSS ------------------------------------------------------------------------------

    def tss_for(self, token: TokenInfo, tss_id: str) -> Tss:
        tss = self.tss.get(tss_id)
        if tss is None:
            raise SimError(404, "E_TSS_NOT_FOUND", f"TSS {tss_id} not found")
        if tss.env != token.env:
            raise SimError(403, "E_ACCESS_DENIED", "You may not access this TSS")
        if tss.organization_id != token.organization_id:
            raise SimError(403, "E_ACCESS_DENIED", "You may not access this resource")
        return tss

    def save_tss(self, tss: Tss) -> None:
        if self.persist:
            self.persist.save_tss(tss)

    def system_log(self, tss: Tss, operation: str, **fields: Any) -> None:
        """Sign a system log (consumes one signature counter, kept for exports)."""
        system_log(self, tss, operation, **fields)

    @one_commit
    def create_tss(self, token: TokenInfo, tss_id: str, metadata: Patch) -> Tss:
        existing = self.tss.get(tss_id)
        if existing is not None:
            self.tss_for(token, tss_id)
            if existing.state != "CREATED":
                raise SimError(409, "E_TSS_CONFLICT", f"TSS {tss_id} already exists")
            existing.metadata = merge(existing.metadata, metadata)
            self.save_tss(existing)
            return existing
        mine = [t for t in self.tss.values() if t.organization_id == token.organization_id]
        if token.env == "TEST":
            active = [  # the limit counts TEST TSS only
                t for t in mine
                if t.env == "TEST" and t.state in ("CREATED", "UNINITIALIZED", "INITIALIZED")
            ]  # fmt: skip
            if len(active) >= self.limits.max_test_tss:
                raise SimError(
                    403,
                    "E_TSS_LIMIT_REACHED",
                    f"at most {self.limits.max_test_tss} TSS may be active in TEST; "
                    "disable one first",
                )
        today = self.now() - 86400
        if sum(1 for t in mine if t.time_creation > today) >= self.limits.max_tss_per_day:
            raise SimError(403, "E_TSS_LIMIT_PER_DAY_REACHED", "TSS creation limit per day")
        key = ec.generate_private_key(ec.SECP256R1())
        public = public_key_bytes(key)
        serial = hashlib.sha256(public).hexdigest()
        tss = Tss(
            id=tss_id,
            env=token.env,
            organization_id=token.organization_id,
            private_key=key,
            public_key=public,
            serial_number=serial,
            certificate=make_certificate(key, serial, self.clock(), self.ca),
            time_creation=self.now(),
            admin_puk="".join(secrets.choice(string.digits) for _ in range(10)),
            metadata=initial(metadata),
        )
        self.tss[tss_id] = tss
        self.save_tss(tss)
        _LOGGER.info("simulator: TSS %s created (%s)", tss_id, token.env)
        return tss

    def usable(self, tss: Tss, *, for_tx: bool = False) -> None:
        """Raise the error fiskaly gives for a TSS that cannot do this now."""
        if tss.state == "DEFECTIVE":
            raise SimError(423, "E_TSS_DEFECTIVE", "The TSS is defective; create a new TSS")
        if tss.state == "DELETED":
            raise SimError(423, "E_TSS_DELETED", "The TSS was deleted")
        if tss.state == "EVICTED":
            raise SimError(423, "E_TSS_EVICTED", "The TSS was evicted")
        if tss.locked:
            raise SimError(503, "E_TSS_LOCKED", "The TSS is locked for maintenance", retry_after=1)
        if for_tx:
            if tss.state == "DISABLED":
                raise SimError(400, "E_TSS_DISABLED", "The TSS is disabled")
            if tss.state != "INITIALIZED":
                raise SimError(400, "E_TSS_NOT_INITIALIZED", "The TSS is not initialized")

    def require_admin(self, tss: Tss, token: TokenInfo) -> None:
        if token.jti not in tss.admin_sessions:
            raise SimError(
                401, "E_UNAUTHORIZED", "admin authentication required for this operation"
            )

    @one_commit
    def update_tss(
        self, token: TokenInfo, tss: Tss, state: str | None, description: str | None,
        metadata: Patch,
    ) -> Tss:  # fmt: skip
        self.usable(tss)
        if state is None or state == tss.state:
            if description is not None:
                raise SimError(400, "E_FAILED_SCHEMA_VALIDATION", "description only on init")
            tss.metadata = merge(tss.metadata, metadata)
            self.save_tss(tss)
            return tss
        allowed = {
            ("CREATED", "UNINITIALIZED"),
            ("UNINITIALIZED", "INITIALIZED"),
            ("UNINITIALIZED", "DISABLED"),
            ("INITIALIZED", "DISABLED"),
        }
        if (tss.state, state) not in allowed:
            raise SimError(
                400, "E_ILLEGAL_TSS_STATE_CHANGE", f"cannot change state {tss.state} → {state}"
            )
        if description is not None and state != "INITIALIZED":
            raise SimError(400, "E_FAILED_SCHEMA_VALIDATION", "description only on init")
        if state in ("INITIALIZED", "DISABLED"):
            if tss.pin_blocked:
                raise SimError(423, "E_ADMIN_PIN_BLOCKED", "admin PIN is blocked")
            self.require_admin(tss, token)
        now = self.now()
        if state == "UNINITIALIZED":
            deploy_logs(self, tss)
            tss.times["time_uninit"] = now
        elif state == "INITIALIZED":
            tss.description = description or f"fiskaly sign cloud-TSE ({tss.id})"
            self.system_log(tss, "initialize", description=tss.description)
            tss.times["time_init"] = now
        else:
            self.system_log(tss, "disableSecureElement", time_of_deactivation=now)
            tss.times["time_disable"] = now
        tss.state = state
        tss.metadata = merge(tss.metadata, metadata)
        self.save_tss(tss)
        return tss

    @one_commit
    def change_pin(self, tss: Tss, puk: str, new_pin: str) -> None:
        self.usable(tss)
        if tss.state not in ("UNINITIALIZED", "INITIALIZED"):
            raise SimError(400, "E_ILLEGAL_TSS_STATE_CHANGE", f"PIN change in {tss.state}")
        if not hmac.compare_digest(tss.admin_puk, puk):
            raise SimError(400, "E_CHANGE_ADMIN_PIN_FAILED", "wrong admin PUK")
        tss.admin_pin = new_pin
        tss.pin_blocked = False
        tss.failed_logins = 0
        self.system_log(tss, "unblockUser", user_id=ADMIN_USER, unblock_result="ok")
        self.save_tss(tss)

    @one_commit
    def admin_login(self, token: TokenInfo, tss: Tss, pin: str) -> None:
        self.usable(tss)
        if tss.pin_blocked or tss.admin_pin is None:
            raise SimError(423, "E_ADMIN_PIN_BLOCKED", "admin PIN is blocked; set it with the PUK")
        if not hmac.compare_digest(tss.admin_pin, pin):
            tss.failed_logins += 1
            if tss.failed_logins >= 5:
                tss.pin_blocked = True
            self.system_log(
                tss, "authenticateUser", user_id=ADMIN_USER, role="admin",
                authentication_result=False,
            )  # fmt: skip
            self.save_tss(tss)
            raise SimError(401, "E_UNAUTHORIZED", "wrong admin PIN")
        tss.failed_logins = 0
        tss.admin_sessions.add(token.jti)
        self.system_log(
            tss, "authenticateUser", user_id=ADMIN_USER, role="admin", authentication_result=True
        )
        self.save_tss(tss)

    @one_commit
    def admin_logout(self, token: TokenInfo, tss: Tss) -> None:
        self.usable(tss)
        if token.jti in tss.admin_sessions:
            tss.admin_sessions.discard(token.jti)
            self.system_log(tss, "logOut", user_id=ADMIN_USER, log_out_cause="user")
            self.save_tss(tss)

    # -- clients --------------------------------------------------------------------------

    def save_client(self, client: Client) -> None:
        if self.persist:
            self.persist.save_client(client)

    def registered_clients(self, tss_id: str) -> int:
        return sum(
            1 for c in self.clients.values() if c.tss_id == tss_id and c.state == "REGISTERED"
        )

    @one_commit
    def create_client(
        self, token: TokenInfo, tss: Tss, client_id: str, serial: str, metadata: Patch
    ) -> Client:
        self.usable(tss, for_tx=True)
        existing = self.clients.get(client_id)
        if existing is not None:
            if existing.tss_id == tss.id and existing.serial_number == serial:
                return existing  # idempotent (changelog 2.0.33)
            raise SimError(
                409, "E_CLIENT_CONFLICT", "client or pending request for this client_id exists"
            )
        self.require_admin(tss, token)
        for other in self.clients.values():
            if other.tss_id == tss.id and other.serial_number == serial:
                raise SimError(
                    400, "E_ILLEGAL_CLIENT_SERIAL", f"serial number {serial!r} already in use"
                )
        if self.registered_clients(tss.id) >= self.limits.max_clients:
            raise SimError(
                403,
                "E_CLIENT_LIMIT_REACHED",
                f"at most {self.limits.max_clients} registered clients per TSS",
            )
        client = Client(client_id, tss.id, serial, tss.env, self.now(), metadata=initial(metadata))
        self.clients[client_id] = client
        self.system_log(tss, "registerClient", client_id=serial)
        self.save_client(client)
        self.save_tss(tss)
        return client

    def client_for(self, tss: Tss, client_id: str) -> Client:
        client = self.clients.get(client_id)
        if client is None or client.tss_id != tss.id:
            raise SimError(404, "E_CLIENT_NOT_FOUND", f"client {client_id} not found")
        return client

    @one_commit
    def update_client(
        self, token: TokenInfo, tss: Tss, client: Client, state: str, metadata: Patch
    ) -> Client:
        self.usable(tss)
        if tss.state == "DISABLED":
            raise SimError(400, "E_TSS_DISABLED", "The TSS is disabled")
        self.require_admin(tss, token)
        if state != client.state:
            if state == "REGISTERED" and self.registered_clients(tss.id) >= self.limits.max_clients:
                raise SimError(403, "E_CLIENT_LIMIT_REACHED", "registered client limit reached")
            client.state = state
            self.system_log(
                tss, "registerClient" if state == "REGISTERED" else "deregisterClient",
                client_id=client.serial_number,
            )  # fmt: skip
            self.save_tss(tss)
        client.metadata = merge(client.metadata, metadata)
        client.time_update = self.now()
        self.save_client(client)
        return client

    def views(self) -> dict[str, Any]:
        return {"tss": len(self.tss), "clients": len(self.clients)}
