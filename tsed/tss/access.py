"""Access to fiskaly: the one place a fiskaly client is built.

:class:`FiskalyAccess` says where the unit reaches fiskaly (the URLs follow the mode) and how
(the shop's proxy from the configuration, its password from the vault, timeouts, the retry
policy); every SIGN DE, Management API and SUBMIT DE client of the unit comes from its
:meth:`~FiskalyAccess.sign_client`, :meth:`~FiskalyAccess.management_client` and
:meth:`~FiskalyAccess.submit_client`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tsed.config.model import Config, fiskaly_urls
from tsed.fiskaly import SubmitClient
from tsed.fiskaly.client import FiskalyClient
from tsed.fiskaly.management import ManagementClient
from tsed.fiskaly.models import AuthToken
from tsed.fiskaly.transport import ProxySettings, RetryPolicy, Timeouts
from tsed.state.mode import Mode
from tsed.state.vault import Vault

PROXY_PASSWORD = "proxy.password"  # noqa: S105 - the vault entry name


def proxy_settings(config: Config, vault: Vault) -> ProxySettings | None:
    """The shop's proxy: host, port and user from the configuration, password from the vault."""
    if config.proxy is None:
        return None
    return ProxySettings(
        config.proxy.host, config.proxy.port, config.proxy.username, vault.get(PROXY_PASSWORD)
    )


@dataclass(frozen=True, slots=True)
class FiskalyAccess:
    """Where and how the unit reaches fiskaly (URLs follow the mode; the proxy is config)."""

    sign_url: str
    management_url: str
    proxy: ProxySettings | None = None
    timeouts: Timeouts | None = None
    retry: RetryPolicy | None = None
    clock: Callable[[], float] = time.time  # the wall clock a token's expiry is judged by

    @classmethod
    def from_config(
        cls, config: Config, vault: Vault, mode: Mode, environ: Mapping[str, str]
    ) -> FiskalyAccess:
        urls = fiskaly_urls(mode, environ)
        return cls(urls.sign, urls.management, proxy_settings(config, vault))

    def sign_client(
        self,
        api_key: str,
        api_secret: str,
        on_auth: Callable[[AuthToken], None] | None = None,
    ) -> FiskalyClient:
        return FiskalyClient(
            api_key=api_key, api_secret=api_secret, base_url=self.sign_url, proxy=self.proxy,
            timeouts=self.timeouts, retry=self.retry, on_auth=on_auth, clock=self.clock,
        )  # fmt: skip

    def management_client(self, api_key: str, api_secret: str) -> ManagementClient:
        return ManagementClient(
            api_key=api_key, api_secret=api_secret, base_url=self.management_url,
            proxy=self.proxy, timeouts=self.timeouts, retry=self.retry,
        )  # fmt: skip

    def submit_client(self, api_key: str, api_secret: str) -> SubmitClient:
        """fiskaly SUBMIT DE (the filing of § 146a Abs. 4 AO), on the SIGN DE host."""
        return SubmitClient(
            api_key=api_key, api_secret=api_secret, base_url=self.sign_url, proxy=self.proxy,
            timeouts=self.timeouts, retry=self.retry,
        )  # fmt: skip
