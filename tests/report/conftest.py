"""Headless Chromium for report tests: the DOM as the browser built it, and a screenshot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fixtures.browser import Browser


@pytest.fixture
def browser(tmp_path: Path) -> Browser:
    """Headless Chromium (``apt-get install -y chromium``); skips where it is missing."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return Browser(binary, tmp_path / "chromium")
