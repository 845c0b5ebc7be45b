"""Nothing gameday starts is reachable from outside the machine: every listening socket of the
stack's processes, of a run and its load generator, is on loopback."""

from __future__ import annotations

import ipaddress
import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fixtures.safety_harness import Run

from gameday.stack.launcher import Stack
from gameday.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _listening_inodes() -> dict[str, str]:
    """Socket inode → local address of every listening TCP socket on the machine."""
    out = {}
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            if cols[3] == "0A":  # LISTEN
                out[cols[9]] = _address(cols[1].split(":")[0], width)
    return out


def _address(hex_ip: str, width: int) -> str:
    raw = bytes.fromhex(hex_ip)
    # The kernel prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, width // 2, 4))
    return str(ipaddress.ip_address(words))


def _sockets_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (through each /proc entry's parent id)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _exposed(pids: list[int]) -> list[str]:
    """Listening addresses of ``pids`` that are not loopback."""
    listening = _listening_inodes()
    return [
        f"pid {pid} listens on {listening[inode]}"
        for pid in pids
        for inode in _sockets_of(pid) & set(listening)
        if not ipaddress.ip_address(listening[inode]).is_loopback
    ]


def test_every_process_of_the_stack_listens_on_loopback_only(stack: Stack) -> None:
    pids = [child.pid for child in stack.children.values()]
    listening = _listening_inodes()
    assert any(_sockets_of(pid) & set(listening) for pid in pids), "no listener found at all"
    assert _exposed(pids) == []
    for key, url in stack.endpoints.items():
        if isinstance(url, str) and url.startswith("http"):
            assert urlsplit(url).hostname == "127.0.0.1", key


def test_a_run_and_its_load_generator_listen_on_loopback_only(
    stack: Stack, endpoints_file: Path, tmp_path: Path
) -> None:
    run = Run("load.yaml", endpoints_file, tmp_path)
    try:
        run.line_at("load: 2 users", timeout=60)
        pids = wait_until(lambda: _descendants(run.popen.pid)[1:], 10, "locust started")
        assert _exposed([run.popen.pid, *pids]) == []
        run.signal(signal.SIGINT)
        assert run.finish(60) == 3
    finally:
        run.stop()
