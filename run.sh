#!/usr/bin/env bash
# Set up and run Feedback Commons on this machine: web (ASGI, websockets), a Celery worker
# with beat, and the built-in model server. No server to install: SQLite, files for the job
# queue, the built-in model. Ctrl+C stops everything.
set -euo pipefail
cd "$(dirname "$0")"

./scripts/setup.sh

host=${HOST:-127.0.0.1}
port=${PORT:-8000}
model_port=${MODEL_SERVER_PORT:-8001}
export MODEL_SERVER_URL=${MODEL_SERVER_URL:-http://127.0.0.1:${model_port}/v1}
mkdir -p var/log

pids=()
stop_all() {
  trap - EXIT INT TERM
  echo
  echo "==> Stopping"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop_all EXIT INT TERM

wait_for() {  # url, name
  for _ in $(seq 1 180); do
    if .venv/bin/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" 2>/dev/null; then
      return 0
    fi
    for pid in "${pids[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "The $2 stopped while starting; see var/log/." >&2
        exit 1
      fi
    done
    sleep 1
  done
  echo "The $2 did not start within 3 minutes; see var/log/." >&2
  exit 1
}
echo "==> Starting the model server, then the worker with beat and the web server (logs in var/log/)"
.venv/bin/python manage.py serve_models --host 127.0.0.1 --port "$model_port" >var/log/models.log 2>&1 &
pids+=($!)
# The model server first: beat checks the endpoints' health as soon as it starts, and an
# endpoint found down stays out of the arena until the next check.
wait_for "http://127.0.0.1:${model_port}/health" "model server"
.venv/bin/celery -A config worker --beat --queues default,ml --concurrency 1 --loglevel INFO >var/log/worker.log 2>&1 &
pids+=($!)
.venv/bin/uvicorn config.asgi:application --host "$host" --port "$port" --log-level info >var/log/web.log 2>&1 &
pids+=($!)
wait_for "http://${host}:${port}/" "web server"

cat <<MSG

  Feedback Commons is running at  http://${host}:${port}/
  Demo admin:  ${DEMO_ADMIN_EMAIL:-admin@example.com}  /  ${DEMO_ADMIN_PASSWORD:-commons-demo}
  Or sign up as a volunteer, join "Open Commons" and open its arena. Its pool, release and
  leaderboard start with synthetic demo data (seeded on the first run; DEMO_DATA=0 skips it).

  Logs: var/log/web.log, var/log/worker.log, var/log/models.log.  Ctrl+C stops everything.
  This stays in the foreground: run ./test.sh in a second terminal.

MSG

wait -n "${pids[@]}"
echo "A process stopped unexpectedly; see var/log/." >&2
exit 1
