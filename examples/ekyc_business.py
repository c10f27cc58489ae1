"""A business's side of eKYC (JPKI identity verification) against an openmyna platform operator.

The business (a bank opening an account, say) does three things:

1. makes a fresh challenge and shows it to the customer (``new_challenge``);
2. receives the customer's signature over it — a detached CMS SignedData made by the card's
   signature key (``openmyna ekyc sign --reader … --challenge …`` on the customer's side);
3. posts both to the platform operator (``EkycClient.verify_cms``) and gets back the
   certificate, its status at the time of use, and the 4 items read from the certificate,
   which it keeps in its verification record (確認記録).

Only the HTTP API is used (no openmyna import), so this file is also the integration guide.
Run it::

    EKYC_API_KEY=ekyc_… python examples/ekyc_business.py --url http://127.0.0.1:8000 \\
        --data challenge.bin --cms signature.der
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import httpx2


class EkycRefused(Exception):
    """The platform refused: ``code`` is its stable error code (e.g. ``CERT_REVOKED``)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


def new_challenge() -> bytes:
    """A fresh challenge for one customer (the business keeps it until the answer comes)."""
    return b"account-opening:" + secrets.token_hex(32).encode("ascii")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class EkycClient:
    """The platform operator's business API, with one business's API key."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self._http = httpx2.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            trust_env=False,
        )

    def _answer(self, response: httpx2.Response) -> Any:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {}
            raise EkycRefused(
                response.status_code,
                str(problem.get("title", "HTTP_ERROR")),
                str(problem.get("detail", "")),
            )
        return response.json()

    def verify_cms(self, cms: bytes, data: bytes) -> dict[str, Any]:
        """Verify a detached CMS signature over ``data``: the result and the 4 items."""
        body = {"cms": _b64(cms), "data": _b64(data)}
        result: dict[str, Any] = self._answer(self._http.post("/api/ekyc/verifications", json=body))
        return result

    def verify_raw(self, certificate: bytes, data: bytes, signature: bytes) -> dict[str, Any]:
        """Verify a raw PKCS#1 v1.5 signature over ``data`` with its signature certificate."""
        body = {"certificate": _b64(certificate), "data": _b64(data), "signature": _b64(signature)}
        result: dict[str, Any] = self._answer(self._http.post("/api/ekyc/verifications", json=body))
        return result

    def usage(self, month: str) -> dict[str, Any]:
        """This business's queries and billed amount in ``month`` (YYYY-MM)."""
        result: dict[str, Any] = self._answer(
            self._http.get("/api/ekyc/usage", params={"month": month})
        )
        return result

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> EkycClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """Verify one customer signature and print the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True, help="The platform, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--data", required=True, type=Path, help="The challenge the customer signed."
    )
    parser.add_argument("--cms", required=True, type=Path, help="The customer's CMS (DER).")
    args = parser.parse_args(argv)
    key = os.environ.get("EKYC_API_KEY")
    if not key:
        print("set EKYC_API_KEY to the business's API key", file=sys.stderr)
        return 2
    with EkycClient(args.url, key) as client:
        try:
            result = client.verify_cms(args.cms.read_bytes(), args.data.read_bytes())
        except EkycRefused as refused:
            print(f"refused: {refused}", file=sys.stderr)
            return 1
    result["certificate"].pop("der", None)  # keep it in the record; not on the terminal
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
