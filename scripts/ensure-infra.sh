#!/usr/bin/env bash
# Makes sure PostgreSQL and RabbitMQ are reachable and usable by calsync.
# Shared by `make run`, `make test` and .ci/run. Quiet and fast when both are already up.
#
# Endpoints come from DATABASE_URL and AMQP_URL (localhost defaults below). For each one that
# does not answer, in this order: start it where installed but stopped; install it with apt-get
# (root on Debian/Ubuntu); start it with deploy/docker-compose.yml (a Docker engine runs);
# otherwise stop with a message naming what to start. Then leave both usable: the PostgreSQL role
# from DATABASE_URL exists with its password, LOGIN and CREATEDB (tests create their own
# databases), owns its database, and logs in over TCP; an AMQP login on RabbitMQ succeeds.
# On a local broker administered with rabbitmqctl (root), the per-publisher broker users of
# docs/security.md exist (AMQP_USER_AUTH/SYNC/NOTIFIER/PLATFORM, default calsync-<publisher>; a new
# user's password is its name, for local runs) with the permissions in deploy/broker-permissions.tsv;
# elsewhere a warning names those that cannot log in (make run and the tests connect as them).
#
# Never stops or restarts a running server. Tunables: INFRA_WAIT_SECONDS (default 90).
set -euo pipefail

DATABASE_URL="${DATABASE_URL:-postgresql://calsync:calsync@127.0.0.1:5432/calsync}"
AMQP_URL="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"
AMQP_URL="${AMQP_URL%%,*}" # several comma-separated addresses (a cluster): check the first
WAIT_SECONDS="${INFRA_WAIT_SECONDS:-90}"
ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPOSE_FILE="$ROOT_DIR/deploy/docker-compose.yml"
APT_UPDATED=0
COMPOSE_STARTED=0
STARTED_RABBIT=0

say() { printf 'ensure-infra: %s\n' "$*" >&2; }
die() {
    printf 'ensure-infra: ERROR: %s\n' "$*" >&2
    exit 1
}

# --- URL parsing -------------------------------------------------------------------------------
# Sets <prefix>_USER _PASS _HOST _PORT _PATH from URL $2 (percent-decoded by python3).
parse_url() {
    local prefix="$1" url="$2" default_port="$3" out
    out="$(python3 - "$url" "$default_port" <<'PY'
import shlex, sys
from urllib.parse import unquote, urlsplit
u = urlsplit(sys.argv[1])
fields = {
    "USER": unquote(u.username or ""),
    "PASS": unquote(u.password or ""),
    "HOST": u.hostname or "127.0.0.1",
    "PORT": str(u.port or sys.argv[2]),
    "PATH": unquote(u.path[1:]) if len(u.path) > 1 else "",
}
for key, value in fields.items():
    print(f"{key}={shlex.quote(value)}")
PY
)" || die "cannot parse URL in ${prefix}: check its syntax"
    local line
    while IFS= read -r line; do
        eval "${prefix}_${line}"
    done <<<"$out"
}

is_local_host() {
    case "$1" in 127.0.0.1 | localhost | ::1 | "") return 0 ;; *) return 1 ;; esac
}

