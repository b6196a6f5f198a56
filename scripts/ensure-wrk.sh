#!/usr/bin/env bash
# Makes sure the HTTP load generator wrk (Debian's wrk package) is installed for the webhook
# benchmark (devtools/bench/webhook.py), then prints its path on stdout (messages go to stderr).
# WRK_PATH overrides the path. Not needed by `make test` (its smoke test skips without wrk).
set -euo pipefail

say() { printf 'ensure-wrk: %s\n' "$*" >&2; }

WRK="${WRK_PATH:-$(command -v wrk || true)}"

if [[ -z "$WRK" ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        say "installing wrk"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends wrk >&2
        WRK="$(command -v wrk || true)"
    else
        say "ERROR: wrk is missing. Install it, e.g.: sudo apt-get install -y wrk"
        exit 1
    fi
fi

if [[ -z "$WRK" || ! -x "$WRK" ]]; then
    say "ERROR: wrk is still missing after the install; set WRK_PATH"
    exit 1
fi
printf '%s\n' "$WRK"
