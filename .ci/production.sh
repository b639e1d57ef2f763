#!/usr/bin/env bash
# The production layout of README's "Production" section, from a fresh clone, on PostgreSQL + Redis:
# the README's install and tenant blocks run as written, the Procfile's five processes (web pool, webhooks pool,
# Celery worker, the notify worker, one beat) plus the emulator as the supplier; then the usage flow through
# them: an order, an SMS played by the emulator, its signed webhook through the webhooks pool, the code and the charge over the API;
# /health/ and doctor. Stops exactly the process groups it started. Runs in well under 3 minutes.
#
#   PROD_CI_VENV   a virtualenv with requirements.txt installed, reused so the clone's `pip install` is instant
#                  (default: this checkout's .venv, which `make test` installed)
#   PROD_CI_DB     PostgreSQL database, dropped and created (default reseller_prod_ci)
#   PROD_CI_REDIS  Redis database number, flushed (default 14)
#   PROD_CI_PORT   first of three ports: web pool, webhooks pool, emulator (default 18100)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
VENV=${PROD_CI_VENV:-$SRC/.venv}
DB=${PROD_CI_DB:-reseller_prod_ci}
REDIS_DB=${PROD_CI_REDIS:-14}
WEB_PORT=${PROD_CI_PORT:-18100}
WEBHOOK_PORT=$((WEB_PORT + 1))
EMULATOR_PORT=$((WEB_PORT + 2))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/reseller-production-ci.XXXXXX")
started_at=$SECONDS