port_open() { # host port
    timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

wait_for() { # description seconds command...
    local what="$1" seconds="$2" start=$SECONDS waited
    shift 2
    until "$@"; do
        if ((SECONDS - start >= seconds)); then
            return 1
        fi
        waited=$((SECONDS - start))
        if ((waited > 0 && waited % 15 == 0)); then say "waiting for $what ($waited s)"; fi
        sleep 1
    done
}

is_root() { [[ "$(id -u)" == 0 ]]; }
is_debian() { [[ -r /etc/debian_version ]] && command -v apt-get >/dev/null; }
docker_engine() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

apt_install() {
    if ((APT_UPDATED == 0)); then
        say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

compose_up() {
    if ((COMPOSE_STARTED == 0)); then
        say "starting postgres and rabbitmq with docker compose ($COMPOSE_FILE)"
        docker compose -f "$COMPOSE_FILE" up -d postgres rabbitmq >&2 || return 1
        COMPOSE_STARTED=1
    fi
}

# --- PostgreSQL --------------------------------------------------------------------------------
pg_login_ok() { # the project's own login over TCP works and may create databases
    command -v psql >/dev/null || return 1
    local createdb
    createdb="$(PGCONNECT_TIMEOUT=3 psql "$DATABASE_URL" -X -w -A -t -q \
        -c "select rolcreatedb from pg_roles where rolname = current_user" 2>/dev/null)" || return 1
    [[ "$createdb" == "t" ]]
}

pg_start_installed() { # the local cluster on PG_PORT (Debian layout); 1 when none is installed
    command -v pg_ctlcluster >/dev/null && command -v pg_lsclusters >/dev/null || return 1
    local version cluster
    read -r version cluster < <(pg_lsclusters -h | awk -v port="$PG_PORT" \
        '$3 == port {print $1, $2; exit}')
    if [[ -z "${version:-}" ]]; then
        version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
        [[ -n "$version" ]] || version="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)"
        [[ -n "$version" ]] || return 1
        cluster=main
        [[ -d "/etc/postgresql/$version/$cluster" ]] && return 1 # main exists on another port
        say "creating PostgreSQL $version cluster '$cluster' on port $PG_PORT"
        pg_createcluster --port "$PG_PORT" "$version" "$cluster" >&2
    fi
    say "starting PostgreSQL (pg_ctlcluster $version $cluster start)"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start >&2 || true
}

# Start a server that is installed here (`$1`); else, as root on Debian and if `$2` says it is not
# installed, install the packages (the other arguments) and start it; else docker compose. Fails
# when none of these is possible on this machine.
reach_server() {
    local start=$1 not_installed=$2
    shift 2
    "$start" && return 0
    if is_root && is_debian && "$not_installed"; then
        apt_install "$@" || die "apt-get install $* failed"
        "$start" && return 0
    fi
    docker_engine && compose_up
}

pg_not_installed() { ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; }

pg_make_reachable() {
    reach_server pg_start_installed pg_not_installed postgresql postgresql-client && return 0
    die "PostgreSQL is not reachable at $PG_HOST:$PG_PORT and cannot be started here. Start it
  (e.g. 'sudo pg_ctlcluster <version> main start', 'sudo apt-get install postgresql', or
  'docker compose -f deploy/docker-compose.yml up -d postgres'), or point DATABASE_URL at one."
}

pg_admin_psql() { # psql as a superuser on the local server, however this machine allows it
    if is_root && id postgres >/dev/null 2>&1; then
        (cd / && runuser -u postgres -- psql -X -q -p "$PG_PORT" -d postgres "$@")
    elif psql -X -q -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -c "select 1" \
        >/dev/null 2>&1; then
        psql -X -q -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres "$@"
    elif command -v sudo >/dev/null && sudo -n -u postgres true 2>/dev/null; then
        (cd / && sudo -n -u postgres psql -X -q -p "$PG_PORT" -d postgres "$@")
    else
        return 1
    fi
}

pg_provision() { # creates what is missing; never changes a password that is already set
    say "creating/updating role '$PG_USER' (LOGIN CREATEDB) and database '$PG_PATH'"
    pg_admin_psql -v ON_ERROR_STOP=1 -v u="$PG_USER" -v p="$PG_PASS" -v d="$PG_PATH" >&2 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'u', :'p')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'u')
\gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB', :'u')
\gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'u', :'p')
FROM pg_authid WHERE rolname = :'u' AND rolpassword IS NULL
\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'d', :'u')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'d')
\gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'d', :'u')
\gexec
SQL
}

