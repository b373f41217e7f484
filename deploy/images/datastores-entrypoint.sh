#!/bin/bash
# datastores-entrypoint postgres|redis [extra server arguments...]
# The servers are exec'd with setpriv (no fork), so they are PID 1 and get the stop signal themselves
# (runuser stays the parent and does not pass SIGINT on: podman then waited its timeout and SIGKILLed).
set -euo pipefail
what=${1:-postgres}; shift || true
case "$what" in
postgres)
    : "${POSTGRES_USER:=campaignbot}" "${POSTGRES_DB:=campaignbot}" "${PGPORT:=5432}"
    : "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
    : "${POSTGRES_LISTEN:=127.0.0.1}"
    export PGPORT
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        install -d -o postgres -g postgres -m 700 "$PGDATA"
        pwfile=$(mktemp) && echo "$POSTGRES_PASSWORD" > "$pwfile" && chown postgres "$pwfile"
        runuser -u postgres -- initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
        rm -f "$pwfile"
        echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
        runuser -u postgres -- pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p $PGPORT" -w start >/dev/null
        runuser -u postgres -- psql -q -h /var/run/postgresql -p "$PGPORT" -U "$POSTGRES_USER" -d postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\""
        runuser -u postgres -- pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
        echo "datastores: initialised $PGDATA (database $POSTGRES_DB, user $POSTGRES_USER)"
    fi
    chown -R postgres:postgres "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" -p "$PGPORT" -c listen_addresses="$POSTGRES_LISTEN" \
        -c unix_socket_directories=/var/run/postgresql "$@"
    ;;
redis)
    : "${REDIS_PORT:=6379}" "${REDIS_BIND:=127.0.0.1}"
    chown redis:redis /data/redis
    # appendonly: the job stream survives a restart (a queued campaign is not lost)
    exec setpriv --reuid=redis --regid=redis --init-groups redis-server --port "$REDIS_PORT" --bind "$REDIS_BIND" --dir /data/redis \
        --appendonly yes --save "" --protected-mode no "$@"
    ;;
*) exec "$what" "$@" ;;
esac
