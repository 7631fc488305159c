"""Instructions per flash: one request setting many messages, and a page
consuming them (docs/performance.rst, "Growth").

    .venv/bin/python benchmarks/growth.py

Runs the app of ``tests/unit/test_growth.py`` (a server-side session storage,
``max_bytes=None``) in-process under ``valgrind --tool=callgrind``, once a
count of flashes, with the garbage collector off during the requests, and
takes the difference per flash beyond the first. It
checks the bounds: at most 10,000 instructions per flash set and 5,000 per
flash consumed, at 200 flashes, and the same per flash at 2,000.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COUNTS = (1, 200, 2000)
BOUNDS = {"set": 10_000, "consume": 5_000}


async def requests(count: int, page: bool) -> None:
    """Prime a session, set ``count`` messages, and (``page``) consume them."""
    from aiohttp.test_utils import TestClient, TestServer

    from tests.unit.test_growth import app

    async with TestClient(TestServer(app())) as client:
        await client.get("/prime")
        # The collector is off while the flashes are set and consumed: its
        # passes fall when counts of objects cross thresholds, so one run
        # would pay for a pass that the next, a few flashes longer, does not
        # (a swing of over a million instructions, thousands a flash at
        # 200). Collected once before, so that every run starts alike.
        gc.collect()
        gc.disable()
        resp = await client.get(f"/flash/{count}", allow_redirects=False)
        assert resp.status == 303
        if page:
            assert await (await client.get("/")).text() == str(count)


def instructions(count: int, page: bool) -> int:
    """Instructions of a whole process that runs :func:`requests`."""
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "cg.out"
        command = [
            *("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
            *(sys.executable, __file__, "--inner", str(count), str(int(page))),
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(done.stderr)
        text = out.read_text()
    return int(re.search(r"^totals: (\d+)", text, re.MULTILINE)[1])  # type: ignore[index]


def main() -> None:
    if sys.argv[1:2] == ["--inner"]:
        asyncio.run(requests(int(sys.argv[2]), sys.argv[3] == "1"))
        return
    runs = {(n, page): instructions(n, page) for n in COUNTS for page in (False, True)}
    per_flash: dict[tuple[str, int], float] = {}
    for n in COUNTS[1:]:
        set_cost = (runs[n, False] - runs[1, False]) / (n - 1)
        page = runs[n, True] - runs[n, False] - (runs[1, True] - runs[1, False])
        consume = page / (n - 1)
        per_flash["set", n], per_flash["consume", n] = set_cost, consume
        print(f"{n:>5} flashes: set {set_cost:,.0f}, consume {consume:,.0f} Ir a flash")
    failed = [
        f"{what}: {per_flash[what, 200]:,.0f} Ir a flash at 200 (at most {bound:,})"
        for what, bound in BOUNDS.items()
        if per_flash[what, 200] > bound
    ] + [
        f"{what}: {per_flash[what, 2000] / per_flash[what, 200]:.2f} times the "
        "cost a flash at 2,000 as at 200"
        for what in BOUNDS
        if not 0.8 < per_flash[what, 2000] / per_flash[what, 200] < 1.25
    ]
    if failed:
        raise SystemExit("\n".join(failed))


if __name__ == "__main__":
    main()
