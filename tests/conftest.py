"""Fixtures shared by the whole suite.

Autouse policing (see STYLE.md lesson 8): every test fails if it leaves asyncio tasks behind,
and proxy/SSL environment variables are cleared so that nothing inherited changes routing.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from tsed.cli.say import set_lang

_ENV_VARS_TO_CLEAR = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "TSED_STATE_DIR",
    "TSED_CONFIG",
    "TSED_LISTEN",
    "TSED_FISKALY_BASE_URL",
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _ENV_VARS_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    # tsectl and the console speak German by default; the suite reads their English lines
    # (tests/texts/ runs them in German, with --lang de, and checks every line it prints)
    monkeypatch.setenv("TSED_LANG", "en")
    set_lang("en")  # and for the printers a test calls itself, outside tsectl's main()
    yield


_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests talk to loopback only: resolving any other name fails like a missing DNS."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name in _LOOPBACK_NAMES or str(name).startswith("127."):
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"{name}: not resolvable in tests")

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield


@pytest.fixture(autouse=True)
async def fail_on_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves tasks running on the loop after it finished."""
    before = set(asyncio.all_tasks())
    yield
    current = asyncio.current_task()

    def running() -> list[asyncio.Task[object]]:
        return [
            task
            for task in asyncio.all_tasks()
            if task not in before and task is not current and not task.done()
        ]

    # Tasks that a stopped server cancelled need a few loop turns to finish unwinding.
    for _ in range(50):
        if not running():
            break
        await asyncio.sleep(0.01)
    leaked = running()
    if leaked:
        for task in leaked:
            task.cancel()
        await asyncio.gather(*leaked, return_exceptions=True)
        gc.collect()
        pytest.fail(f"test leaked {len(leaked)} asyncio task(s): {leaked!r}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow", action="store_true", help="also run the long variants (@pytest.mark.slow)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long variants run only with --slow; their short variants always run."""
    if config.getoption("--slow"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
