#!/usr/bin/env bash
# Install what the tests need (packages, Chromium), then run every test: unit, AppTest, browser.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(bash scripts/setup.sh --dev | tail -n 1)
exec "$VENV/bin/python" -m pytest -q "$@"
