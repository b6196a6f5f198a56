#!/usr/bin/env bash
# Prints the path of a working `uv`, installing it first if needed (messages go to stderr):
# uv on PATH, else ~/.local/bin/uv, else `python3 -m pip install --user uv`, else a small
# virtualenv at .tools/uv (for Pythons that refuse --user installs, PEP 668).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_UV="$ROOT_DIR/.tools/uv/bin/uv"
USER_UV="$(python3 -m site --user-base 2>/dev/null || echo "$HOME/.local")/bin/uv"

say() { printf 'ensure-uv: %s\n' "$*" >&2; }

found() {
    local candidate
    for candidate in "$(command -v uv 2>/dev/null || true)" "$USER_UV" "$TOOLS_UV"; do
        if [[ -n "$candidate" && -x "$candidate" ]] && "$candidate" --version >/dev/null 2>&1; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

found && exit 0
command -v python3 >/dev/null || {
    say "ERROR: python3 (3.11 or newer) is required; install it, e.g. 'apt-get install python3'"
    exit 1
}
say "installing uv with pip (python3 -m pip install --user uv)"
if ! python3 -m pip install --quiet --user uv >/dev/null 2>&1; then
    say "pip --user refused (or pip is missing); installing uv into $ROOT_DIR/.tools/uv instead"
    if ! python3 -m venv "$ROOT_DIR/.tools/uv" >/dev/null 2>&1; then
        if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
            say "apt-get install python3-venv"
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
        fi
        rm -rf "$ROOT_DIR/.tools/uv"
        python3 -m venv "$ROOT_DIR/.tools/uv" >&2 || {
            say "ERROR: python3 -m venv failed; install python3-venv (apt-get install python3-venv)"
            exit 1
        }
    fi
    "$ROOT_DIR/.tools/uv/bin/python" -m pip install --quiet uv >&2
fi
found || {
    say "ERROR: uv was installed but does not run; install it by hand: python3 -m pip install uv"
    exit 1
}
