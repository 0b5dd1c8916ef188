#!/usr/bin/env bash
# The dynamic security scan (tests/security/test_dynamic_scan.py) drives the wapiti web-vulnerability
# scanner against a live server; install it from Debian if missing.
set -eu
if command -v wapiti >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing wapiti for the dynamic security scan (apt-get)."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wapiti >/dev/null
fi
command -v wapiti >/dev/null 2>&1 || { echo "ERROR: wapiti is needed for the dynamic security scan." >&2; exit 1; }
