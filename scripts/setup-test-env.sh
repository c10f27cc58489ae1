#!/usr/bin/env bash
# Install the system packages the test suite needs (Debian, when run as root), and make sure
# the real services the tests use answer: PostgreSQL 127.0.0.1:5432, NATS JetStream 4222, and
# pcscd with vsmartcard's vpcd reader (the emulated card connects to it on 35963).
set -euo pipefail

DEBIAN_PACKAGES=(
    # The card's PC/SC interop tests: pcscd with the vpcd virtual reader, OpenSC's tools
    # and PKCS#11 module, the openssl command line.
    pcscd vsmartcard-vpcd opensc openssl
    # pyscard (the [pcsc] extra) has no Linux wheel: pip builds it with these.
    libpcsclite-dev swig gcc
    # Pages are tested in Debian's chromium (Playwright drives it); Japanese fonts so that
    # screenshots show the text.
    chromium fonts-noto-cjk
    # The exchange records' PDF is checked with poppler's pdftotext and pdfinfo.
    poppler-utils
)

answers() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ ${#DEBIAN_PACKAGES[@]} -gt 0 ]; then
    missing=()
    for p in "${DEBIAN_PACKAGES[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
fi

# Start a service that is installed but stopped (the project's machines start both before
# a session; this only helps when one has died).
if ! answers 5432 && command -v pg_ctlcluster >/dev/null && [ "$(id -u)" = 0 ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! answers 4222 && [ -x /usr/sbin/nats-server ] && [ "$(id -u)" = 0 ]; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do answers 4222 && break; sleep 0.5; done
fi

# pcscd: socket-activated by systemd on a desktop; where systemd does not run (containers, CI)
# start the daemon here. It must have loaded the vpcd driver, which then listens on 35963: a
# pcscd started before vsmartcard-vpcd was installed has not, so restart that one.
if [ -x /usr/sbin/pcscd ] && [ -e /etc/reader.conf.d/vpcd ] && [ "$(id -u)" = 0 ] && ! answers 35963; then
    pid=$(tr -dc 0-9 </run/pcscd/pcscd.pid 2>/dev/null || true)  # the file is NUL-padded
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do [ -e /run/pcscd/pcscd.comm ] || break; sleep 0.5; done
    fi
    if [ -d /run/systemd/system ]; then
        systemctl restart pcscd.socket pcscd.service || true
    else
        /usr/sbin/pcscd || true  # forks into the background once its socket is ready
    fi
    for _ in 1 2 3 4 5 6 7 8 9 10; do answers 35963 && break; sleep 0.5; done
fi

status=0
for svc in "PostgreSQL:5432" "NATS:4222" "pcscd+vpcd:35963"; do
    name=${svc%%:*}; port=${svc##*:}
    if answers "$port"; then
        echo "$name answers at 127.0.0.1:$port"
    elif [ "${CI:-}" = "true" ]; then
        echo "$name does not answer at 127.0.0.1:$port (required under CI=true)" >&2
        status=1
    else
        echo "$name does not answer at 127.0.0.1:$port: tests that need it will be skipped" >&2
    fi
done
exit $status
