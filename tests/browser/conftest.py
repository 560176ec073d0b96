"""A real headless Chromium (Debian's `chromium`, driven by Playwright's Python package) against
one `smlocal api` server for the whole session, training the real image-classification
algorithm with the process runner on tiny data.

Without chromium or Playwright the tests are skipped, except under CI (CI=true), where they
fail: .ci/run installs both.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from emulator.sample_data import make_classification_set
from tests.unavailable import unavailable as missing
from tests.functional.api.conftest import CREDENTIAL_VARIABLES, ApiServer, free_port

CHROMIUM = Path(os.environ.get("SMLOCAL_CHROMIUM", "/usr/bin/chromium"))
REPO = Path(__file__).resolve().parents[2]
# Screenshots of every page the tests visit (gitignored).
ARTIFACTS = Path(os.environ.get("SMLOCAL_TEST_ARTIFACTS", REPO / "test-artifacts")) / "browser"
NUM_CLASSES = 4
PER_CLASS = 16


def unavailable(reason: str) -> None:
    missing(reason, ".ci/run installs chromium, make setup Playwright")


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(f"Playwright is not installed ({exc})")
    if not CHROMIUM.exists():
        unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def console_server(tmp_path_factory):
    """`smlocal api` running the real algorithms (no fake command, no signature checks)."""
    root = tmp_path_factory.mktemp("console")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_ENDPOINT_URL") and k not in CREDENTIAL_VARIABLES
           and k != "SMLOCAL_PROCESS_COMMAND"}
    env.update({"AWS_REGION": "us-east-1", "PYTHONUNBUFFERED": "1"})
    server = ApiServer(root / "home", free_port(), ["--runner", "process", "--stop-grace", "5"], env).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ic_channels(tmp_path_factory) -> dict[str, Path]:
    """Tiny image-classification data: a train and a validation folder holding one .rec each, and
    one of the validation images (a test image for an endpoint)."""
    root = tmp_path_factory.mktemp("ic-data")
    folders = {}
    for channel, per_class, seed in (("train", PER_CLASS, 1), ("validation", PER_CLASS // 4, 2)):
        made = make_classification_set(root / f"{channel}-set", NUM_CLASSES, per_class, size=(32, 32), seed=seed)
        folder = root / channel
        folder.mkdir()
        shutil.copy(made["rec"], folder / f"{channel}.rec")
        folders[channel] = folder
        folders[f"{channel}_images"] = made["images"]
    folders["output"] = root / "output"
    return folders
