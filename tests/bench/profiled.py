"""Run ``tsed.cli.tsed`` with cProfile in every thread (the event loop and the store's writer).

``python -m cProfile`` sees only the main thread; the journal's work runs in the store
thread. Here each thread started after this module gets its own profiler, and at exit all
of them are merged into one pstats file. The clock is each thread's CPU time: a thread
waiting (the store thread on its queue, the event loop in epoll) costs nothing.

    python -m tests.bench.profiled OUT.pstats serve --state-dir ... (the ``tsed.cli.tsed`` argv)
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import sys
import threading
import time
from types import FrameType
from typing import Any

_PROFILES: list[cProfile.Profile] = []


def _thread_started(_frame: FrameType, _event: str, _arg: Any) -> None:
    sys.setprofile(None)
    profile = cProfile.Profile(time.thread_time)
    _PROFILES.append(profile)
    profile.enable()


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    main_profile = cProfile.Profile(time.thread_time)
    threading.setprofile(_thread_started)
    sys.argv = ["tsed", *argv]
    main_profile.enable()
    try:
        runpy.run_module("tsed.cli.tsed", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        main_profile.disable()
        stats = pstats.Stats(main_profile)
        for profile in _PROFILES:
            profile.create_stats()
            stats.add(profile)
        stats.dump_stats(out)


if __name__ == "__main__":
    main()
