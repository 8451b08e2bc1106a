"""Where the project and its example alliance are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


EXAMPLE_CONFIG = ROOT / "config.example.yaml"
