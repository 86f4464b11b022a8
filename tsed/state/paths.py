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
    exports/<job id>/        finished TAR exports, each described by job.json
    simulator/               the built-in simulator's own state (its files are its own)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ACTIVATION_FILE",
    "ADMIN_SOCKET_NAME",
    "CREDENTIALS_FILE",
    "DEFAULT_STATE_DIR",
    "DEVICE_CERT_FILE",
    "DEVICE_ID_FILE",
    "DEVICE_KEY_FILE",
    "EXPORTS_DIR",
    "EXPORT_JOB_FILE",
    "MODE_FILE",
    "REGISTER_SOURCES_FILE",
    "SIMULATOR_DIR",
    "STATE_NAMES",
    "STORE_FILE",
    "UPDATE_DIR",
    "UPDATE_FILE",
    "VAULT_FILE",
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
OFFBOX_DIR = "offbox"  # the off-box copy: status, restic's cache, known_hosts
UPDATE_FILE = "update.json"  # the last update's result (tsectl update status)
UPDATE_DIR = "update-download"  # a downloaded bundle (data partition) until installed

# every name above, for the check that no other module spells one
STATE_NAMES = frozenset(
    {
        STORE_FILE,
        ARCHIVE_DIR,
        AUDITOR_DIR,
        OFFBOX_DIR,
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
    def auditor(self) -> Path:
        return self.root / AUDITOR_DIR

    @property
    def update_result(self) -> Path:
        return self.root / UPDATE_FILE

    @property
    def update_dir(self) -> Path:
        return self.root / UPDATE_DIR
