#!/usr/bin/env bash
# Start `make run` as a fresh user would (no DATABASE_URL, no REDIS_URL), call GET wallet with the printed
# demo key in all three routing styles, open both storefronts, then stop exactly the process group we started.
set -euo pipefail
cd "$(dirname "$0")/.."

export PORT=${SMOKE_PORT:-18000} EMULATOR_PORT=${SMOKE_EMULATOR_PORT:-18001}
unset DATABASE_URL REDIS_URL
mkdir -p var
log_file=var/smoke-run.log
setsid make run >"$log_file" 2>&1 &
run_pid=$!
cleanup() {
  kill -TERM -- "-$run_pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 -- "-$run_pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL -- "-$run_pid" 2>/dev/null || true
}
trap cleanup EXIT

key=""
for _ in $(seq 1 240); do
  key=$(sed -n 's/^Demo API key: //p' "$log_file" | tail -n 1)
  [ -n "$key" ] && break
  kill -0 "$run_pid" 2>/dev/null || { cat "$log_file"; echo "make run exited early"; exit 1; }
  sleep 1
done
[ -n "$key" ] || { cat "$log_file"; echo "no demo key printed"; exit 1; }

base="http://127.0.0.1:$PORT/api/v1"
for url in "$base/index.php?path=wallet" "$base/index.php/wallet" "$base/wallet"; do
  body=$(curl -fsS -H "X-Api-Key: $key" "$url")
  echo "$url -> $body"
  echo "$body" | grep -q '"ok":true' || { echo "GET wallet failed"; exit 1; }
done
# both storefronts, each on its own host name, each with its own look
for host in "127.0.0.1:$PORT" "globex.localhost:$PORT"; do
  page=$(curl -fsS --resolve "globex.localhost:$PORT:127.0.0.1" "http://$host/")
  name=$(echo "$page" | sed -n 's:.*<span class="brand-name">\([^<]*\)</span>.*:\1:p' | head -n 1)
  echo "http://$host/ -> storefront \"$name\""
  [ -n "$name" ] || { echo "no storefront at http://$host/"; exit 1; }
done
echo "smoke test passed"
