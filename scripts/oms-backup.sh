#!/usr/bin/env bash
# Back up one OMS installation into DIR: the database (pg_dump, custom format) and the stored files
# (OMS_MEDIA_ROOT: EPOD signatures, photos and PDFs, exports), with a checksum list.
#
#   DATABASE_URL=postgres://… OMS_MEDIA_ROOT=/srv/oms/media scripts/oms-backup.sh /backups/oms-$(date -u +%Y%m%dT%H%M%SZ)
#
# The database is dumped first, then the files: a file is written before the row that names it is
# committed, so every row in the dump finds its file in the archive. PG_BIN picks the PostgreSQL
# client programs (e.g. /usr/lib/postgresql/15/bin); pg_dump must not be older than the server.
# docs/operations.md, "Backups and restore".
set -euo pipefail
dest=${1:?usage: oms-backup.sh DIR}
: "${DATABASE_URL:?DATABASE_URL must name the PostgreSQL database to back up}"
media=${OMS_MEDIA_ROOT:-${OMS_VAR_DIR:-var}/media}
bin=${PG_BIN:+$PG_BIN/}
case "$DATABASE_URL" in postgres://* | postgresql://*) ;; *)
  echo "oms-backup: DATABASE_URL is not a PostgreSQL URL" >&2; exit 2 ;;
esac
if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then
  echo "oms-backup: $dest is not empty; choose a new directory for each backup" >&2; exit 2
fi
mkdir -p "$dest"
"${bin}pg_dump" --format=custom --no-owner --no-privileges --dbname="$DATABASE_URL" --file="$dest/oms.dump"
mkdir -p "$media"
tar -C "$media" -czf "$dest/media.tar.gz" .
(cd "$dest" && sha256sum oms.dump media.tar.gz >SHA256SUMS)
echo "oms-backup: $(du -sh "$dest" | cut -f1) in $dest"
