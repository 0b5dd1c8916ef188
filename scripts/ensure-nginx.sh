#!/usr/bin/env bash
# The reverse-proxy tests run the committed nginx site in front of gunicorn; install nginx if missing.
set -eu
export PATH="$PATH:/usr/sbin:/sbin"
if command -v nginx >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing nginx for the reverse-proxy tests (apt-get)."
  # Wait for another apt run (a parallel ensure script) instead of failing on its lock.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  # Only the binary is needed: the tests start their own nginx with their own configuration.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nginx >/dev/null
fi
command -v nginx >/dev/null 2>&1 || { echo "ERROR: nginx is needed for the reverse-proxy tests." >&2; exit 1; }
