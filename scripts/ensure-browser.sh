#!/usr/bin/env bash
# Makes sure a headless Chromium and fonts with umlauts are installed for the browser tests,
# then prints the browser's path on stdout (messages go to stderr).
#
# Uses Debian's chromium package (/usr/bin/chromium): Playwright drives it through
# executable_path; it never downloads a browser of its own. CHROMIUM_PATH overrides the path.
set -euo pipefail

say() { printf 'ensure-browser: %s\n' "$*" >&2; }

BROWSER="${CHROMIUM_PATH:-/usr/bin/chromium}"
FONT_PACKAGES=(fonts-dejavu-core fonts-liberation)

missing=()
[[ -x "$BROWSER" ]] || missing+=(chromium)
if command -v dpkg-query >/dev/null; then
    for pkg in "${FONT_PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
        [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
    done
fi

if ((${#missing[@]} > 0)); then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    else
        say "ERROR: missing ${missing[*]}. Install them, e.g.:"
        say "  sudo apt-get install -y --no-install-recommends ${missing[*]}"
        say "or set CHROMIUM_PATH to an installed Chromium."
        exit 1
    fi
fi

if [[ ! -x "$BROWSER" ]]; then
    say "ERROR: $BROWSER is still missing after the install; set CHROMIUM_PATH"
    exit 1
fi
printf '%s\n' "$BROWSER"
