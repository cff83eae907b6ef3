#!/bin/bash
# Run once by the postgres image when `db` initialises its data folder (docker-entrypoint-initdb.d):
# a role the HA profile's standby replicates as, and the pg_hba.conf line that lets it. Harmless
# without the HA profile. An existing data folder needs the same two steps by hand once.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="${REPLICATION_PASSWORD:-replicator}" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
