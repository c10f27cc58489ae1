#!/usr/bin/env bash
# Create the project's virtual environment, installing Debian's venv support when needed.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
if ! "$python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "openmyna needs Python >= 3.11 (found: $("$python" --version 2>&1))" >&2
    exit 1
fi
if ! "$python" -m venv "$venv" 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        "$python" -m venv "$venv"
    else
        echo "cannot create a venv: install python3-venv" >&2
        exit 1
    fi
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