log() { printf '\n== %s (%ss)\n' "$*" "$((SECONDS - started_at))"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; for f in "$WORK"/logs/*.log; do echo "--- $f"; tail -n 30 "$f"; done >&2; exit 1; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 40); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

# The code block of README.md that follows the marker <!-- ci:production:NAME ... -->, exactly as written there.
readme_block() {
  awk -v marker="<!-- ci:production:$1 " '
    index($0, marker) == 1 { found = 1; next }
    found && /^```sh$/ { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }
  ' README.md
}

run_readme_block() {  # NAME: run it as written; a missing or empty block is a failure, not a silent success
  local block
  block=$(readme_block "$1")
  [ -n "$block" ] || fail "README.md has no ci:production:$1 block"
  bash -euo pipefail -c "$block"
}

# Start one process in its own process group (so that stopping it stops its children), logging to logs/NAME.log.
start() {
  local name=$1; shift
  setsid bash -c "$*" >"$WORK/logs/$name.log" 2>&1 &
  pids+=("$!")
}

wait_for() {  # URL [seconds]
  for _ in $(seq 1 $((${2:-60} * 4))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || fail "a process died before $1 answered"; done
    sleep 0.25
  done
  fail "$1 did not answer"
}

log "fresh clone of $(git -C "$SRC" rev-parse --short HEAD) into $WORK/clone"
git clone --quiet "$SRC" "$WORK/clone"
mkdir -p "$WORK/logs"
cd "$WORK/clone"
# A new virtualenv that sees the already installed packages: the README's `pip install` then has nothing to fetch.
python3 -m venv .venv
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/_production_ci_shared.pth"

log "PostgreSQL database $DB, Redis database $REDIS_DB"
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
redis-cli -h 127.0.0.1 -p 6379 -n "$REDIS_DB" flushdb >/dev/null

# The production environment (README: DEBUG=0 and the required variables). No TLS proxy here: plain http.
export DEBUG=0
SECRET_KEY=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')
FIELD_ENCRYPTION_KEYS=$(.venv/bin/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export SECRET_KEY FIELD_ENCRYPTION_KEYS
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB REDIS_URL=redis://127.0.0.1:6379/$REDIS_DB
export ALLOWED_HOSTS=shop.ci.test,127.0.0.1 CSRF_TRUSTED_ORIGINS=https://shop.ci.test SECURE_SSL_REDIRECT=0
export VAR_DIR=$WORK/var CACHE_KEY_PREFIX=production-ci
export WEB_BIND=127.0.0.1:$WEB_PORT WEBHOOK_BIND=127.0.0.1:$WEBHOOK_PORT
export WEB_WORKERS=2 WEB_THREADS=4 WEBHOOK_WORKERS=1 WEBHOOK_THREADS=2 WORKER_CONCURRENCY=2 NOTIFY_CONCURRENCY=1
unset CELERY_TASK_ALWAYS_EAGER CUSTOMER_WEBHOOKS_ALLOW_LOOPBACK

log "README: install"
run_readme_block install || fail "the README's install block"

log "Procfile: $(cut -d: -f1 Procfile | tr '\n' ' ')"
[ "$(grep -c '^beat:' Procfile)" = 1 ] || fail "the Procfile must run exactly one beat"
while IFS= read -r line; do
  [ -n "$line" ] && start "${line%%:*}" "exec ${line#*: }"
done <Procfile

log "the supplier: the emulator, posting its webhooks to the webhooks pool"
export SLUG=acme NAME="Acme Numbers" DOMAIN=shop.ci.test EMAIL=ci@example.com PASSWORD=ci-password-4711
export PLATFONE_URL=http://127.0.0.1:$EMULATOR_PORT/api/v1 PLATFONE_KEY=ci-platfone-key PLATFONE_WEBHOOK_SECRET=ci-webhook-secret
start emulator "exec .venv/bin/python manage.py platfone_emulator --host 127.0.0.1 --port $EMULATOR_PORT \
  --api-key $PLATFONE_KEY --balance 100000 --webhook-secret $PLATFONE_WEBHOOK_SECRET \
  --webhook-url http://127.0.0.1:$WEBHOOK_PORT/webhooks/platfone/$SLUG/"
wait_for "http://127.0.0.1:$EMULATOR_PORT/_emulator/health"
wait_for "http://127.0.0.1:$WEB_PORT/health/"
wait_for "http://127.0.0.1:$WEBHOOK_PORT/health/"
curl -fsS "http://127.0.0.1:$WEB_PORT/health/?format=json"; echo

# beat records the runs of its first tick in the database (what doctor's beat check reads)
beat_ran() {
  [ "$(psql -tA -h 127.0.0.1 -U postgres -d "$DB" \
    -c "SELECT count(*) FROM django_celery_beat_periodictask WHERE last_run_at IS NOT NULL")" -gt 0 ]
}
for _ in $(seq 1 120); do beat_ran && break; sleep 0.5; done
beat_ran || fail "beat recorded no run"
# the notify worker serves the notify queue alone (supplier webhooks applied, customer webhooks, code e-mails)
for _ in $(seq 1 120); do grep -q " ready\." "$WORK/logs/notify.log" && break; sleep 0.5; done
grep -q "notify@.* ready\." "$WORK/logs/notify.log" || fail "the notify worker did not start"
grep -Eq "^ +\.> notify +exchange" "$WORK/logs/notify.log" || fail "the notify worker does not serve the notify queue"
if grep -Eq "^ +\.> celery +exchange" "$WORK/logs/notify.log"; then fail "the notify worker serves the default queue"; fi

log "README: a tenant, its user, key, credit; doctor"
run_readme_block tenant || fail "the README's tenant block (doctor's ✗ lines above)"
KEY=$(cat api-key.txt)

log "usage flow through the web pool"
B=http://127.0.0.1:$WEB_PORT/api/v1; E=http://127.0.0.1:$EMULATOR_PORT
json() { .venv/bin/python -c "import sys, json; print(json.load(sys.stdin)$1)"; }
curl -fsS -H "X-Api-Key: $KEY" "$B/index.php?path=price&service_id=whatsapp&country_id=us"; echo
ORDER=$(curl -fsS -X POST -H "X-Api-Key: $KEY" -H "Content-Type: application/json" \
  -d '{"service_id": "whatsapp", "country_id": "us"}' "$B/index.php?path=activations")
echo "$ORDER"
ID=$(echo "$ORDER" | json "['data']['id']"); UPSTREAM=$(echo "$ORDER" | json "['data']['activation_id']")
PRICE=$(echo "$ORDER" | json "['data']['sell_price_cents']")
curl -fsS -X POST -H "Content-Type: application/json" -d '{"code": "424242"}' "$E/_emulator/activations/$UPSTREAM/sms"; echo

# The code must arrive by the supplier's webhook, through the webhooks pool (not by a poll)
for _ in $(seq 1 80); do
  grep -q "POST /webhooks/platfone/$SLUG/ HTTP/1.1\" 200" "$WORK/logs/webhooks.log" && break
  sleep 0.25
done
grep "POST /webhooks/platfone/$SLUG/" "$WORK/logs/webhooks.log" || fail "no webhook reached the webhooks pool"
grep -q "POST /webhooks/platfone/$SLUG/ HTTP/1.1\" 200" "$WORK/logs/webhooks.log" || fail "the webhook was refused"
if grep -q "/webhooks/" "$WORK/logs/web.log"; then fail "a webhook went to the web pool"; fi

# the webhook's request stored the event; the notify worker applies it a few milliseconds later
for _ in $(seq 1 40); do
  ACTIVATION=$(curl -fsS -H "X-Api-Key: $KEY" "$B/index.php?path=activations/$ID")
  [ "$(echo "$ACTIVATION" | json "['data']['sms_code']")" = 424242 ] && break
  sleep 0.25
done
echo "$ACTIVATION"
[ "$(echo "$ACTIVATION" | json "['data']['sms_code']")" = 424242 ] || fail "the code is not visible"
[ "$(echo "$ACTIVATION" | json "['data']['billing_status']")" = billed ] || fail "not charged"
WALLET=$(curl -fsS -H "X-Api-Key: $KEY" "$B/index.php?path=wallet")
echo "$WALLET"
[ "$(echo "$WALLET" | json "['data']['balance_cents']")" = $((5000 - PRICE)) ] || fail "not charged exactly once"

log "doctor sees the webhook; the supplier probe"
.venv/bin/python manage.py doctor --tenant "$SLUG" | tee "$WORK/logs/doctor.txt"
grep -q "✓ webhooks received: the last one" "$WORK/logs/doctor.txt" || fail "doctor did not see the webhook"
curl -fsS "http://127.0.0.1:$WEB_PORT/health/suppliers/?format=json"; echo

log "stop exactly what was started"
cleanup
pids=()
.venv/bin/python manage.py verify_ledger
log "production layout passed"
