"""Headless Chromium driven by Selenium for the report tests (Debian's ``chromium`` and ``chromium-driver``).

``open_browser()`` returns a WebDriver, or raises ``pytest.skip`` with the reason when Selenium, Chromium or
chromedriver is missing (``.ci/run`` installs them as root; by hand: ``apt-get install -y chromium chromium-driver``
and ``pip install -e '.[dev]'``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> tuple[str | None, str | None]:
    """Paths of a Chromium binary and of chromedriver (None when missing)."""
    binary = os.environ.get("BAISEG_CHROMIUM") or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    return binary, os.environ.get("BAISEG_CHROMEDRIVER") or shutil.which("chromedriver")


def open_browser(width: int = 1400, height: int = 1000) -> Any:
    """A headless Chromium WebDriver that records the console (``driver.get_log("browser")``)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed: pip install -e '.[dev]'")
    binary, driver_path = find_browser()
    if binary is None or driver_path is None:
        pytest.skip("no headless Chromium here: apt-get install -y chromium chromium-driver (.ci/run does it as root)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"):  # fmt: skip
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=opts)


def page_url(index: Path) -> str:
    """``file://`` URL of a report's ``index.html``."""
    return Path(index).resolve().as_uri()


def console_errors(driver: Any) -> list[str]:
    """The console messages of level SEVERE since the last call (page errors, failed loads)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
