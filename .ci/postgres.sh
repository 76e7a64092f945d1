# Sourced by .ci/run: starts a throwaway PostgreSQL server on 127.0.0.1 for the many-workers
# test and exports PYG_NEGDIFF_PG_URL. Any failure returns non-zero and the test skips.
start_postgres() {
  local pgbin dir port
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pgbin" ]; then
    echo "ci: installing PostgreSQL (Debian package)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || return 1
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
  [ -n "$pgbin" ] || return 1
  python -m pip install -q psycopg2-binary || return 1
  dir=$(mktemp -d /tmp/pyg-negdiff-pg.XXXXXX) || return 1
  chown postgres "$dir" || return 1
  runuser -u postgres -- "$pgbin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null || return 1
  port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null || return 1
  runuser -u postgres -- "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U postgres optuna || return 1
  export PYG_NEGDIFF_PG_URL="postgresql+psycopg2://postgres@127.0.0.1:$port/optuna"
  echo "ci: PostgreSQL on 127.0.0.1:$port (data in $dir)"
}
start_postgres
