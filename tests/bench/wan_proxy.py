"""A delaying TCP proxy: the WAN between a shop and fiskaly, in front of the simulator.

Every byte from the client reaches the upstream ``--delay-ms`` after it arrived (in order,
per connection); answers come back at once. A keep-alive HTTP request therefore takes the
delay once per call, for the unit's client and for the direct client alike, and neither the
simulator nor the unit is told about it (the simulator's own ``latency_ms`` fault sleeps
inside the handler instead). Connection set-up is not delayed.

Run by the benchmark:  python -m tests.bench.wan_proxy --listen H:P --upstream H:P --delay-ms N
Prints one line once it serves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal

CHUNK = 65536


async def _delayed_pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    """Copy reader → writer, each chunk ``delay`` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(CHUNK)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
        await sender
    finally:
        sender.cancel()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(OSError):
        writer.write_eof()


async def serve(listen: tuple[str, int], upstream: tuple[str, int], delay: float) -> None:
    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            u_reader, u_writer = await asyncio.open_connection(*upstream)
        except OSError:
            c_writer.close()
            return
        pumps = [
            asyncio.create_task(_delayed_pump(c_reader, u_writer, delay)),
            asyncio.create_task(_pump(u_reader, c_writer)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.ALL_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            for writer in (u_writer, c_writer):
                writer.close()

    server = await asyncio.start_server(handle, *listen)
    print(json.dumps({"listening": f"{listen[0]}:{listen[1]}"}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=_address, required=True)
    parser.add_argument("--upstream", type=_address, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.upstream, args.delay_ms / 1000))


if __name__ == "__main__":
    main()
