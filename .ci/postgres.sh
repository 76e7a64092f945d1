# Sourced by .ci/run: starts a throwaway PostgreSQL server on 127.0.0.1 for the many-workers test
# (tests/test_postgres_workers.py) and exports PYG_NEGDIFF_PG_URL. The server and its data folder
# are removed when the sourcing shell exits. Any failure returns non-zero and the test skips.
#
#   source .ci/postgres.sh && python -m pytest -m postgres
start_postgres() {
  local pgbin dir port as_pg=()
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    [ "$(id -u)" = 0 ] || { echo "ci: PostgreSQL server missing and not root: cannot install"; return 1; }
    echo "ci: installing PostgreSQL (Debian package)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || return 1
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
  [ -n "$pgbin" ] && [ -x "$pgbin/initdb" ] || return 1
  python -c "import psycopg2" 2>/dev/null || python -m pip install -q psycopg2-binary || return 1
  dir=$(mktemp -d /tmp/pyg-negdiff-pg.XXXXXX) || return 1
  if [ "$(id -u)" = 0 ]; then  # the server refuses to run as root: run it as `postgres`
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres || return 1
    chown postgres "$dir" || return 1
    as_pg=(runuser -u postgres --)
  fi
  "${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null || return 1
  port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=50" start >/dev/null || return 1
  # Stop the server and delete its files when the shell that sourced this script exits.
  # shellcheck disable=SC2064
  trap "${as_pg[*]} '$pgbin/pg_ctl' -D '$dir/data' -m fast stop >/dev/null 2>&1; rm -rf '$dir'" EXIT
  "${as_pg[@]}" "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U postgres optuna || return 1
  export PYG_NEGDIFF_PG_URL="postgresql+psycopg2://postgres@127.0.0.1:$port/optuna"
  echo "ci: $("$pgbin/postgres" --version) on 127.0.0.1:$port (data in $dir)"
}
start_postgres
