#!/usr/bin/env bash
# The lab beyond one process, on one machine's loopback: a Ray head, two Streamlit replicas sharing
# one checkpoint folder, and nginx in front of them (session affinity, failover). The same recipe a
# school runs on several machines (README, "Beyond one machine").
#
#   bash deploy/run_loopback.sh [FOLDER]   # then open http://127.0.0.1:8600 ; Ctrl-C stops everything
#
# Ray binds to the machine's network address even when told 127.0.0.1: to keep everything on
# loopback, run it in a network namespace of its own (as the tests do):
#   sudo unshare -n sh -c 'ip link set lo up && bash deploy/run_loopback.sh'
# Ports: AE_NGINX_PORT (8600), AE_REPLICA_PORTS ("8601 8602"), AE_RAY_PORT (26379), AE_RAY_CLIENT_PORT (20001).
set -euo pipefail
set -m  # each background job in its own process group: a SIGINT reaches `ray start --block`
cd "$(dirname "$0")/.."
VENV="${AE_VENV:-$HOME/.cache/autoencoder-lab/venv}"
FOLDER="${1:-$(mktemp -d /tmp/aelab.XXXXXX)}"
NGINX_PORT="${AE_NGINX_PORT:-8600}"
REPLICA_PORTS="${AE_REPLICA_PORTS:-8601 8602}"
RAY_PORT="${AE_RAY_PORT:-26379}"
RAY_CLIENT_PORT="${AE_RAY_CLIENT_PORT:-20001}"
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}"
export AE_RAY_ADDRESS="${AE_RAY_ADDRESS:-ray://127.0.0.1:$RAY_CLIENT_PORT}"
export AE_CHECKPOINT_DIR="${AE_CHECKPOINT_DIR:-$PWD/checkpoints}"  # one folder for every replica (shared storage)
mkdir -p "$FOLDER/nginx" "$FOLDER/ray"
pids=()
stop_all() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT INT TERM

"$VENV/bin/ray" start --head --block --port "$RAY_PORT" --ray-client-server-port "$RAY_CLIENT_PORT" \
  --num-cpus "${AE_RAY_CPUS:-2}" --include-dashboard=false --disable-usage-stats --temp-dir "$FOLDER/ray" \
  > "$FOLDER/ray.log" 2>&1 &
pids+=($!)
echo "ray head $! (log $FOLDER/ray.log)"

replicas=""
for port in $REPLICA_PORTS; do
  "$VENV/bin/python" -m streamlit run app.py --server.headless true --server.address 127.0.0.1 \
    --server.port "$port" --browser.gatherUsageStats false > "$FOLDER/replica-$port.log" 2>&1 &
  pids+=($!)
  echo "replica $! on 127.0.0.1:$port (log $FOLDER/replica-$port.log)"
  replicas+="        server 127.0.0.1:$port max_fails=1 fail_timeout=10s;"$'\n'
done

sed -e "s|@PREFIX@|$FOLDER/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" deploy/nginx.conf \
  | awk -v r="$replicas" '{ if ($0 == "@REPLICAS@") printf "%s", r; else print }' > "$FOLDER/nginx/nginx.conf"
nginx -p "$FOLDER/nginx" -c "$FOLDER/nginx/nginx.conf" -e "$FOLDER/nginx/error.log" &
nginx_pid=$!
pids+=("$nginx_pid")
echo "nginx $nginx_pid on http://127.0.0.1:$NGINX_PORT (log $FOLDER/nginx/access.log)"
# A replica or the head may fail and come back (that is what nginx and the replicas are for);
# this ends when nginx does, or on Ctrl-C, and then stops the rest.
wait "$nginx_pid" || true
