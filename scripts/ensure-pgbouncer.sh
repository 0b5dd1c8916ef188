#!/usr/bin/env bash
# The pgbouncer test runs the API behind PgBouncer in transaction mode; install it from Debian if missing.
set -eu
if command -v pgbouncer >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing PgBouncer for the pooler tests (apt-get)."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null
fi
command -v pgbouncer >/dev/null 2>&1 || { echo "ERROR: pgbouncer is needed for the pooler tests." >&2; exit 1; }
