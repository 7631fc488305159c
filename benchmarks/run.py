"""What flashes cost a server, against hand-written session code.

A quick run (a few minutes; the full one takes the defaults)::

    .venv/bin/python benchmarks/run.py --rounds 3 --micro off

All options::

    .venv/bin/python benchmarks/run.py [--rounds 5] [--requests 200]
        [--windows 4] [--modes floor,decorator,...] [--scenarios 1,3]
        [--micro fast|default|rigorous|off]

Needs valgrind (``apt-get install valgrind``) and the ``test`` extra. The
script installs two things into ``benchmarks/.work``: aiohttp-flashbag 0.0.3,
which the server loads under another module name (it has this library's
import name) so that every mode runs in one process, and pyperf, which times
the micro-figures (``micro.py``).

The main figure is server-side instructions per request. The server
(``bench_app.py``) runs under ``valgrind --tool=callgrind`` with every mode
side by side, each its own app on its own port. Per scenario each mode's
requests are counted in windows (``gc.collect()``, ``callgrind_control -z``,
the window's requests, ``callgrind_control -d``), the modes taking turns
window by window, so that whatever drifts in the process over time falls on
all of them alike. A mode's first window in a scenario counts a few hundred
thousand instructions more than its others (several million in the process's
very first window), so every scenario starts with one turn of windows that
is counted and thrown away. A scenario with a flash message sends its
requests at the three lengths of ``bench_app.LENGTHS`` in turn (whose
cookies differ in base64 padding, and so in quoting), each window a multiple
of three requests, so its figure is the mean over the three lengths, as a
user's messages vary. Each round is a new process, the order of the modes
rotated; each ratio is taken to the floor of the same process, and the
tables show the median over the rounds. The tables are reStructuredText, as
in docs/performance.rst, and also go to ``benchmarks/.work/results.rst``.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
sys.path.insert(0, str(ROOT))

from bench_app import LENGTHS, MODES, PRIME, SCENARIOS, message  # noqa: E402

from tests.support.servers import free_port, process  # noqa: E402

Cookies = dict[str | None, list[str | None]]  # kind -> one a length
Requests = list[tuple[str, str | None]]  # (path, cookie), taken in turn
Figures = dict[str, dict[str, list[float]]]  # mode -> scenario -> one a round


def installed(requirement: str, into: Path, probe: str, *options: str) -> Path:
    """``into``, where pip installs ``requirement`` unless ``probe`` is there."""
    if not (into / probe).exists():
        pip = [sys.executable, "-m", "pip", "install", "-q", "--target", str(into)]
        subprocess.run([*pip, *options, requirement], check=True)
    return into


class Client:
    """Sequential keep-alive requests, as little client as possible."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(
        self, path: str, cookie: str | None = None, status: int = 200
    ) -> tuple[str, str | None]:
        """The page's text, and the cookie it sets (``name=value``) if any.

        A redirect is not followed: it is the response ``status`` asks for.
        """
        self.conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        resp = self.conn.getresponse()
        text = resp.read().decode()
        if resp.status != status:
            raise RuntimeError(f"GET {path}: {resp.status} {text}")
        set_cookie = resp.getheader("Set-Cookie")
        return text, set_cookie.split(";", 1)[0] if set_cookie else None

    def cookies(self) -> Cookies:
        """The cookies the scenarios send, each checked to hold what it says."""
        cookies: Cookies = {None: [None] * len(LENGTHS), "flash": [], "session": []}
        for length in LENGTHS:
            for kind, shown in (("flash", message(length)), ("session", "None")):
                cookie = self.get(PRIME[kind].format(length=length))[1]
                page = self.get("/page", cookie)[0]
                assert page == f"page error={shown}", (self.conn.port, kind, page)
                cookies[kind].append(cookie)
        return cookies


