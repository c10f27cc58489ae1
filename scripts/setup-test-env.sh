#!/usr/bin/env bash
# Install the system packages the test suite needs (Debian, when run as root), and make sure
# the real services the tests use answer: PostgreSQL 127.0.0.1:5432 and NATS JetStream 4222.
set -euo pipefail

DEBIAN_PACKAGES=(
    # none beyond the services yet; the card issue adds pcscd, vsmartcard-vpcd, opensc
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

status=0
for svc in "PostgreSQL:5432" "NATS:4222"; do
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