ensure_postgres() {
    pg_login_ok && return 0
    parse_url PG "$DATABASE_URL" 5432
    [[ -n "$PG_USER" && -n "$PG_PATH" ]] || die "DATABASE_URL must name a user and a database"
    if ! port_open "$PG_HOST" "$PG_PORT"; then
        is_local_host "$PG_HOST" || die "PostgreSQL at $PG_HOST:$PG_PORT is not reachable;
  start it or point DATABASE_URL at a running server."
        pg_make_reachable
        wait_for "PostgreSQL" "$WAIT_SECONDS" port_open "$PG_HOST" "$PG_PORT" ||
            die "PostgreSQL did not open $PG_HOST:$PG_PORT within ${WAIT_SECONDS} s"
        say "PostgreSQL listens on $PG_HOST:$PG_PORT"
    fi
    if ! command -v psql >/dev/null; then
        # Without a client (Docker-only machine) the compose file's own init made the role.
        say "psql not installed: checked only that $PG_HOST:$PG_PORT accepts connections"
        return 0
    fi
    # A server that just opened its port refuses logins while it recovers or starts up.
    if command -v pg_isready >/dev/null; then
        wait_for "PostgreSQL start-up" "$WAIT_SECONDS" pg_isready -q -h "$PG_HOST" -p "$PG_PORT" ||
            die "PostgreSQL at $PG_HOST:$PG_PORT did not accept connections within ${WAIT_SECONDS} s"
    fi
    pg_login_ok && return 0
    if is_local_host "$PG_HOST" && pg_provision; then
        pg_login_ok && return 0
        die "role '$PG_USER' exists but logging in with DATABASE_URL over TCP fails; check that
  pg_hba.conf allows 'host $PG_PATH $PG_USER 127.0.0.1/32 scram-sha-256' (or md5/trust)."
    fi
    die "cannot log in to PostgreSQL with DATABASE_URL ($PG_USER@$PG_HOST:$PG_PORT/$PG_PATH).
  As a superuser run: CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '...';
  CREATE DATABASE $PG_PATH OWNER $PG_USER;"
}

# --- RabbitMQ ----------------------------------------------------------------------------------
AMQP_RC=0
amqp_status() { # sets AMQP_RC: 0 ok, 1 unreachable, 2 login or vhost refused, 3 other
    AMQP_RC=0
    python3 "$ROOT_DIR/scripts/amqp_check.py" "$AMQP_URL" 3 2>/dev/null || AMQP_RC=$?
}
amqp_login_ok() {
    amqp_status
    ((AMQP_RC == 0))
}
amqp_answers() { # the broker is up enough to accept or refuse a login
    amqp_status
    ((AMQP_RC == 0 || AMQP_RC == 2))
}

rabbit_start_installed() {
    command -v rabbitmq-server >/dev/null || return 1
    # A node that is already booting makes this print "already running" and exit: harmless.
    say "starting RabbitMQ (rabbitmq-server -detached)"
    (cd / && rabbitmq-server -detached >&2) || true
}

rabbit_make_reachable() {
    reach_server rabbit_start_installed true rabbitmq-server && return 0
    die "RabbitMQ is not reachable at $MQ_HOST:$MQ_PORT and cannot be started here. Start it
  (e.g. 'sudo rabbitmq-server -detached', 'sudo apt-get install rabbitmq-server', or
  'docker compose -f deploy/docker-compose.yml up -d rabbitmq'), or point AMQP_URL at one."
}

rabbit_provision() { # a missing user or vhost from AMQP_URL on a local broker we administer
    command -v rabbitmqctl >/dev/null && is_root || return 1
    local vhost="${MQ_PATH:-/}"
    # Never touch an existing user (its password belongs to whoever created it).
    if rabbitmqctl -q list_users 2>/dev/null | awk '{print $1}' | grep -qxF -- "$MQ_USER"; then
        rabbitmqctl -q list_vhosts 2>/dev/null | grep -qxF -- "$vhost" && return 1
        say "creating RabbitMQ vhost '$vhost' for existing user '$MQ_USER'"
        rabbitmqctl -q add_vhost "$vhost" >/dev/null 2>&1 || true
    else
        say "creating RabbitMQ user '$MQ_USER' and vhost '$vhost'"
        rabbitmqctl -q add_vhost "$vhost" >/dev/null 2>&1 || true
        rabbitmqctl -q add_user "$MQ_USER" "$MQ_PASS" >/dev/null 2>&1 || return 1
    fi
    rabbitmqctl -q set_permissions -p "$vhost" "$MQ_USER" '.*' '.*' '.*' >/dev/null 2>&1
}

