"""Shared fixtures: a config and store in a temporary folder, a CLI runner, a real browser."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.config import Config
from digest.store import Store

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(db_path=tmp_path / "digest.db", secret_key="test-secret-key", base_url="https://news.example.com")


@pytest.fixture
def store(config):
    store = Store(config.db_path)
    yield store
    store.close()


@pytest.fixture
def write_config(tmp_path):
    """Write a digest.toml in tmp_path (extra TOML appended) and return its path."""

    def write(extra: str = "") -> Path:
        path = tmp_path / "digest.toml"
        path.write_text('[web]\nsecret_key = "test-secret-key"\n' + extra, encoding="utf-8")
        return path

    return write


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run `digest ARGS...` in tmp_path through click's CliRunner; returns the Result."""
    from digest.cli import main

    monkeypatch.chdir(tmp_path)
    for name in ("DIGEST_CONFIG", "DIGEST_DB", "DIGEST_SMTP_URL", "DIGEST_SECRET_KEY", "DIGEST_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args, input=None, env=None):
        return runner.invoke(main, [str(a) for a in args], input=input, env=env, catch_exceptions=False)

    return run


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright. Skips with a reason on a user's machine
    without it; fails under CI=true, where `make test` must have installed it."""
    executable = chromium_path()
    if executable is None:
        message = "Debian's chromium is not installed (make test installs it when run as root with apt)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()
