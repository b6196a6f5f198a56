#!/usr/bin/env bash
# A local three-node RabbitMQ cluster for failover tests (docs/operations.md, "A local cluster").
#
#   scripts/cluster.sh up        start nodes a, b, c, join them, create the broker users (idempotent)
#   scripts/cluster.sh down      stop every node and delete the cluster's data (idempotent)
#   scripts/cluster.sh stop N    stop node N (1-3 or a-c) gracefully; `kill N` kills it (SIGKILL)
#   scripts/cluster.sh start N   start node N again; it rejoins the cluster with its data
#   scripts/cluster.sh status    each node and whether it answers
#   scripts/cluster.sh url       the AMQP_URL for the cluster (three comma-separated URLs)
#   scripts/cluster.sh ctl N ... rabbitmqctl against node N, e.g. `ctl 1 list_queues name members`
#
# Runs the installed RabbitMQ (Debian package) as extra nodes calsync-a/b/c@localhost next to the
# system broker, which it never touches: AMQP 5681-5683 and distribution 25681-25683 on loopback,
# no plugins, one shared Erlang cookie, config, data and logs under .cluster/ (gitignored).
# Tunables: CLUSTER_WAIT_SECONDS (default 180, per step), RABBITMQ_BIN_DIR (default /usr/lib/rabbitmq/bin).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$ROOT_DIR/.cluster"
WAIT_SECONDS="${CLUSTER_WAIT_SECONDS:-180}"
NODES=(a b c)
AMQP_PORT_BASE=5680
DIST_PORT_BASE=25680
USERS_TSV="$ROOT_DIR/deploy/broker-permissions.tsv"

say() { printf 'cluster: %s\n' "$*" >&2; }
die() {
    printf 'cluster: ERROR: %s\n' "$*" >&2
    [[ "${VERB:-}" != up ]] || printf 'cluster: to start afresh: make cluster-down && make cluster-up\n' >&2
    exit 1
}

# The real scripts, not the Debian wrappers in /usr/sbin: those switch to the rabbitmq user and
# reset HOME, which would lose our cookie and our environment.
bin_dir() {
    local dir="${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}"
    [[ -x "$dir/rabbitmq-server" && -x "$dir/rabbitmqctl" ]] ||
        die "RabbitMQ is not installed in $dir (apt-get install rabbitmq-server, or set RABBITMQ_BIN_DIR)"
    printf '%s' "$dir"
}

index_of() { # a|b|c|1|2|3 -> 1..3
    case "$1" in a | 1) echo 1 ;; b | 2) echo 2 ;; c | 3) echo 3 ;; *) die "unknown node '$1' (use 1-3 or a-c)" ;; esac
}
letter() { echo "${NODES[$(($1 - 1))]}"; }
node_name() { echo "calsync-$(letter "$1")@localhost"; }
amqp_port() { echo $((AMQP_PORT_BASE + $1)); }

cluster_url() {
    local i urls=()
    for i in 1 2 3; do urls+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$i")/"); done
    (IFS=,; echo "${urls[*]}")
}

# Everything a node or rabbitmqctl needs, isolated from /etc/rabbitmq and from the system node.
node_env() { # index -> runs the rest of the arguments in the node's environment
    local i="$1" dir
    shift
    dir="$BASE/$(letter "$i")"
    env HOME="$BASE/home" \
        RABBITMQ_CONF_ENV_FILE="$BASE/rabbitmq-env.conf" \
        RABBITMQ_NODENAME="$(node_name "$i")" \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$(amqp_port "$i")" \
        RABBITMQ_DIST_PORT=$((DIST_PORT_BASE + i)) \
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$BASE/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" \
        RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_PID_FILE="$dir/pid" \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +S 1:1 +SDio 2" \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        "$@"
}

ctl() { # index rabbitmqctl-arguments...
    local i="$1"
    shift
    (cd "$BASE" && node_env "$i" timeout "$WAIT_SECONDS" "$(bin_dir)/rabbitmqctl" -n "$(node_name "$i")" "$@" </dev/null 9>&-)
}

answers() { ctl "$1" -q ping >/dev/null 2>&1; }

