"""Benchmark: two versions of the unit side by side, CPU per receipt in the same run.

The machine's speed changes from hour to hour, so a code change is measured against the
previous version at the same time: both units run on one simulator and the load rounds
alternate between them (ABBA...), each round a bounded number of one-call receipts from 50
registers. The other version is a checkout of another commit (``git worktree add``).

Run:  .venv/bin/python -m tests.bench.side_by_side --other ../tsed-old [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.harness import Proc, pair, prepare_unit_state, start_simulator, start_unit
from tests.bench.load import LeanRegisters, run_workers

REGISTERS = 50
PER_ROUND = 1500
ROUND_SECONDS = 5.0
HERE = Path(__file__).resolve().parents[2]


def _tree(root: Path, name: str, source: Path) -> Path:
    """A directory whose ``tsed`` is the version to run and whose ``tests`` are these."""
    tree = root / name
    tree.mkdir()
    (tree / "tsed").symlink_to(source / "tsed")
    (tree / "tests").symlink_to(HERE / "tests")
    return tree


async def compare(other: Path, rounds: int) -> dict[str, tuple[float, int]]:
    with tempfile.TemporaryDirectory(prefix="tsed-side-") as tmp:
        root = Path(tmp)
        trees = {"other": _tree(root, "other", other), "this": _tree(root, "this", HERE)}
        sim = start_simulator()
        units: dict[str, tuple[Proc, LeanRegisters]] = {}
        cwd = Path.cwd()
        try:
            for name, tree in trees.items():
                os.chdir(tree)  # the unit's ``python -m tsed.cli.tsed`` imports this tree's tsed
                state = root / f"state-{name}"
                prepare_unit_state(state)
                unit = await asyncio.to_thread(start_unit, state, sim)
                os.chdir(cwd)
                tokens = await pair(unit, state, [f"ERS {name}-{i}" for i in range(REGISTERS)])
                units[name] = (unit, LeanRegisters(unit, tokens))
            cpu = {name: [0.0, 0] for name in units}
            for index in range(rounds):
                order = ["other", "this"] if index % 2 == 0 else ["this", "other"]
                for name in order:
                    unit, registers = units[name]

                    async def one(worker: int, registers: LeanRegisters = registers) -> None:
                        await registers.one_call(worker)

                    await run_workers(one, REGISTERS, REGISTERS, time.monotonic() + 10)
                    before = unit.cpu_seconds()
                    done = await run_workers(
                        one, PER_ROUND, REGISTERS, time.monotonic() + ROUND_SECONDS
                    )
                    cpu[name][0] += unit.cpu_seconds() - before
                    cpu[name][1] += done
            for _unit, registers in units.values():
                await registers.close()
            return {
                name: (total / count * 1000, int(count)) for name, (total, count) in cpu.items()
            }
        finally:
            os.chdir(cwd)
            for unit, _registers in units.values():
                unit.stop()
            sim.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", type=Path, required=True, help="checkout of the other version")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    if not (args.other / "tsed" / "__init__.py").is_file():
        parser.error(f"{args.other} is not a tsed checkout")
    results = asyncio.run(compare(args.other.resolve(), args.rounds))
    for name, (ms, count) in results.items():
        print(f"{name:6s} {ms:6.2f} ms unit CPU per receipt over {count} receipts")
    change = results["this"][0] / results["other"][0] - 1
    print(f"this tree vs the other: {change:+.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
