#!/usr/bin/env bash
# Restore a backup made by scripts/oms-backup.sh into an EMPTY database and an empty (or missing)
# files directory; both are refused when they already hold something, so a live installation is
# never overwritten by mistake.
#
#   createdb -O oms oms        # on the database server, as a superuser
#   DATABASE_URL=postgres://… OMS_MEDIA_ROOT=/srv/oms/media scripts/oms-restore.sh /backups/oms-20261208T020000Z
#
# The checksums are verified first; the database is restored in one transaction (all or nothing).
# Start the processes afterwards (migrate first if the code is newer than the backup).
# docs/operations.md, "Backups and restore".
set -euo pipefail
src=${1:?usage: oms-restore.sh DIR}
: "${DATABASE_URL:?DATABASE_URL must name the (empty) PostgreSQL database to restore into}"
media=${OMS_MEDIA_ROOT:-${OMS_VAR_DIR:-var}/media}
bin=${PG_BIN:+$PG_BIN/}
(cd "$src" && sha256sum --check --quiet SHA256SUMS)
tables=$("${bin}psql" "$DATABASE_URL" -XtAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if [ "$tables" != 0 ]; then
  echo "oms-restore: the database already has $tables tables; restore into a new, empty database" >&2; exit 2
fi
if [ -e "$media" ] && [ -n "$(ls -A "$media")" ]; then
  echo "oms-restore: $media is not empty; restore the files into an empty directory" >&2; exit 2
fi
"${bin}pg_restore" --no-owner --no-privileges --single-transaction --exit-on-error \
  --dbname="$DATABASE_URL" "$src/oms.dump"
mkdir -p "$media"
tar -C "$media" -xzf "$src/media.tar.gz"
echo "oms-restore: database and files restored from $src"
