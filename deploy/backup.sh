#!/bin/sh
# Back up Tsudoi: a pg_dump (custom format, for pg_restore) of DATABASE_URL and a tarball of the uploaded images
# under INSTANCE_DIR/uploads, into BACKUP_DIR; backups older than BACKUP_KEEP_DAYS are removed.
# Restore: docs/deploy.md, "Backups".
set -eu

dir="${BACKUP_DIR:-/var/backups/tsudoi}"
instance="${INSTANCE_DIR:-/srv/tsudoi/instance}"
keep="${BACKUP_KEEP_DAYS:-14}"
# The app's URL names its driver (postgresql+psycopg://); pg_dump wants a plain libpq URL.
url=$(printf '%s' "${DATABASE_URL:?DATABASE_URL is not set}" | sed 's|^postgresql+[a-z0-9]*://|postgresql://|')
stamp=$(date -u +%Y%m%dT%H%M%SZ)

umask 077
mkdir -p "$dir"
pg_dump --format=custom --no-owner --file="$dir/tsudoi-$stamp.dump.partial" "$url"
mv "$dir/tsudoi-$stamp.dump.partial" "$dir/tsudoi-$stamp.dump"
if [ -d "$instance/uploads" ]; then
    tar -C "$instance" -czf "$dir/uploads-$stamp.tar.gz" uploads
fi
find "$dir" -name 'tsudoi-*.dump' -mtime +"$keep" -delete
find "$dir" -name 'uploads-*.tar.gz' -mtime +"$keep" -delete
echo "backup written: $dir/tsudoi-$stamp.dump"
