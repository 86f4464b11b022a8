"""A login flood from many loopback addresses, in a process of its own.

    python -m tests.support.flood BASE_URL CAFILE ADDRESSES ATTEMPTS

Prints ``started`` once its clients exist, then one JSON line: how many answers of each
status it got. Bounded: ADDRESSES x ATTEMPTS requests, each with a 60 s timeout.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from collections import Counter

import httpx


async def flood(base_url: str, cafile: str, addresses: int, attempts: int) -> Counter[int]:
    context = ssl.create_default_context(cafile=cafile)
    clients = [
        httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(verify=context, local_address=f"127.0.1.{n}"),
            base_url=base_url,
            timeout=60,
        )
        for n in range(1, addresses + 1)
    ]
    statuses: Counter[int] = Counter()

    async def one(client: httpx.AsyncClient) -> None:
        for i in range(attempts):
            answer = await client.post("/setup/login", json={"password": f"falsch-{i}"})
            statuses[answer.status_code] += 1

    print("started", flush=True)
    try:
        await asyncio.gather(*(one(c) for c in clients))
    finally:
        for client in clients:
            await client.aclose()
    return statuses


if __name__ == "__main__":
    url, ca, count, each = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(asyncio.run(flood(url, ca, count, each))), flush=True)
