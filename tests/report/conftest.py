"""Headless Chromium for report tests: the DOM as the browser built it, and a screenshot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class Browser:
    """Open local pages in a fresh headless Chromium profile (one per call)."""

    def __init__(self, binary: str, profiles: Path) -> None:
        self.binary = binary
        self.profiles = profiles
        self._n = 0

    def _run(self, page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        self._n += 1
        profile = self.profiles / f"profile-{self._n}"
        argv = [self.binary, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)

    def dom(self, page: Path) -> str:
        """The page's DOM after load (``--dump-dom``)."""
        return self._run(page, "--dump-dom").stdout

    def screenshot(self, page: Path, out: Path, size: str = "1400,3000") -> Path:
        """A PNG of the page; its path is printed so a person can look at it."""
        self._run(page, f"--screenshot={out}", f"--window-size={size}")
        print(f"screenshot: {out}")
        return out


@pytest.fixture
def browser(tmp_path: Path) -> Browser:
    """Headless Chromium (``apt-get install -y chromium``); skips where it is missing."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return Browser(binary, tmp_path / "chromium")
