"""Run inside a private network namespace (only loopback): announce, browse, update, browse."""

from __future__ import annotations

import asyncio
import io
import json
import sys

from tsed import tsectl
from tsed.net.mdns import Advertiser, discover


async def main() -> None:
    advertiser = Advertiser(
        "KassenSichV-Fiskaly",
        "ab12cd",
        8443,
        mode="TEST",
        pairing=False,
        fingerprint="0123456789abcdef" * 4,
        interfaces=["127.0.0.1"],
    )
    await advertiser.start()
    rival = Advertiser(
        "KassenSichV-Fiskaly",
        "ef3456",
        9443,
        mode="TEST",
        pairing=False,
        fingerprint="f" * 64,
        interfaces=["127.0.0.1"],
    )
    await rival.start()
    first = await discover(1.5, interfaces=["127.0.0.1"])
    out = io.StringIO()
    code = await asyncio.to_thread(
        tsectl.main, ["--json", "discover", "--seconds", "1.5", "--interface", "127.0.0.1"], out=out
    )
    cli = {"code": code, "units": json.loads(out.getvalue())["units"]}
    await advertiser.update(pairing=True, mode="LIVE")
    await asyncio.sleep(0.5)
    second = await discover(1.5, interfaces=["127.0.0.1"])
    await rival.stop()
    await advertiser.stop()
    await advertiser.stop()
    third = await discover(1.5, interfaces=["127.0.0.1"])
    print(
        json.dumps(
            {
                "first": [u.to_json() for u in first],
                "second": [u.to_json() for u in second],
                "third": [u.to_json() for u in third],
                "renamed": rival.instance_name,
                "cli": cli,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
