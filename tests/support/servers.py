"""Start real processes for tests: free ports, readiness, teardown."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes], timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def require_binary(name: str, apt_package: str) -> str:
    """The binary's path; skips locally, fails in CI, when it is missing."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if os.path.exists(p)),
        None,
    )
    if path is None:
        message = f"{name} is not installed (apt-get install {apt_package})"
        if IN_CI:
            pytest.fail(message + "; CI must run this test")
        pytest.skip(message)
    return path


@contextlib.contextmanager
def process(
    args: list[str], *ports: int, timeout: float = 20, **kwargs: object
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``args`` until the block ends; ready once every one of ``ports`` accepts.

    ``kwargs`` go to ``subprocess.Popen`` (by default its output is dropped).
    """
    options: dict[str, object] = {
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        **kwargs,
    }
    proc = subprocess.Popen(args, **options)  # type: ignore[call-overload]
    try:
        for port in ports:
            wait_for_port(port, proc, timeout)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def gunicorn(pythonpath: str, app: str, workers: int, port: int) -> list[str]:
    """The command that serves ``app`` (``module:factory``) on ``workers``
    aiohttp workers of gunicorn, behind one socket on 127.0.0.1:``port``.
    """
    return [
        sys.executable,
        "-m",
        "gunicorn",
        *("--pythonpath", pythonpath, app),
        *("--worker-class", "aiohttp.GunicornWebWorker"),
        *("--workers", str(workers), "--bind", f"127.0.0.1:{port}"),
        *("--graceful-timeout", "5"),
    ]


@contextlib.contextmanager
def example(name: str, *extra: str) -> Iterator[str]:
    """Start ``examples/NAME.py`` as a user would; yields its base URL."""
    port = free_port()
    args = [
        sys.executable,
        str(ROOT / "examples" / f"{name}.py"),
        "--port",
        str(port),
        *extra,
    ]
    with process(args, port, cwd=str(ROOT)):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def redis_server() -> Iterator[int]:
    """A throw-away redis-server on 127.0.0.1; yields its port."""
    binary = require_binary("redis-server", "redis-server")
    port = free_port()
    args = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
    ]
    with process(args, port):
        yield port


@contextlib.contextmanager
def memcached_server() -> Iterator[int]:
    """A throw-away memcached on 127.0.0.1; yields its port."""
    binary = require_binary("memcached", "memcached")
    port = free_port()
    args = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0"]
    if os.geteuid() == 0:
        args += ["-u", "root"]  # memcached refuses to run as root otherwise
    with process(args, port):
        yield port
