"""Secrets in environment files (``sink_token``, passwords in URLs) never appear in anything
gameday prints or writes: progress, verdicts, results, reports, history, recover."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from fixtures.safety_harness import Run, dead_owner, recover

from gameday.injectors.base import Target
from gameday.stack.launcher import Stack
from gameday.undo.journal import Entry, Journal

TOKEN = "tok-9f2c41d7e0-sink"
PASSWORD = "pw-3b8e55a1c6-url"


def _with_password(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"gameday:{PASSWORD}@{parts.netloc}"))


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for s in (TOKEN, PASSWORD) if s.encode() in data]


def _leaking_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and _leaks(p.read_bytes())]


@pytest.mark.integration
@pytest.mark.slow
def test_a_run_never_shows_the_environments_secrets(stack: Stack, tmp_path: Path) -> None:
    endpoints = stack.endpoints
    env = tmp_path / "env.json"  # outside the folder searched below: it holds them, of course
    env.write_text(json.dumps({
        **endpoints,
        "sink_token": TOKEN,
        "toxiproxy": _with_password(endpoints["toxiproxy"]),
        "alertmanager": _with_password(endpoints["alertmanager"]),
    }))  # fmt: skip
    out = tmp_path / "out"
    run = Run("kill.yaml", env, out, "--ttl-margin", "2", "--report", str(out / "report"),
              "--junit", str(out / "junit.xml"), "--markdown", str(out / "summary.md"),
              "--history", str(out / "history.sqlite"))  # fmt: skip
    try:
        code = run.finish(120)
    finally:
        run.stop()
    # no load crosses the latency toxic here, so the run may end inconclusive: that is fine,
    # what is checked is everything it printed and wrote
    assert code in (0, 1, 3) and "safety-kill: ABORTED" not in run.output, run.output
    assert "network.latency on feature-store" in run.output  # the fault did go through
    assert _leaks(run.output) == []
    assert run.results.exists() and (out / "report").is_dir()
    assert _leaking_files(out) == []
    assert "gameday:***@127.0.0.1" in run.results.read_text()  # shown, but masked


def test_recover_never_shows_secrets_even_when_a_revert_fails(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    api = _with_password("http://127.0.0.1:9")  # nothing listens there: the revert fails
    target = Target("feature-store", "proxy", {"toxiproxy": [api], "proxy": "feature_store"})
    journal.write(Entry(
        "lost-0-123456", "network.latency", target, {"latency_ms": 5, "jitter_ms": 0}, 60.0,
        0.0, ttl_enforced=False, owner=dead_owner(), environment={"allow_hosts": ["127.0.0.1"]},
    ))  # fmt: skip
    for extra in ((), ("--json",)):
        done = recover(journal.directory, *extra)
        assert done.returncode == 3
        assert "REVERT FAILED" in done.stdout and "gameday:***@127.0.0.1:9" in done.stdout
        assert _leaks(done.stdout + done.stderr) == []
