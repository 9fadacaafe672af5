"""digest CLI: preview commands."""

from __future__ import annotations

import click  # noqa: F401

from digest.cli import main, pass_app  # noqa: F401
