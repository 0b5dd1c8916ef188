#!/usr/bin/env bash
# Brings the whole system up in the foreground: migrate, demo data, then web + worker (all three
# queues: erp, files, default) + beat.
# In demo mode (OMS_DEMO=1, the default) the ERP and fleet simulators run too.
# Ctrl-C stops them all. Embedded defaults (SQLite, file broker) unless DATABASE_URL /
# CELERY_BROKER_URL are set; DJANGO_ENV=development unless set.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
BIN=$(dirname "$PY")
PORT=${PORT:-8000}
# A workstation: the settings are production's unless told otherwise (development also means
# readable log lines, LOG_FORMAT=text).
export DJANGO_ENV=${DJANGO_ENV:-development}
export OMS_SITE_URL=${OMS_SITE_URL:-http://127.0.0.1:$PORT}
export OMS_DEMO=${OMS_DEMO:-1}
# Prometheus multiprocess files of earlier runs would add their old counts to this run's.
METRICS_DIR=${PROMETHEUS_MULTIPROC_DIR:-${OMS_VAR_DIR:-var}/prometheus}
mkdir -p "$METRICS_DIR"
find "$METRICS_DIR" -maxdepth 1 -name '*.db' -delete

demo_user() {  # EMAIL PASSWORD ARGS...: the password goes through the environment, not the command line
  DEMO_PASSWORD=$2 "$PY" manage.py oms_user "$1" --password-env DEMO_PASSWORD "${@:3}" >/dev/null
}

"$PY" manage.py migrate --no-input -v 0
"$PY" manage.py seed_demo --if-empty
demo_user admin@oms.example demo-admin-pass --role admin
demo_user rep@oms.example demo-rep-pass --role rep
demo_user dispatcher@oms.example demo-dispatch-pass --role dispatcher
demo_user customer@oms.example demo-customer-pass --role customer --customer C-000001
if [ "$OMS_DEMO" = 1 ]; then
  # A built-in fake ERP acknowledges orders and moves stock; the fleet simulator drives the trucks.
  "$PY" manage.py oms_erp_system DEMO-ERP --adapter simulator --poll-seconds 5
  "$PY" manage.py oms_sales_point KIOSK-SOF1-01 --channel kiosk --plant SOF1 >/dev/null
  echo "  demo kiosk key: $("$PY" manage.py oms_token --sales-point KIOSK-SOF1-01)"
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "Stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$BIN/gunicorn" oms.wsgi:application --bind "127.0.0.1:$PORT" --workers "${WEB_CONCURRENCY:-2}" \
  --access-logfile - --graceful-timeout 5 &
pids+=($!)
"$BIN/celery" -A oms worker --loglevel INFO --concurrency "${WORKER_CONCURRENCY:-2}" --pool prefork \
  -Q erp,files,default &
pids+=($!)
"$BIN/celery" -A oms beat --loglevel INFO --schedule var/celerybeat-schedule &
pids+=($!)
if [ "$OMS_DEMO" = 1 ]; then
  "$PY" manage.py fleet_simulate --dispatch &
  pids+=($!)
fi

cat <<TXT

  OMS is starting on http://127.0.0.1:$PORT/
    portal         http://127.0.0.1:$PORT/portal/  customer@oms.example / demo-customer-pass
    staff console  http://127.0.0.1:$PORT/admin/   admin@oms.example / demo-admin-pass
                                                  rep@oms.example / demo-rep-pass
                                                  dispatcher@oms.example / demo-dispatch-pass
    API docs       http://127.0.0.1:$PORT/api/v1/docs/
    health         http://127.0.0.1:$PORT/healthz
    metrics        http://127.0.0.1:$PORT/metrics  (from this machine)
  Ctrl-C stops everything.

TXT
wait -n "${pids[@]}"
