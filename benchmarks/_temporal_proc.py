"""Helpers of ``bench_temporal``: free ports, a child process's CPU, a process that is always
ended, and the assistant and threads the runs use."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import openai

__all__ = [
    "KEY",
    "RESULTS",
    "ROOT",
    "TOOLS",
    "cpu_s",
    "free_port",
    "make_threads",
    "pct",
    "process",
    "self_cpu",
    "wait_port",
]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TOOLS = "adapters.demo:ORDER_TOOLS"
KEY = "sk-bench-temporal-0123456789"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def cpu_s(pid: int) -> float:
    """user + system CPU seconds of a live process."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@contextlib.contextmanager
def process(
    command: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def make_threads(base_url: str, count: int) -> tuple[str, list[str]]:
    """One assistant and ``count`` threads with the question."""
    from adapters.demo import ORDER_TOOLS, QUESTION

    client = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assistant = client.beta.assistants.create(
            model="gpt-4o-mini",
            tools=ORDER_TOOLS.definitions(),  # type: ignore[arg-type]
        )
        threads = []
        for _ in range(count):
            thread = client.beta.threads.create()
            client.beta.threads.messages.create(thread.id, role="user", content=QUESTION)
            threads.append(thread.id)
    client.close()
    return assistant.id, threads