def rotated(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


def counted(pid: int, client: Client, requests: Requests, status: int, n: int) -> int:
    """Instructions the server spends on ``n`` requests, from a clean GC,
    taking the ``(path, cookie)`` of ``requests`` in turn."""
    client.get("/_collect")
    control = ["callgrind_control", "-z", str(pid)]
    subprocess.run(control, check=True, capture_output=True)
    for i in range(n):
        path, cookie = requests[i % len(requests)]
        client.get(path, cookie, status)
    before = set(WORK.glob(f"cg.{pid}.*"))
    control[1] = "-d"
    subprocess.run(control, check=True, capture_output=True)
    (dump,) = set(WORK.glob(f"cg.{pid}.*")) - before
    lines = dump.read_text().splitlines()
    dump.unlink()
    return next(int(line.split()[1]) for line in lines if line.startswith("totals:"))


def callgrind_round(
    modes: list[str], args: argparse.Namespace, per_window: int
) -> dict[str, dict[str, float]]:
    """One server process: scenario -> mode -> instructions per request."""
    ports = {mode: free_port() for mode in modes}
    server = [
        *("valgrind", "--tool=callgrind", f"--callgrind-out-file={WORK}/cg.%p"),
        *(sys.executable, str(HERE / "bench_app.py"), "--modes", ",".join(ports)),
        *("--ports", ",".join(str(port) for port in ports.values())),
    ]
    if "seed" in modes:
        seed = WORK / "seed"
        installed("aiohttp-flashbag==0.0.3", seed, "aiohttp_flashbag", "--no-deps")
        server += ["--seed", str(seed / "aiohttp_flashbag" / "__init__.py")]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    figures: dict[str, dict[str, float]] = {}
    with (
        (WORK / "server.log").open("wb") as log,
        process(server, *ports.values(), timeout=600, env=env, stderr=log) as proc,
    ):
        clients = {mode: Client(ports[mode]) for mode in modes}
        cookies = {mode: clients[mode].cookies() for mode in modes}
        for name, path, kind, status in args.scenarios:
            paths = [path.format(length=length) for length in LENGTHS]
            requests = {
                m: list(zip(paths, cookies[m][kind], strict=True)) for m in modes
            }
            totals = dict.fromkeys(modes, 0)
            # The first turn is thrown away: a mode's first window in a
            # scenario counts more than its others, whatever the mode.
            for window in range(-1, args.windows):
                for mode in rotated(modes, window):
                    client = clients[mode]
                    n = counted(proc.pid, client, requests[mode], status, per_window)
                    totals[mode] += n if window >= 0 else 0
            figures[name] = {
                m: t / (per_window * args.windows) for m, t in totals.items()
            }
            line = "  ".join(f"{m} {v:,.0f}" for m, v in figures[name].items())
            print(f"  {name}: {line}", flush=True)
    for leftover in WORK.glob(f"cg.{proc.pid}*"):
        leftover.unlink()
    return figures


def callgrind(
    args: argparse.Namespace, modes: list[str], per_window: int
) -> tuple[Figures, Figures]:
    """Instructions per request and ratios to the floor, one of each a round."""
    values: Figures = {m: {s[0]: [] for s in args.scenarios} for m in modes}
    ratios: Figures = {m: {s[0]: [] for s in args.scenarios} for m in modes}
    for round_no in range(args.rounds):
        print(f"round {round_no + 1} of {args.rounds}", flush=True)
        figures = callgrind_round(rotated(modes, round_no), args, per_window)
        for name, per_mode in figures.items():
            for mode, value in per_mode.items():
                values[mode][name].append(value)
                ratios[mode][name].append(value / per_mode["floor"])
    return values, ratios


def micro(level: str) -> list[list[str]]:
    """Rows of the micro-figures table, from pyperf's results."""
    tools = installed("pyperf==2.10.0", WORK / "pyperf", "pyperf")
    out = WORK / "micro.json"
    out.unlink(missing_ok=True)
    level_option = [] if level == "default" else [f"--{level}"]
    command = [sys.executable, str(HERE / "micro.py"), *level_option, "--quiet"]
    command += ["-o", str(out)]
    path = os.pathsep.join([str(tools), str(ROOT)])
    subprocess.run(command, env={**os.environ, "PYTHONPATH": path}, check=True)
    sys.path.insert(0, str(tools))
    suite = importlib.import_module("pyperf").BenchmarkSuite.load(str(out))
    ns = {b.get_name(): (b.mean() * 1e9, b.stdev() * 1e9) for b in suite}
    scope = (
        ns["scope"][0] - ns["handler"][0],
        math.hypot(ns["scope"][1], ns["handler"][1]),
    )
    rows = [
        ("scope around a handler (open, commit that consumes a flash)", scope),
        ("flashbag_get", ns["flashbag_get"]),
        ("flashbag_set (a short str)", ns["flashbag_set"]),
    ]
    header = ["operation", "ns per call (mean ± std dev)"]
    return [header] + [[op, f"{mean:,.0f} ± {dev:,.0f}"] for op, (mean, dev) in rows]


def table(title: str, rows: list[list[str]]) -> str:
    """A reStructuredText simple table under its title."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rule = "  ".join("=" * width for width in widths)

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    return "\n".join([title, "", rule, line(rows[0]), rule, *map(line, rows[1:]), rule])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="server processes")
    parser.add_argument("--requests", type=int, default=200, help="a scenario+mode")
    parser.add_argument("--windows", type=int, default=4, help="a scenario+mode")
    parser.add_argument("--modes", default=",".join(MODES), help="with the floor")
    parser.add_argument(
        "--scenarios",
        default=",".join(str(i + 1) for i in range(len(SCENARIOS))),
        help=f"their numbers, 1 to {len(SCENARIOS)}, in the order of the table",
    )
    parser.add_argument(
        "--micro", choices=["fast", "default", "rigorous", "off"], default="default"
    )
    args = parser.parse_args()
    modes = args.modes.split(",")
    if "floor" not in modes or not set(modes) <= set(MODES):
        parser.error(f"--modes: the floor and any of {', '.join(MODES)}")
    args.scenarios = [SCENARIOS[int(n) - 1] for n in args.scenarios.split(",")]
    WORK.mkdir(exist_ok=True)
    # Whole turns of the message lengths in every window.
    per_window = len(LENGTHS) * math.ceil(args.requests / args.windows / len(LENGTHS))
    values, ratios = callgrind(args, modes, per_window)
    rows = [["mode", *[name for name, *_ in args.scenarios]]]
    for mode in modes:
        cells = [mode]
        for name, *_ in args.scenarios:
            value = statistics.median(values[mode][name])
            ratio = statistics.median(ratios[mode][name])
            cells.append(f"{value:,.0f} Ir ({ratio:.3f}x)")
        rows.append(cells)
    sections = [
        table(
            f"Instructions per request, median of {args.rounds} rounds of "
            f"{per_window * args.windows} requests (ratio to the floor of the "
            "same process)",
            rows,
        )
    ]
    if args.micro != "off":
        sections.append(table("In-process micro-figures (pyperf)", micro(args.micro)))
    text = "\n\n".join(sections)
    print("\n" + text)
    (WORK / "results.rst").write_text(text + "\n")


if __name__ == "__main__":
    main()
