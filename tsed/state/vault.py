"""Secrets at rest: a JSON file with mode 0600 in the state directory.

Holds the fiskaly API secret, admin PINs/PUKs per TSS, management credentials, the proxy
password and similar. Values are never printed (the repr lists names only) and every value is
registered with the log redactor, so it cannot reach a log record.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tsed.errors import StorageError
from tsed.logs import register_secret
from tsed.state.files import atomic_write

_LOGGER = logging.getLogger(__name__)


class Vault:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, str] = self._load()
        for value in self._data.values():
            register_secret(value)

    def __repr__(self) -> str:
        return f"Vault({str(self.path)!r}, names={sorted(self._data)})"

    def _load(self) -> dict[str, str]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as err:
            raise StorageError(f"cannot read the vault {self.path}: {err.strerror}") from err
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in data.items()
            ):
                raise ValueError("not an object of strings")
        except ValueError as err:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            raise StorageError(
                f"the vault {self.path} is damaged ({err}); it was kept as {aside.name}",
                hint="Restore the vault from a backup, or re-create the credentials (Anlegen) "
                "and run the TSS set-up again.",
            ) from err
        if self.path.stat().st_mode & 0o077:
            os.chmod(self.path, 0o600)
        return data

    def get(self, name: str) -> str | None:
        return self._data.get(name)

    def require(self, name: str) -> str:
        value = self._data.get(name)
        if value is None:
            raise StorageError(f"the vault has no entry {name!r}")
        return value

    def names(self) -> list[str]:
        return sorted(self._data)

    def values(self) -> Iterator[str]:
        return iter(list(self._data.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def set(self, name: str, value: str) -> None:
        self.update({name: value})

    def update(self, values: dict[str, str]) -> None:
        with self._lock:
            data = {**self._data, **values}
            self._write(data)
            self._data = data
        for value in values.values():
            register_secret(value)

    def delete(self, *names: str) -> None:
        with self._lock:
            data = {k: v for k, v in self._data.items() if k not in names}
            if data != self._data:
                self._write(data)
                self._data = data

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True).encode(), mode=0o600)
