"""The signing service's background tasks: spawned in one place, stopped together.

Late signing, recovery, the upstream start and the register's work that goes on after its
deadline all run behind an answer. :class:`Background` keeps them, so that stopping
the service waits for them (or cancels what the journal can redo) and no task is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

_T = TypeVar("_T")


class Background:
    """A set of running tasks; ``stopping`` while :meth:`stop` runs (no follow-ups then)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False

    def spawn(self, coro: Coroutine[Any, Any, _T], name: str) -> asyncio.Task[_T]:
        task = asyncio.create_task(coro, name=name)
        self.adopt(task)
        return task

    def adopt(self, task: asyncio.Task[Any]) -> None:
        """Keep a task made elsewhere (a register's work that outlives its answer)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(
        self,
        grace: float,
        *,
        cancel: str,
        also: Callable[[], Iterable[asyncio.Task[Any]]] = tuple,
    ) -> None:
        """Cancel the tasks named ``cancel`` at once (what they wait for is in the journal),
        give the others and those of ``also`` up to ``grace`` seconds, then cancel the rest."""
        self.stopping = True
        try:
            ends = time.monotonic() + grace
            for task in self._tasks:
                if task.get_name() == cancel:
                    task.cancel()
            # Tasks may spawn follow-ups while they finish (late signing): until none are left.
            while tasks := [t for t in (*self._tasks, *also()) if not t.done()]:
                _done, pending = await asyncio.wait(
                    tasks, timeout=max(0.0, ends - time.monotonic())
                )
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            self._tasks.clear()
        finally:
            self.stopping = False
