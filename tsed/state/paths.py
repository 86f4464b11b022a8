"""Every file and folder of the state directory, named once.

The state directory (``--state-dir``, default :data:`DEFAULT_STATE_DIR`) holds all the unit
keeps between starts. :class:`StatePaths` names each entry; every module takes its paths from
here, so a file name of the state directory is spelled nowhere else in :mod:`tsed`
(``tests/state/test_paths.py`` checks it)::

    tsed.sqlite              the store: registers, transactions, audit log, settings
    vault.json               the secrets (fiskaly API keys, password hashes, proxy password)
    mode                     TEST or LIVE (:mod:`tsed.state.mode`)
    activation.json          the vendor activation, without secrets
    credentials.json         what "Anlegen" created at fiskaly, without secrets
    device.key / .crt / .json  the device identity (key, certificate, id)
    register_sources.json    the addresses registers have connected from
    admin.sock               the admin socket of tsectl and the console
    setup_code.json          the first boot's one-time setup code, hashed (gone once used)
    setup_label.json         the printed label's setup code, hashed (gone once used)
    wizard.json              how far the setup page's first-run wizard got
    exports/<job id>/        finished TAR exports, each described by job.json
    simulator/               the built-in simulator's own state (its files are its own)
    backups/                 the newest encrypted unit backups (tsectl backup create, nightly)
    .restore-*/              a restore being unpacked and checked (tsectl backup restore)
    .replaced-<time>/        what a restore replaced: kept, never deleted
    restore-swap.json        a restore's swap under way (finished at the next start)
    .abandoned-swap-<time>.json  an unreadable swap plan a restore set aside (kept)
    housekeeping.json        the nightly housekeeping's records, the daily health records
    certification.json       per TSS: certificate expiry warned, BSI certification id seen,
                             its changes (reportable events)
    filing.sqlite            the notification duty: master data, reportable events, filings
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ABANDONED_SWAP_PREFIX",
    "ACTIVATION_FILE",
    "ADMIN_SOCKET_NAME",
    "BACKUPS_DIR",
    "CERTIFICATION_FILE",
    "CREDENTIALS_FILE",
    "DEFAULT_STATE_DIR",
    "DEVICE_CERT_FILE",
    "DEVICE_ID_FILE",
    "DEVICE_KEY_FILE",
    "EXPORTS_DIR",
    "EXPORT_JOB_FILE",
    "FILING_FILE",
    "HOUSEKEEPING_FILE",
    "MODE_FILE",
    "REGISTER_SOURCES_FILE",
    "REPLACED_PREFIX",
    "RESTORE_PREFIX",
    "RESTORE_SWAP_FILE",
    "SETUP_CODE_FILE",
    "SETUP_LABEL_FILE",
    "SIMULATOR_DIR",
    "STATE_NAMES",
    "STORE_FILE",
    "UPDATE_DIR",
    "UPDATE_FILE",
    "VAULT_FILE",
    "WIZARD_FILE",
    "StatePaths",
]

DEFAULT_STATE_DIR = "/var/lib/tsed"

STORE_FILE = "tsed.sqlite"
VAULT_FILE = "vault.json"
MODE_FILE = "mode"
ACTIVATION_FILE = "activation.json"
CREDENTIALS_FILE = "credentials.json"
DEVICE_KEY_FILE = "device.key"
DEVICE_CERT_FILE = "device.crt"
DEVICE_ID_FILE = "device.json"
REGISTER_SOURCES_FILE = "register_sources.json"
ADMIN_SOCKET_NAME = "admin.sock"
EXPORTS_DIR = "exports"
EXPORT_JOB_FILE = "job.json"  # in each exports/<job id>/
SIMULATOR_DIR = "simulator"
ARCHIVE_DIR = "archive"  # the fiscal archive: kept by factory-reset
AUDITOR_DIR = "auditor"  # the auditor's exports of the archive (tsectl archive export)
SETUP_CODE_FILE = "setup_code.json"  # the one-time setup code's hash (first boot only)
SETUP_LABEL_FILE = "setup_label.json"  # the printed label's setup code, hashed (tsed-vendor)
WIZARD_FILE = "wizard.json"  # the first-run wizard's step, kept across reloads and restarts
OFFBOX_DIR = "offbox"  # the off-box copy: status, restic's cache, known_hosts
BACKUPS_DIR = "backups"  # the newest encrypted unit backups (tsed.state.backup)
RESTORE_PREFIX = ".restore-"  # a restore's staging folder (tsed.state.restore)
REPLACED_PREFIX = ".replaced-"  # what a restore replaced, kept
RESTORE_SWAP_FILE = "restore-swap.json"  # a restore's swap under way (tsed.state.restoreswap)
ABANDONED_SWAP_PREFIX = ".abandoned-swap-"  # an unreadable swap plan set aside by a restore
DECOMMISSION_FILE = "decommission.json"  # a guided decommissioning, step by step (resumable)
HOUSEKEEPING_FILE = "housekeeping.json"  # the nightly records and daily health records
CERTIFICATION_FILE = "certification.json"  # the certificate and certification watch
FILING_FILE = "filing.sqlite"  # the notification duty (§ 146a Abs. 4 AO): tsed.filing.store
UPDATE_FILE = "update.json"  # the last update's result (tsectl update status)
UPDATE_DIR = "update-download"  # a downloaded bundle (data partition) until installed

# every name above, for the check that no other module spells one
STATE_NAMES = frozenset(
    {
        STORE_FILE,
        ARCHIVE_DIR,
        AUDITOR_DIR,
        OFFBOX_DIR,
        BACKUPS_DIR,
        DECOMMISSION_FILE,
        RESTORE_SWAP_FILE,
        VAULT_FILE,
        MODE_FILE,
        ACTIVATION_FILE,
        CREDENTIALS_FILE,
        DEVICE_KEY_FILE,
        DEVICE_CERT_FILE,
        DEVICE_ID_FILE,
        REGISTER_SOURCES_FILE,
        ADMIN_SOCKET_NAME,
        EXPORTS_DIR,
        EXPORT_JOB_FILE,
        SIMULATOR_DIR,
        SETUP_CODE_FILE,
        SETUP_LABEL_FILE,
        WIZARD_FILE,
        HOUSEKEEPING_FILE,
        CERTIFICATION_FILE,
        FILING_FILE,
        UPDATE_FILE,
        UPDATE_DIR,
    }
)


@dataclass(frozen=True, slots=True)
class StatePaths:
    """The entries of the state directory ``root``."""

    root: Path

    @property
    def store(self) -> Path:
        return self.root / STORE_FILE

    @property
    def vault(self) -> Path:
        return self.root / VAULT_FILE

    @property
    def mode(self) -> Path:
        return self.root / MODE_FILE

    @property
    def activation(self) -> Path:
        return self.root / ACTIVATION_FILE

    @property
    def credentials(self) -> Path:
        return self.root / CREDENTIALS_FILE

    @property
    def device_key(self) -> Path:
        return self.root / DEVICE_KEY_FILE

    @property
    def device_cert(self) -> Path:
        return self.root / DEVICE_CERT_FILE

    @property
    def device_id(self) -> Path:
        return self.root / DEVICE_ID_FILE

    @property
    def register_sources(self) -> Path:
        return self.root / REGISTER_SOURCES_FILE

    @property
    def admin_socket(self) -> Path:
        return self.root / ADMIN_SOCKET_NAME

    @property
    def exports(self) -> Path:
        return self.root / EXPORTS_DIR

    @property
    def simulator(self) -> Path:
        return self.root / SIMULATOR_DIR

    @property
    def archive(self) -> Path:
        return self.root / ARCHIVE_DIR

    @property
    def offbox(self) -> Path:
        return self.root / OFFBOX_DIR

    @property
    def decommission(self) -> Path:
        return self.root / DECOMMISSION_FILE

    @property
    def restore_swap(self) -> Path:
        return self.root / RESTORE_SWAP_FILE

    def abandoned_swap(self, stamp: str) -> Path:
        """Where a restore sets an unreadable swap plan aside (``stamp``: its time)."""
        return self.root / f"{ABANDONED_SWAP_PREFIX}{stamp}.json"

    @property
    def auditor(self) -> Path:
        return self.root / AUDITOR_DIR

    @property
    def backups(self) -> Path:
        return self.root / BACKUPS_DIR

    @property
    def setup_code(self) -> Path:
        return self.root / SETUP_CODE_FILE

    @property
    def setup_label(self) -> Path:
        return self.root / SETUP_LABEL_FILE

    @property
    def wizard(self) -> Path:
        return self.root / WIZARD_FILE

    @property
    def housekeeping(self) -> Path:
        return self.root / HOUSEKEEPING_FILE

    @property
    def certification(self) -> Path:
        return self.root / CERTIFICATION_FILE

    @property
    def filing(self) -> Path:
        return self.root / FILING_FILE

    @property
    def update_result(self) -> Path:
        return self.root / UPDATE_FILE

    @property
    def update_dir(self) -> Path:
        return self.root / UPDATE_DIR
