"""Run inside a private network namespace (only loopback): announce, browse, update, browse."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys

from tsed.cli import tsectl
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


async def conflict() -> None:
    """Two responders claim the same instance name: the later one becomes "<name> (2)"."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("tsed.net.mdns").addHandler(handler)
    logging.getLogger("tsed.net.mdns").setLevel(logging.INFO)

    def twin(port: int) -> Advertiser:
        return Advertiser(
            "Kasse Filiale 7", "ab12cd", port, mode="TEST", pairing=False,
            fingerprint="0" * 64, interfaces=["127.0.0.1"],
        )  # fmt: skip

    first, second, third = twin(8443), twin(9443), twin(10443)
    # A responder multicasts a record at most once a second (RFC 6762 §6), so the next unit
    # joins well after that (with room for a loaded machine's scheduling): the way a second
    # unit meets the first on a real LAN.
    await first.start()
    await asyncio.sleep(2.5)
    await second.start()
    await asyncio.sleep(2.5)
    await third.start()
    found = await discover(1.5, interfaces=["127.0.0.1"])
    names = [first.instance_name, second.instance_name, third.instance_name]
    for advertiser in (third, second, first):
        await advertiser.stop()
    renamed = [r.getMessage() for r in records if getattr(r, "TSED_EVENT", "") == "mdns_renamed"]
    print(json.dumps({"names": names, "renamed_logs": renamed,
                      "found": sorted((u.name, u.port) for u in found)}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(conflict() if sys.argv[1:] == ["conflict"] else main())
    sys.exit(0)
