"""The holder's app of the card login (``openmyna card login URL``): the protocol and a client.

A portal that logs people in with the card shows a login request's URL (as a QR code and as
text). The holder's app:

1. ``GET URL`` with ``Accept: application/json``: the request's id, its one-time ``nonce``,
   its short code (shown on the waiting screen, to compare) and when it expires. The URL is
   ``<origin>/login/r/<request id>``; a person who types the short code instead has the app
   ``GET <origin>/login/code/<code>`` for the same answer;
2. reads the user-authentication certificate (利用者証明用電子証明書) from the card;
3. has the card sign ``login_message(origin, request_id, nonce)`` with the auth key after the
   4-digit PIN (RSASSA-PKCS1-v1_5 over its SHA-256: the card computes the RSA operation on
   the DigestInfo, as every JPKI authentication does);
4. ``POST URL`` with ``{"certificate": base64(DER), "signature": base64(256 bytes)}``.

The signed bytes (ASCII, lines joined by LF, no final LF)::

    openmyna-card-login-v1
    <origin of the URL the app was given: scheme://host[:port], lower case, no default port>
    <request id: 32 hex digits>
    <nonce: 43 characters of base64url>

The origin is the app's own reading of the URL it was given, never a value the server
sends: a look-alike site that relays a real portal's request gets a signature over its own
origin, which the real portal refuses. The request id and the nonce tie the signature to one
request; a signature over another request (or a replay after the request was answered) is
refused.

The app knows nothing else of the portal: it speaks HTTP. The PIN never leaves the card's
reader; the card's own counter locks it after wrong tries (``PIN_WRONG`` with the tries left,
then ``PIN_LOCKED``).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from openmyna.card.client import CardClient
from openmyna.card.errors import LoginRefused, LoginUrlInvalid, PortalUnreachable
from openmyna.card.layout import CertSlot, KeyRef

if TYPE_CHECKING:
    import httpx2

#: The first line of what the card signs (a new format gets a new line).
LOGIN_CONTEXT = "openmyna-card-login-v1"
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Where a portal serves a login request (``GET``: the challenge, ``POST``: the answer) and
#: the look-up of one by its short code.
REQUEST_PATH = "/login/r/"
CODE_PATH = "/login/code/"


def origin_of(url: str) -> str:
    """The origin of ``url``: ``scheme://host[:port]``, lower case, without a default port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise LoginUrlInvalid("the login URL is not an http or https URL")
    try:
        port = parts.port
    except ValueError:
        raise LoginUrlInvalid("the login URL has an invalid port") from None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def login_message(origin: str, request_id: str, nonce: str) -> bytes:
    """The bytes the card signs to answer one login request (see the module's docstring)."""
    if not _REQUEST_ID.fullmatch(request_id) or not _NONCE.fullmatch(nonce):
        raise LoginUrlInvalid("the login request's id or nonce is malformed")
    return "\n".join((LOGIN_CONTEXT, origin, request_id, nonce)).encode("ascii")


@dataclass(frozen=True)
class LoginChallenge:
    """A login request as the holder's app fetched it."""

    url: str
    origin: str
    request_id: str
    nonce: str
    short_code: str
    expires_at: str

    @property
    def message(self) -> bytes:
        """What the card signs for this request."""
        return login_message(self.origin, self.request_id, self.nonce)


@dataclass(frozen=True)
class CardAnswer:
    """What the app posts: the auth certificate and the card's signature."""

    certificate: bytes
    signature: bytes

    def body(self) -> dict[str, str]:
        """The JSON body of the answer."""
        return {
            "certificate": base64.b64encode(self.certificate).decode("ascii"),
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }


def sign_challenge(client: CardClient, challenge: LoginChallenge, pin: str) -> CardAnswer:
    """Read the auth certificate and sign the challenge with the auth key (after ``pin``)."""
    certificate = client.certificate_der(CertSlot.AUTH)
    signature = client.sign(KeyRef.AUTH, pin, data=challenge.message)
    return CardAnswer(certificate, signature)


def _problem(response: httpx2.Response) -> LoginRefused:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    code = body.get("title") if isinstance(body, dict) else None
    detail = body.get("detail") if isinstance(body, dict) else None
    return LoginRefused(
        f"the portal refused: {detail or 'no reason given'}",
        reason=str(code or f"HTTP {response.status_code}")[:64],
        status=response.status_code,
    )


def _request(http: httpx2.Client, method: str, url: str, **kwargs: Any) -> httpx2.Response:
    import httpx2

    try:
        return http.request(method, url, **kwargs)
    except httpx2.TransportError as exc:
        raise PortalUnreachable(
            "the portal does not answer", origin=origin_of(url), error=type(exc).__name__
        ) from None


def _challenge(http: httpx2.Client, fetched: str, origin: str) -> LoginChallenge:
    response = _request(http, "GET", fetched, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise _problem(response)
    try:
        body = response.json()
        request_id = str(body["request_id"])
        challenge = LoginChallenge(
            url=f"{origin}{REQUEST_PATH}{request_id}",
            origin=origin,
            request_id=request_id,
            nonce=str(body["nonce"]),
            short_code=str(body["short_code"]),
            expires_at=str(body["expires_at"]),
        )
    except (ValueError, KeyError, TypeError):
        raise LoginUrlInvalid("the URL does not answer with a login request") from None
    challenge.message  # noqa: B018 - checks the id and the nonce before the PIN is asked for
    return challenge


def fetch_challenge(http: httpx2.Client, url: str) -> LoginChallenge:
    """``GET`` the login request at its URL (``LOGIN_REFUSED`` if it is expired or unknown)."""
    origin = origin_of(url)
    challenge = _challenge(http, url, origin)
    if urlsplit(url).path.rstrip("/") != REQUEST_PATH + challenge.request_id:
        raise LoginUrlInvalid("the login request does not match its URL")
    return challenge


def fetch_by_code(http: httpx2.Client, portal_url: str, code: str) -> LoginChallenge:
    """``GET`` the open login request with the short ``code`` shown on the portal's screen."""
    wanted = "".join(ch for ch in code if ch.isalnum()).upper()
    if not 4 <= len(wanted) <= 16:
        raise LoginUrlInvalid("the login code is the 8 characters on the screen (ABCD-EFGH)")
    origin = origin_of(portal_url)
    return _challenge(http, f"{origin}{CODE_PATH}{wanted}", origin)


def post_answer(http: httpx2.Client, challenge: LoginChallenge, answer: CardAnswer) -> None:
    """``POST`` the card's answer to the request's URL (``LOGIN_REFUSED`` with the reason)."""
    response = _request(http, "POST", challenge.url, json=answer.body())
    if response.status_code != 200:
        raise _problem(response)


def http_client(timeout: float = 10.0) -> httpx2.Client:
    """An HTTP client for the login (no proxies from the environment, no redirects)."""
    import httpx2

    return httpx2.Client(timeout=timeout, trust_env=False, follow_redirects=False)