prepare() {
    mkdir -p "$BASE/home"
    chmod 700 "$BASE/home"
    if [[ ! -s "$BASE/home/.erlang.cookie" ]]; then
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$BASE/home/.erlang.cookie")
        chmod 400 "$BASE/home/.erlang.cookie"
    fi
    : >"$BASE/rabbitmq-env.conf"
    echo '[].' >"$BASE/enabled_plugins"
    local i dir
    for i in 1 2 3; do
        dir="$BASE/$(letter "$i")"
        mkdir -p "$dir/mnesia" "$dir/log"
        cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$(amqp_port "$i")
loopback_users.guest = true
log.file.level = info
log.console = false
cluster_partition_handling = pause_minority
CONF
    done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_node() { # index; returns at once, `await_node` waits for it
    local i="$1" port
    answers "$i" && return 0
    for port in "$(amqp_port "$i")" $((DIST_PORT_BASE + i)); do
        port_free "$port" || die "port $port is taken by another process; cannot start $(node_name "$i")"
    done
    say "starting $(node_name "$i") on 127.0.0.1:$(amqp_port "$i")"
    (cd "$BASE" && node_env "$i" "$(bin_dir)/rabbitmq-server" -detached \
        >>"$BASE/$(letter "$i")/log/startup.log" 2>&1 </dev/null 9>&-) ||
        die "rabbitmq-server did not start $(node_name "$i"); see $BASE/$(letter "$i")/log/"
}

await_node() { # index: the node has booted completely (not merely opened a port)
    local i="$1" start=$SECONDS pid
    # await_startup gives up at once while the node is not registered yet: first wait for a reply.
    until answers "$i"; do
        pid="$(cat "$BASE/$(letter "$i")/pid" 2>/dev/null || true)"
        if ((SECONDS - start > 5)) && [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            die "$(node_name "$i") exited while booting; see $BASE/$(letter "$i")/log/"
        fi
        ((SECONDS - start < WAIT_SECONDS)) ||
            die "$(node_name "$i") did not answer within ${WAIT_SECONDS} s; see $BASE/$(letter "$i")/log/"
        sleep 0.5
    done
    ctl "$i" -q await_startup --timeout "$WAIT_SECONDS" >/dev/null 2>&1 ||
        die "$(node_name "$i") did not finish booting within ${WAIT_SECONDS} s; see $BASE/$(letter "$i")/log/"
}

running_nodes() { # index -> the running cluster members that node sees, one per line
    ctl "$1" -q eval 'io:format("~s~n", [string:join([atom_to_list(N) || N <- rabbit_nodes:all_running()], "\n")]).' 2>/dev/null |
        grep -v '^ok$' || true
}

join_node() { # index: join node 1's cluster unless already a member
    local i="$1" first
    first="$(node_name 1)"
    running_nodes "$i" | grep -qxF -- "$first" && return 0
    local log="$BASE/$(letter "$i")/log/join.log"
    say "joining $(node_name "$i") to $first"
    # A fresh node (nothing to reset) joins directly; start_app returns once it is running again.
    { ctl "$i" -q stop_app && ctl "$i" -q join_cluster "$first" && ctl "$i" -q start_app; } >>"$log" 2>&1 ||
        die "$(node_name "$i") could not join $first; see $log"
}

ensure_users() { # the per-publisher broker users of docs/security.md, cluster-wide: one import
    python3 - "$USERS_TSV" >"$BASE/users.json" <<'PY' || die "cannot read $USERS_TSV"
import json, sys
users, permissions = [], []
for line in open(sys.argv[1], encoding="utf-8"):
    if not line.strip() or line.startswith("#"):
        continue
    publisher, configure, write, read = line.rstrip("\n").split("\t")
    name = f"calsync-{publisher}"  # password: its name, as scripts/ensure-infra.sh does locally
    users.append({"name": name, "password": name, "tags": ""})
    permissions.append({"user": name, "vhost": "/", "configure": configure, "write": write, "read": read})
json.dump({"users": users, "permissions": permissions}, sys.stdout)
PY
    ctl 1 -q import_definitions "$BASE/users.json" >/dev/null || die "cannot create the broker users on $(node_name 1)"
}

cmd_up() {
    local start=$SECONDS i members
    prepare
    members="$(running_nodes 1 | wc -l)"
    if ((members < 3)); then
        for i in 1 2 3; do start_node "$i"; done
        for i in 1 2 3; do await_node "$i"; done
        say "3 nodes booted after $((SECONDS - start)) s"
        for i in 2 3; do join_node "$i"; done
        say "joined after $((SECONDS - start)) s"
        members="$(running_nodes 1 | wc -l)"
        ((members == 3)) || die "the cluster has $members running nodes instead of 3 (scripts/cluster.sh status)"
    fi
    ensure_users
    say "3 nodes running and joined in $((SECONDS - start)) s; AMQP_URL=$(cluster_url)"
}

node_pid() { # index -> the pid of that node's Erlang VM, only if the pid file still names it
    local i="$1" pid
    pid="$(cat "$BASE/$(letter "$i")/pid" 2>/dev/null || true)"
    [[ -n "$pid" ]] && tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" |
        grep -qxF -- "RABBITMQ_NODENAME=$(node_name "$i")" && printf '%s' "$pid"
}

stop_node() { # index [stop|kill]: the node's process is gone when this returns
    local i="$1" how="${2:-stop}" pid start=$SECONDS
    pid="$(node_pid "$i" || true)"
    if [[ "$how" == kill ]]; then
        [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null
    elif answers "$i"; then
        ctl "$i" -q stop "$BASE/$(letter "$i")/pid" >/dev/null 2>&1 || true
    fi
    [[ -n "$pid" ]] || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS - start >= WAIT_SECONDS)); then
            say "$(node_name "$i") did not stop within ${WAIT_SECONDS} s; killing it"
            kill -9 "$pid" 2>/dev/null || true
        fi
        sleep 0.2
    done
}

cmd_down() { # the data is deleted anyway, so the nodes are killed rather than shut down in turn
    local start=$SECONDS i
    [[ -d "$BASE" ]] || {
        say "no cluster here"
        return 0
    }
    for i in 1 2 3; do
        if [[ -n "$(node_pid "$i" || true)" ]]; then
            stop_node "$i" kill
        elif answers "$i"; then # running, but its pid file is gone: ask it to stop
            ctl "$i" -q stop >/dev/null 2>&1 || die "cannot stop $(node_name "$i")"
        fi
    done
    rm -rf "$BASE"
    say "stopped and removed in $((SECONDS - start)) s"
}

cmd_status() {
    local i
    for i in 1 2 3; do
        if answers "$i"; then
            printf '%s 127.0.0.1:%s up, sees: %s\n' "$(node_name "$i")" "$(amqp_port "$i")" "$(running_nodes "$i" | tr '\n' ' ')"
        else
            printf '%s 127.0.0.1:%s down\n' "$(node_name "$i")" "$(amqp_port "$i")"
        fi
    done
}

main() {
    local verb="${1:-}" i start=$SECONDS
    VERB="$verb"
    # One invocation at a time (node control from tests and a make target may overlap).
    if [[ "$verb" != url && "$verb" != ctl ]]; then
        exec 9>"$BASE.lock"
        flock -w "$WAIT_SECONDS" 9 || die "another scripts/cluster.sh still runs (lock $BASE.lock)"
    fi
    case "$verb" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    url) cluster_url ;;
    ctl)
        i="$(index_of "${2:?usage: $0 ctl N rabbitmqctl-arguments...}")"
        shift 2
        ctl "$i" "$@"
        ;;
    stop | kill)
        i="$(index_of "${2:?usage: $0 $verb N}")"
        stop_node "$i" "$verb"
        say "$(node_name "$i") ${verb/stop/stopp}ed in $((SECONDS - start)) s"
        ;;
    start)
        i="$(index_of "${2:?usage: $0 start N}")"
        [[ -d "$BASE/home" ]] || die "no cluster here; run 'make cluster-up' first"
        start_node "$i"
        await_node "$i"
        say "$(node_name "$i") running again in $((SECONDS - start)) s; it sees: $(running_nodes "$i" | tr '\n' ' ')"
        ;;
    *) die "usage: $0 up|down|status|url|stop N|kill N|start N|ctl N ..." ;;
    esac
}

main "$@"
