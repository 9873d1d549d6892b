#!/usr/bin/env bash
# Install what the app needs, then serve it on http://localhost:8501.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(bash scripts/setup.sh | tail -n 1)
exec "$VENV/bin/python" -m streamlit run app.py "$@"
