#!/usr/bin/env bash
# Install Debian's Chromium (and chromedriver) for the browser tests, if it is missing.
# Idempotent: does nothing when /usr/bin/chromium already exists. Runs as root, or via sudo.
# Never downloads a browser build from the web (no `playwright install`): only Debian packages.
set -euo pipefail

CHROMIUM="${ABTEST_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $CHROMIUM ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "error: $CHROMIUM is missing and this script needs root (or sudo) to apt-get install it." >&2
    echo "       run: apt-get install chromium chromium-driver" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get not found; install Chromium with your system's package manager" >&2
    echo "       and set ABTEST_CHROMIUM to its path." >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core
echo "installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