ensure_rabbitmq() {
    amqp_login_ok && return 0
    parse_url MQ "$AMQP_URL" 5672
    if ! port_open "$MQ_HOST" "$MQ_PORT"; then
        is_local_host "$MQ_HOST" || die "RabbitMQ at $MQ_HOST:$MQ_PORT is not reachable;
  start it or point AMQP_URL at a running broker."
        rabbit_make_reachable
        STARTED_RABBIT=1
    fi
    # A fresh broker opens its port before it accepts logins: wait for a real AMQP answer.
    local start=$SECONDS
    wait_for "RabbitMQ" "$WAIT_SECONDS" amqp_answers || true
    if ((AMQP_RC == 0)); then
        ((STARTED_RABBIT == 0)) || say "RabbitMQ accepts logins (after $((SECONDS - start)) s)"
        return 0
    fi
    if ((AMQP_RC == 2)) && is_local_host "$MQ_HOST" && rabbit_provision && amqp_login_ok; then
        return 0
    fi
    python3 "$ROOT_DIR/scripts/amqp_check.py" "$AMQP_URL" 3 || true
    if ((AMQP_RC == 2)); then
        die "RabbitMQ at $MQ_HOST:$MQ_PORT refuses the user, password or vhost in AMQP_URL.
  Create them (rabbitmqctl add_user / add_vhost / set_permissions) or fix AMQP_URL."
    fi
    die "RabbitMQ at $MQ_HOST:$MQ_PORT did not accept an AMQP login within ${WAIT_SECONDS} s.
  Check that the broker runs ('rabbitmqctl status') and listens on that port."
}

# --- Broker users, one per publisher (docs/security.md) ----------------------------------------
broker_user_name() { # publisher -> its broker user name from the environment
    local var="AMQP_USER_${1^^}"
    printf '%s' "${!var:-calsync-$1}"
}

broker_user_url() { # publisher -> AMQP_URL with its broker user (password: the name, local runs)
    python3 - "$AMQP_URL" "$(broker_user_name "$1")" <<'PY'
import sys
from urllib.parse import quote, urlsplit, urlunsplit
u, name = urlsplit(sys.argv[1]), quote(sys.argv[2], safe="")
print(urlunsplit((u.scheme, f"{name}:{name}@{u.hostname}:{u.port or 5672}", u.path, u.query, "")))
PY
}

warn_missing_broker_users() { # where we cannot administer the broker: say which users cannot log in
    local publisher missing=""
    for publisher in auth sync notifier platform; do
        python3 "$ROOT_DIR/scripts/amqp_check.py" "$(broker_user_url "$publisher")" 3 >/dev/null 2>&1 ||
            missing+=" $(broker_user_name "$publisher")"
    done
    [[ -z "$missing" ]] && return 0
    say "WARNING: RabbitMQ refuses the broker users${missing} (password: the user name); make run and
  the tests connect as them. Run this script as root on the broker's machine, or create them with the
  permissions in deploy/broker-permissions.tsv (docs/security.md)."
}

ensure_broker_users() { # idempotent; one rabbitmqctl call when everything is in place already
    parse_url MQ "$AMQP_URL" 5672
    if ! command -v rabbitmqctl >/dev/null || ! is_root || ! is_local_host "$MQ_HOST"; then
        warn_missing_broker_users
        return 0
    fi
    local vhost="${MQ_PATH:-/}" current users publisher configure write read name
    current="$(cd / && rabbitmqctl -q list_permissions -p "$vhost" 2>/dev/null)" || return 0
    users=""
    while IFS=$'\t' read -r publisher configure write read; do
        [[ -z "$publisher" || "$publisher" == \#* ]] && continue
        name="$(broker_user_name "$publisher")"
        grep -qxF -- "$name"$'\t'"$configure"$'\t'"$write"$'\t'"$read" <<<"$current" && continue
        [[ -n "$users" ]] || users="$(cd / && rabbitmqctl -q list_users </dev/null 2>/dev/null | awk '{print $1}')"
        if ! grep -qxF -- "$name" <<<"$users"; then
            say "creating RabbitMQ user '$name' (password: its name; for local runs only)"
            (cd / && rabbitmqctl -q add_user "$name" "$name" && rabbitmqctl -q set_user_tags "$name") \
                </dev/null >/dev/null ||
                die "cannot create RabbitMQ user '$name'"
        fi
        say "setting RabbitMQ permissions of '$name' on vhost '$vhost'"
        (cd / && rabbitmqctl -q set_permissions -p "$vhost" "$name" "$configure" "$write" "$read") \
            </dev/null >/dev/null ||
            die "cannot set the permissions of RabbitMQ user '$name'"
    done < <(grep -v '^#' "$ROOT_DIR/deploy/broker-permissions.tsv")
}

command -v python3 >/dev/null || die "python3 is required (it parses the URLs and checks AMQP)"
ensure_postgres
ensure_rabbitmq
ensure_broker_users
