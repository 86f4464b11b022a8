"""The first-run wizard's operations: the setup code, the first password in the browser, how far
the wizard got, and the signed TEST receipt at its end.

Wiring code like :mod:`tsed.unit.setup_ops`; the setup code itself is :mod:`tsed.net.setupcode`.
The wizard's step lives in the state directory (``wizard.json``), so a reload of the page, a
second browser or a restart of the unit continues where the installer was.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import segno
from cryptography import x509

from tsed.errors import ConflictError, InputError, ModeError
from tsed.net.passwords import PasswordStatus
from tsed.net.setupcode import SetupCodeWrong
from tsed.signing.outcome import RegisterRef
from tsed.signing.receipt import parse_receipt
from tsed.state.files import atomic_write
from tsed.state.paths import StatePaths
from tsed.unit.context import OpsContext
from tsed.unit.filing_ops import FilingsDue
from tsed.unit.setup_ops import SetupOps, check_password_rule

_LOGGER = logging.getLogger(__name__)

WIZARD_STEPS = 8  # password, name and proxy, test, activation, Anlegen, tenants, pairing, receipt
TEST_RECEIPT = {  # 1,00 EUR cash: what the wizard's "Testbeleg signieren" signs (TEST only)
    "receipt_type": "RECEIPT",
    "amounts_per_vat_rate": [{"vat_rate": "NORMAL", "amount": "1.00"}],
    "amounts_per_payment_type": [{"payment_type": "CASH", "amount": "1.00"}],
}


@dataclass(frozen=True, slots=True)
class WizardState:
    """``GET /admin/v1/wizard``: the step the installer is at (1 to ``steps``), or done."""

    step: int
    steps: int
    done: bool


@dataclass(frozen=True, slots=True)
class SetupCodeView:
    """``GET /admin/v1/setup-code`` (admin socket only): the code, while it is valid."""

    code: str | None
    password_set: bool


@dataclass(frozen=True, slots=True)
class DashboardView:
    """``GET /admin/v1/dashboard``: what the overview shows besides the status and archive."""

    certificate_not_before: str  # the served certificate's validity (ISO 8601, UTC)
    certificate_not_after: str
    filings_due: FilingsDue  # the notification duty's filings due (tsed.unit.filing_ops)


@dataclass(frozen=True, slots=True)
class TestReceipt:
    """``POST /admin/v1/test-receipt``: a TEST receipt the unit signed, with its QR code."""

    mode: str
    register: str
    transaction_number: int
    signature_counter: int
    time_start: str
    time_end: str
    signature: str
    tss_serial_number: str
    client_serial_number: str
    qr_code_data: str
    qr_image: str  # the QR code as an SVG data URI (rendered on the unit: no script needed)


class WizardOps:
    """The wizard's operations group; ``self.d`` is the running unit's :class:`OpsContext`."""

    def __init__(self, context: OpsContext, setup: SetupOps) -> None:
        self.d = context
        self.setup = setup

    @property
    def _path(self) -> Path:
        return StatePaths(self.d.state_dir).wizard

    async def setup_code(self) -> SetupCodeView:
        password_set = (await self.setup.password_status()).set
        return SetupCodeView(code=self.d.setup_code.shown(), password_set=password_set)

    async def first_password(self, code: str, password: str) -> PasswordStatus:
        """The first admin password, set in the browser with the setup code."""
        if (await self.setup.password_status()).set:
            raise ConflictError(
                "the admin password is set already; the setup code is used up",
                hint="Log in with the admin password.",
            )
        if not self.d.setup_code.matches(code):
            raise SetupCodeWrong("the setup code is wrong or no longer valid")
        check_password_rule(password)
        self.d.setup_code.discard()  # before any await: a second request with it now fails
        status = await self.setup.set_password(password, None)
        await self._write(2, done=False)
        return status

    async def dashboard(self) -> DashboardView:
        cert = x509.load_pem_x509_certificate(self.d.identity.cert_path.read_bytes())
        return DashboardView(
            certificate_not_before=cert.not_valid_before_utc.isoformat(),
            certificate_not_after=cert.not_valid_after_utc.isoformat(),
            filings_due=await self.d.filing.filings_due(),
        )

    async def wizard_state(self) -> WizardState:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            step, done = int(data["step"]), bool(data["done"])
        except (OSError, ValueError, KeyError, TypeError):
            # no record: a unit set up before the wizard existed counts as set up
            password = (await self.setup.password_status()).set
            done = password and self.d.config.saved and bool(self.d.registers.rows)
            step = 2 if password else 1
        return WizardState(step=max(1, min(step, WIZARD_STEPS)), steps=WIZARD_STEPS, done=done)

    async def wizard_update(self, step: int | None, done: bool) -> WizardState:
        if step is not None and not 1 <= step <= WIZARD_STEPS:
            raise InputError(f"step: {step} is not a step from 1 to {WIZARD_STEPS}")
        now = await self.wizard_state()
        await self._write(step if step is not None else now.step, done=done)
        return await self.wizard_state()

    async def _write(self, step: int, *, done: bool) -> None:
        atomic_write(self._path, json.dumps({"step": step, "done": done}).encode())

    async def test_receipt(self) -> TestReceipt:
        """Sign a TEST receipt in the name of the first paired register and show it."""
        d = self.d
        if d.mode != "TEST":
            raise ModeError(
                "a test receipt is signed only in TEST mode: in LIVE every receipt is a fiscal "
                "record",
                hint="Sign a real receipt at the register instead.",
            )
        rows = sorted(
            (r for r in d.registers.rows.values() if r.revoked_at is None),
            key=lambda r: r.created_at,
        )
        if not rows:
            raise ConflictError(
                "no register is paired yet", hint="Pair a register first (wizard step 7)."
            )
        row = rows[0]
        ref = RegisterRef(row.id, row.serial, row.tenant_id)
        outcome = await d.signing.sign_receipt(ref, parse_receipt(TEST_RECEIPT))
        if outcome.result is None:
            reason = outcome.failure.reason if outcome.failure else outcome.state
            raise ConflictError(
                f"the TSE did not sign the test receipt: {reason}",
                hint="Run the connection test (step 3), then try again.",
            )
        result = outcome.result
        qr = segno.make(result.qr_code_data, error="m").svg_data_uri(scale=4, border=2)
        _LOGGER.info(
            "test receipt signed for register %s",
            row.id,
            extra={"TSED_EVENT": "test_receipt", "TSED_REGISTER": row.id},
        )
        return TestReceipt(
            mode=outcome.mode, register=row.label or row.serial,
            transaction_number=result.transaction_number,
            signature_counter=result.signature_counter, time_start=result.time_start,
            time_end=result.time_end, signature=result.signature,
            tss_serial_number=result.tss_serial_number,
            client_serial_number=result.client_serial_number,
            qr_code_data=result.qr_code_data, qr_image=qr,
        )  # fmt: skip
