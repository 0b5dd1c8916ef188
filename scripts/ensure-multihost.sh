#!/usr/bin/env bash
# The multi-host suite builds test hosts with network namespaces: it needs root, iproute2, the
# PostgreSQL 15 server binaries, redis-server and util-linux (runuser, unshare). Installs what is
# missing from Debian when it can, then checks that a namespace can really be made here.
set -eu
PG_BIN=/usr/lib/postgresql/15/bin
if [ "$(id -u)" != 0 ]; then
  echo "ERROR: the multi-host suite needs root (network namespaces, veth links, a bridge)." >&2
  exit 1
fi
missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
[ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ] || missing+=(postgresql-15)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
{ command -v runuser && command -v unshare; } >/dev/null 2>&1 || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} for the multi-host suite (apt-get)."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for tool in ip redis-server runuser unshare "$PG_BIN/postgres" "$PG_BIN/initdb"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "ERROR: $tool is needed for the multi-host suite." >&2; exit 1; }
done
id postgres >/dev/null 2>&1 || { echo "ERROR: the postgres user is needed (PostgreSQL refuses to run as root)." >&2; exit 1; }
probe="oms-probe-$$"
if ! ip netns add "$probe" 2>/dev/null; then
  echo "ERROR: cannot create a network namespace here (a container without CAP_SYS_ADMIN?)." >&2
  exit 1
fi
ip netns del "$probe"
