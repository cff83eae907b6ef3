#!/bin/bash
# The HA profile's standby: a streaming copy of `db`, made synchronous once it streams, so that
# a payment is acknowledged only when two machines have it (RPO = 0).
#
# First start (empty volume): pg_basebackup from db, then run as a hot standby. Every start:
# once it streams, tell the primary to wait for it (synchronous_standby_names = 'standby').
# Failover is by hand (or by the harness in bench/chaos/): `docker compose -f docker/compose.yaml
# exec -u postgres standby pg_ctl promote`; the gateways find the new primary by themselves
# (their URL lists both hosts with target_session_attrs=read-write).
set -euo pipefail
data=/var/lib/postgresql/data
replication="host=db port=5432 user=replicator password=${REPLICATION_PASSWORD:-replicator} application_name=standby"
superuser="host=db port=5432 user=${POSTGRES_USER} password=${POSTGRES_PASSWORD} dbname=${POSTGRES_DB}"

if [ ! -s "$data/PG_VERSION" ]; then
    mkdir -p "$data" && chown postgres:postgres "$data" && chmod 0700 "$data"
    until gosu postgres pg_basebackup --dbname="$replication" --pgdata="$data" \
            --wal-method=stream --write-recovery-conf --checkpoint=fast; do
        echo "standby: waiting for db to accept a base backup" >&2
        rm -rf "${data:?}"/*
        sleep 2
    done
fi

(
    until [ "$(psql "$superuser" -tAc "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby' AND state = 'streaming'" 2>/dev/null)" = "1" ]; do
        sleep 2
    done
    psql "$superuser" -c "ALTER SYSTEM SET synchronous_standby_names = 'standby'" \
        -c "SELECT pg_reload_conf()"
    echo "standby: streaming; the primary now waits for it on every commit" >&2
) &

exec gosu postgres postgres -c hot_standby=on
