#!/usr/bin/env bash
# Run the race, idempotency and worker-kill tests RUNS times in a row (default 20), each run a fresh
# pytest process with a fresh test database, and report how many runs failed and which tests failed.
# A flaky guard is a guard that sometimes does not hold: a single failure in any run is a failure.
#
#   scripts/test-flakes.sh                 # 20 runs of the default selection
#   RUNS=5 scripts/test-flakes.sh tests/orders/test_concurrency.py
#
# The environment (DATABASE_URL, REDIS_URL, CELERY_BROKER_URL, DJANGO_ENV=test ...) is the caller's;
# `make test-flakes` sets the test environment.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-20}
PYTEST=${PYTEST:-.venv/bin/pytest}
if [ $# -gt 0 ]; then
    TESTS=("$@")
else
    TESTS=(
        tests/orders/test_concurrency.py
        tests/api/test_concurrency.py
        tests/oms/test_idempotency.py
        "tests/erp_sync/test_worker_faults.py::test_kill9_worker_twice_during_drain_of_300"
    )
fi
LOG_DIR=${FLAKES_LOG_DIR:-var/flakes}
mkdir -p "$LOG_DIR"
rm -f "$LOG_DIR"/run-*.log

failed_runs=0
start=$(date +%s)
for i in $(seq 1 "$RUNS"); do
    t0=$(date +%s)
    "$PYTEST" -p no:cacheprovider -q -m "not slow" "${TESTS[@]}" >"$LOG_DIR/run-$i.log" 2>&1
    rc=$?
    summary=$(tail -n 1 "$LOG_DIR/run-$i.log")
    if [ "$rc" -ne 0 ]; then
        failed_runs=$((failed_runs + 1))
        echo "run $i/$RUNS FAILED ($(($(date +%s) - t0)) s): $summary"
        grep -E "^(FAILED|ERROR) " "$LOG_DIR/run-$i.log" | sed 's/^/    /'
    else
        echo "run $i/$RUNS ok ($(($(date +%s) - t0)) s): $summary"
    fi
done
total=$(($(date +%s) - start))
echo "flakes: $RUNS runs, $failed_runs failed, ${total} s (logs in $LOG_DIR)"
[ "$failed_runs" -eq 0 ]
