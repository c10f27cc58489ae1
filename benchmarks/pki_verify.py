"""Benchmark J3: server-side JPKI authentications per second on one core.

One authentication = what a relying party's server does at login with the user-authentication
certificate: the chain to the JPKI auth CA (issuer, CA signature, validity, policy, key usage,
RFC 5280 path validation), the revocation status (OCSP, cached), and the PKCS#1 v1.5 / SHA-256
signature over the challenge. Measured twice:

* ``Verifier`` as configured by default: the time-independent chain checks are remembered per
  certificate DER, so a returning user costs one RSA verification (the challenge) plus the
  validity window and a status-cache look-up;
* ``cache_chains=False``: the full chain validation, CA signature included, on every login.

Both are set next to ``openssl speed -seconds 3 rsa2048`` verify/s on the same core (the
limit for one RSA verification per login). Target (issue 3): >= 30 % of that limit.

Usage: .venv/bin/python -m benchmarks.pki_verify [--seconds S] [--cpu K] [--certs N] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import cryptography
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from benchmarks.machine import describe
from openmyna.clock import FixedClock
from openmyna.config import PkiSettings, Settings
from openmyna.numbers import resident_code_check_digit
from openmyna.pki import CertKind, Jpki, RevocationChecker, Verifier

TARGET = 0.30


def openssl_rsa2048_verify(seconds: int) -> float:
    """``openssl speed rsa2048`` verify/s (this process's CPU affinity is inherited)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("the openssl CLI is needed for the comparison")
    out = subprocess.run(
        [openssl, "speed", "-seconds", str(seconds), "rsa2048"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        found = re.match(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)\s*$", line.strip())
        if found:
            return float(found.group(2))
    raise SystemExit("could not read openssl speed output")


def _code(i: int) -> str:
    base = f"{2_000_000_000 + i:010d}"
    return base + str(resident_code_check_digit(base))


def _run(verifier: Verifier, logins: list[tuple[bytes, bytes, bytes]], seconds: float) -> float:
    """Logins per second, cycling through ``logins`` for about ``seconds``."""
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for cert, challenge, signature in logins:
            verifier.verify_auth(cert, challenge, signature)
        n += len(logins)
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    """Run the benchmark and print (and optionally write) a Markdown section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: last)")
    parser.add_argument("--certs", type=int, default=200, help="distinct users (certificates)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    with tempfile.TemporaryDirectory(prefix="openmyna-bench-pki-") as tmp:
        pki = PkiSettings(presign_on_issue=False)
        jpki = Jpki.open(Settings(data_dir=tmp, pki=pki), clock)
        keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(8)]
        logins = []
        for i in range(args.certs):
            key = keys[i % len(keys)]
            cert = jpki.issue_auth_cert(
                key.public_key(),
                resident_code=_code(i),
                date_of_birth=dt.date(1970 + i % 40, 1 + i % 12, 1 + i % 28),
                card_expiry=None,
            )
            challenge = secrets.token_bytes(32)
            signature = key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
            logins.append((cert.public_bytes(serialization.Encoding.DER), challenge, signature))
        anchors = {k: jpki.ca_certificate(k) for k in CertKind}
        results = {}
        modes = (("chain checks cached", True), ("full chain every time", False))
        for label, cache_chains in modes:
            checker = RevocationChecker(
                clock, ocsp_fetch=jpki.ocsp_fetcher(), crl_fetch=jpki.crl_fetcher()
            )
            verifier = Verifier(anchors, clock, revocation=checker, cache_chains=cache_chains)
            _run(verifier, logins, 0.5)  # warm: status fetched once per user, then cached
            results[label] = _run(verifier, logins, args.seconds)
            assert checker.fetches["ocsp"] == len(logins)
        jpki.close()
    limit = openssl_rsa2048_verify(3)

    lines = [
        "## J3 — JPKI authentications per second (server side, one core)",
        "",
        f"Machine: {describe()}; pinned to CPU {cpu}; cryptography {cryptography.__version__}.",
        f"Command: `.venv/bin/python -m benchmarks.pki_verify --seconds {args.seconds:g}`"
        f" ({args.certs} users, statuses cached after one OCSP answer each).",
        "",
        "| path | logins/s | share of `openssl speed rsa2048` verify/s |",
        "|---|---|---|",
    ]
    for label, rate in results.items():
        lines.append(f"| {label} | {rate:,.0f} | {rate / limit:.0%} |")
    lines.append(f"| `openssl speed -seconds 3 rsa2048`, verify | {limit:,.0f} | 100% |")
    best = results["chain checks cached"] / limit
    verdict = "met" if best >= TARGET else "missed"
    lines += ["", f"Target >= {TARGET:.0%} of the openssl limit: {verdict} ({best:.0%})."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
