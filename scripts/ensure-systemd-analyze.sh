#!/usr/bin/env bash
# The deployment-unit tests check deploy/systemd/ with `systemd-analyze verify`; install it if missing.
set -eu
if command -v systemd-analyze >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing systemd-analyze for the deployment-unit tests (apt-get)."
  # Wait for another apt run instead of failing on its lock. Nothing is started: only the tool is used.
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends systemd >/dev/null
fi
command -v systemd-analyze >/dev/null 2>&1 || { echo "ERROR: systemd-analyze is needed for the deployment-unit tests." >&2; exit 1; }
