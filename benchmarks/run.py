"""Measure what flashes cost a server, against hand-written session code.

    python benchmarks/run.py [--requests 200] [--rounds 5] [--chunks 4]
                             [--only callgrind,wrk,redis,micro] [--modes ...]

Needs valgrind, wrk and redis-server (``apt-get install valgrind wrk
redis-server``). It installs aiohttp-flashbag 0.0.3 (no dependencies) into
``benchmarks/.work/seed``; the server loads it from there under another
module name, since it has the same import name as this library, so that all
four modes run side by side in one process against one floor.

Figures:

- callgrind: server-side instructions per request. The server runs under
  ``valgrind --tool=callgrind``; per scenario and mode a warm-up, then N
  requests counted in ``--chunks`` windows (``callgrind_control -z``, N/chunks
  requests, ``callgrind_control -d``), the modes taking turns window by
  window. The modes are side by side in one server process, each its own app
  and port, in an order rotated every round (a new process a round); every
  window starts after a gc.collect(), and the first window of a process is
  thrown away. Ratios are taken against the floor of the same round, then the
  median over the rounds.
- wrk: requests per second, the server pinned to CPU 0 and wrk to CPU 1.
- redis: Redis commands per request, from the server's INFO commandstats.
- micro: in-process timings of the scope and of flashbag_get/flashbag_set.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
SEED_DIR = WORK / "seed"
MODES = ["floor", "decorator", "middleware", "seed"]
SCENARIOS = [
    ("unrelated, no cookie", "/unrelated", None),
    ("unrelated, flash cookie", "/unrelated", "flash"),
    ("page consumes a flash", "/page", "flash"),
    ("page, session without flash", "/page", "session"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def seed_module() -> Path:
    """aiohttp-flashbag 0.0.3's one source file, installed once for the server.

    It has the same import name as this library, so the server loads it from
    this path under another name, and all modes share one process.
    """
    target = SEED_DIR / "aiohttp_flashbag" / "__init__.py"
    if not target.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--target",
                str(SEED_DIR),
                "aiohttp-flashbag==0.0.3",
            ],
            check=True,
        )
    return target


def server_command(
    ports: dict[str, int], redis: int | None = None
) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    args = [
        sys.executable,
        str(HERE / "bench_app.py"),
        "--modes",
        ",".join(ports),
        "--ports",
        ",".join(str(port) for port in ports.values()),
    ]
    if "seed" in ports:
        args += ["--seed", str(seed_module())]
    if redis:
        args += ["--redis", str(redis)]
    return args, env


def wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(port)


@contextmanager
def running(
    args: list[str], env: dict[str, str], ports: list[int]
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for port in ports:
            wait_for(port, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Client:
    """Sequential keep-alive HTTP/1.1 requests, as little client as possible."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
        headers = {"Cookie": cookie} if cookie else {}
        self.conn.request("GET", path, headers=headers)
        resp = self.conn.getresponse()
        resp.read()
        return resp

    def run(self, path: str, cookie: str | None, n: int) -> None:
        for _ in range(n):
            resp = self.get(path, cookie)
            assert resp.status == 200, resp.status

    def close(self) -> None:
        self.conn.close()


Cookies = dict[str | None, str | None]


def prime(client: Client, mode: str, check: bool = True) -> Cookies:
    """The cookies a mode's scenarios send, each checked to hold what it says."""
    cookies: Cookies = {None: None}
    for kind in ("flash", "session"):
        resp = client.get(f"/prime/{kind}")
        header = resp.getheader("Set-Cookie") or ""
        cookies[kind] = header.split(";", 1)[0]
    checks = (("flash", b"Name is required"), ("session", b"=None")) if check else ()
    for kind, expected in checks:
        client.conn.request("GET", "/page", headers={"Cookie": cookies[kind] or ""})
        assert expected in client.conn.getresponse().read(), (mode, kind)
    return cookies


