#!/usr/bin/env bash
# Install what the tests need (packages, Chromium), lint, then run every test: unit, AppTest, browser.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(bash scripts/setup.sh --dev | tail -n 1)
"$VENV/bin/ruff" check .  # the rules and why: ruff.toml
exec "$VENV/bin/python" -m pytest -q "$@"