def rotated(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


Results = dict[str, dict[str, list[float]]]


def empty_results() -> Results:
    return {m: {s[0]: [] for s in SCENARIOS} for m in MODES}


def report(round_no: int, mode: str, name: str, figure: str) -> None:
    print(f"  round {round_no + 1} {mode:<10} {name:<28} {figure}", flush=True)


def callgrind_total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise ValueError(f"no totals in {dump}")


def servers(rounds: int) -> Iterator[tuple[int, list[str], dict[str, int]]]:
    """A server process a round: the round, its modes in turn, a port a mode.

    The modes take turns going first, round by round.
    """
    for round_no in range(rounds):
        modes = rotated(MODES, round_no)
        yield round_no, modes, {mode: free_port() for mode in modes}


def counted(
    pid: int, out: Path, client: Client, path: str, cookie: str | None, n: int
) -> int:
    """Instructions the server spends on ``n`` requests, from a clean GC."""
    client.get("/_collect")
    control(pid, "-z")
    client.run(path, cookie, n)
    before = set(WORK.glob(f"{out.name}.{pid}.*"))
    control(pid, "-d")
    (dump,) = set(WORK.glob(f"{out.name}.{pid}.*")) - before
    total = callgrind_total(dump)
    dump.unlink()
    return total


def callgrind(
    requests: int, rounds: int, warmup: int, chunks: int
) -> tuple[Results, Results]:
    """Instructions per request, and per-round ratios to the same process's floor.

    A scenario's requests are split into ``chunks`` rounds of the modes in
    turn, so that whatever drifts in the process over time (timers, caches)
    falls on every mode alike. The first counted window of a process runs
    slower than the rest whatever its mode, so one window is counted and
    thrown away before any figure is kept.
    """
    values, ratios = empty_results(), empty_results()
    per_chunk = max(1, requests // chunks)
    for round_no, modes, ports in servers(rounds):
        args, env = server_command(ports)
        out = WORK / f"cg-{round_no}"
        for old in WORK.glob(f"cg-{round_no}.*"):
            old.unlink()
        vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p"]
        with running(vg + args, env, list(ports.values())) as proc:
            clients = {mode: Client(ports[mode]) for mode in modes}
            cookies = {mode: prime(clients[mode], mode) for mode in modes}
            # Counted, and thrown away.
            first, (_, path, kind) = modes[0], SCENARIOS[0]
            clients[first].run(path, cookies[first][kind], warmup)
            counted(proc.pid, out, clients[first], path, cookies[first][kind], 20)
            for name, path, kind in SCENARIOS:
                for mode in modes:
                    clients[mode].run(path, cookies[mode][kind], warmup)
                totals = dict.fromkeys(modes, 0)
                for chunk in range(chunks):
                    for mode in rotated(modes, chunk):
                        client, cookie = clients[mode], cookies[mode][kind]
                        totals[mode] += counted(
                            proc.pid, out, client, path, cookie, per_chunk
                        )
                measured = {m: totals[m] / (per_chunk * chunks) for m in modes}
                for mode in modes:
                    values[mode][name].append(measured[mode])
                    ratios[mode][name].append(measured[mode] / measured["floor"])
                    report(round_no, mode, name, f"{measured[mode]:>12,.0f} Ir")
            for client in clients.values():
                client.close()
    return values, ratios


def control(pid: int, command: str) -> None:
    subprocess.run(
        ["callgrind_control", command, str(pid)], check=True, capture_output=True
    )


def wrk(seconds: int, rounds: int) -> tuple[Results, Results]:
    """Requests per second, and per-round cost ratios (floor rate / mode rate)."""
    values, ratios = empty_results(), empty_results()
    for round_no, modes, ports in servers(rounds):
        args, env = server_command(ports)
        with running(["taskset", "-c", "0", *args], env, list(ports.values())):
            cookies = {}
            for mode in modes:
                client = Client(ports[mode])
                cookies[mode] = prime(client, mode)
                client.close()
            for name, path, kind in SCENARIOS:
                measured: dict[str, float] = {}
                for mode in modes:
                    cmd = [
                        "taskset",
                        "-c",
                        "1",
                        "wrk",
                        "-t1",
                        "-c8",
                        f"-d{seconds}s",
                    ]
                    if cookies[mode][kind]:
                        cmd += ["-H", f"Cookie: {cookies[mode][kind]}"]
                    cmd.append(f"http://127.0.0.1:{ports[mode]}{path}")
                    out = subprocess.run(
                        cmd, capture_output=True, text=True, check=True
                    ).stdout
                    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
                    assert found, out
                    measured[mode] = float(found.group(1))
                    values[mode][name].append(measured[mode])
                    report(round_no, mode, name, f"{measured[mode]:>10,.0f} req/s")
                for mode in modes:
                    ratios[mode][name].append(measured["floor"] / measured[mode])
    return values, ratios


def redis_commands(requests: int) -> dict[str, dict[str, float]]:
    """Redis commands per request, read from the Redis server itself."""
    import redis as redis_sync

    results: dict[str, dict[str, float]] = {}
    redis_port = free_port()
    server = [
        "redis-server",
        "--port",
        str(redis_port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    with running(server, dict(os.environ), [redis_port]):
        admin = redis_sync.Redis(host="127.0.0.1", port=redis_port)
        ports = {mode: free_port() for mode in MODES}
        args, env = server_command(ports, redis=redis_port)
        with running(args, env, list(ports.values())):
            for mode, port in ports.items():
                client = Client(port)
                results[mode] = redis_mode(admin, client, mode, requests)
                client.close()
    return results


def redis_mode(
    admin: Any, client: Client, mode: str, requests: int
) -> dict[str, float]:
    cookies = prime(client, mode, check=False)  # a check would consume the flash
    # Each session as primed, put back before every request so that "consumes
    # a flash" consumes one every time. Those SETs are the harness's own and
    # are taken off the count.
    primed: dict[str | None, tuple[str | None, Any]] = {}
    for kind, cookie in cookies.items():
        key = f"AIOHTTP_SESSION_{cookie.split('=', 1)[1]}" if cookie else None
        primed[kind] = (key, admin.get(key) if key else None)
    results: dict[str, float] = {}
    for name, path, kind in SCENARIOS:
        url, cookie = path, cookies[kind]
        key, snapshot = primed[kind]
        client.run(url, cookie, 5)
        admin.config_resetstat()
        for _ in range(requests):
            if key and snapshot is not None:
                admin.set(key, snapshot)
            client.run(url, cookie, 1)
        stats = admin.info("commandstats")
        calls = sum(
            int(v["calls"])
            for k, v in stats.items()
            if k.split("|")[0].removeprefix("cmdstat_") not in {"info", "config"}
        )
        if key and snapshot is not None:
            calls -= requests
        results[name] = calls / requests
    return results


def micro() -> dict[str, float]:
    """Nanoseconds per call, in process, for the scope and the two calls."""
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request
    from aiohttp_session import SESSION_KEY, STORAGE_KEY, Session, SimpleCookieStorage

    import aiohttp_flashbag
    from aiohttp_flashbag._scope import run_in_scope

    storage = SimpleCookieStorage()
    stored = [1, {"error": "Name is required"}, []]
    # One real request, its state reset for every call: what the session
    # middleware leaves there (storage, loaded session), nothing of ours.
    req = make_mocked_request("GET", "/page")
    state = req._state

    def request() -> web.Request:
        state.clear()
        state[STORAGE_KEY] = storage
        state[SESSION_KEY] = Session(
            None, data={"session": {"aiohttp_flashbag": stored}}, new=False
        )
        return req

    response = web.Response(text="ok")

    async def handler(req: web.Request) -> web.Response:
        return response

    async def empty_handler(req: web.Request) -> web.Response:
        return response

    loop = asyncio.new_event_loop()
    n = 20_000

    async def scoped_loop() -> None:
        for _ in range(n):
            await run_in_scope(request(), handler)  # type: ignore[call-arg]

    async def bare_loop() -> None:
        for _ in range(n):
            await empty_handler(request())

    def best(fn: object, repeat: int = 5) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            loop.run_until_complete(fn())  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        return min(times) / n * 1e9

    scope_ns = best(scoped_loop) - best(bare_loop)

    async def in_scope() -> tuple[float, float]:
        request()

        async def body(r: web.Request) -> tuple[float, float]:
            get = (
                min(
                    timeit.repeat(
                        lambda: aiohttp_flashbag.flashbag_get(req, "error"),
                        number=n,
                        repeat=5,
                    )
                )
                / n
                * 1e9
            )
            set_ = (
                min(
                    timeit.repeat(
                        lambda: aiohttp_flashbag.flashbag_set(
                            req, "error", "Name is required"
                        ),
                        number=n,
                        repeat=5,
                    )
                )
                / n
                * 1e9
            )
            return get, set_

        return await run_in_scope(req, body)  # type: ignore[call-arg]

    get_ns, set_ns = loop.run_until_complete(in_scope())
    loop.close()
    return {
        "scope around a handler (open, commit that consumes a flash)": scope_ns,
        "flashbag_get": get_ns,
        "flashbag_set (a short str)": set_ns,
    }


def table(title: str, rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    rule = "  ".join("=" * w for w in widths)
    lines = [
        title,
        "",
        rule,
        "  ".join(c.ljust(w) for c, w in zip(rows[0], widths, strict=True)).rstrip(),
        rule,
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows[1:]
    ]
    lines.append(rule)
    return "\n".join(lines)


def ratio_table(title: str, values: Results, ratios: Results, unit: str) -> str:
    rows = [["mode", *[s[0] for s in SCENARIOS]]]
    for mode in MODES:
        cells = [mode]
        for name, *_ in SCENARIOS:
            value = statistics.median(values[mode][name])
            ratio = statistics.median(ratios[mode][name])
            cells.append(f"{value:,.0f} {unit} ({ratio:.3f}x)")
        rows.append(cells)
    return table(title, rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument(
        "--chunks", type=int, default=4, help="callgrind windows a scenario and mode"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--wrk-seconds", type=int, default=5)
    parser.add_argument("--only", default="callgrind,wrk,redis,micro")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    MODES[:] = args.modes.split(",")
    WORK.mkdir(exist_ok=True)
    parts = set(args.only.split(","))
    sections: list[str] = []
    raw: dict[str, object] = {}
    if "callgrind" in parts:
        print("callgrind: instructions per request", flush=True)
        values, ratios = callgrind(args.requests, args.rounds, args.warmup, args.chunks)
        raw["callgrind"] = {"values": values, "ratios": ratios}
        sections.append(
            ratio_table(
                f"Instructions per request, median of {args.rounds} rounds of "
                f"{args.requests} requests (ratio to the floor of the same "
                "process)",
                values,
                ratios,
                "Ir",
            )
        )
    if "wrk" in parts:
        print("wrk: requests per second", flush=True)
        values, ratios = wrk(args.wrk_seconds, args.rounds)
        raw["wrk"] = {"values": values, "ratios": ratios}
        sections.append(
            ratio_table(
                f"Requests per second with wrk, median of {args.rounds} rounds of "
                f"{args.wrk_seconds}s (cost ratio: the floor's rate over the "
                "mode's, same process)",
                values,
                ratios,
                "req/s",
            )
        )
    if "redis" in parts:
        print("redis: commands per request", flush=True)
        res_r = redis_commands(args.requests)
        raw["redis"] = res_r
        rows = [["mode", *[s[0] for s in SCENARIOS]]]
        rows += [[m, *[f"{res_r[m][s[0]]:.2f}" for s in SCENARIOS]] for m in MODES]
        sections.append(
            table("Redis commands per request (RedisStorage, INFO commandstats)", rows)
        )
    if "micro" in parts:
        res_m = micro()
        raw["micro"] = res_m
        rows = [["operation", "ns per call"]] + [
            [k, f"{v:,.0f}"] for k, v in res_m.items()
        ]
        sections.append(table("In-process micro-figures (best of 5)", rows))
    text = "\n\n".join(sections)
    print("\n" + text)
    (WORK / "results.rst").write_text(text + "\n")
    (WORK / "results.json").write_text(json.dumps(raw, indent=2))


if __name__ == "__main__":
    main()
