"""The small FastAPI adapter Authlib lacks (it ships Flask and Django ones only).

An HTTP request becomes Authlib's ``OAuth2Request`` (its parameters from the query and a
form body, every value kept so that a repeated parameter is refused), and Authlib's answer,
``(status, body, headers)``, becomes a Starlette response. Nothing else: the grants are
Authlib's (``grants.py``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import Headers

#: A token or revocation request is a few parameters; nothing legitimate is this large.
MAX_FORM_BYTES = 16 * 1024


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._datalist: dict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class FastApiOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """Authlib's request made of a Starlette request's parts."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Headers,
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload([*query, *form])

    @property
    def args(self) -> dict[str, str]:
        """The query's parameters (first values)."""
        return self._args

    @property
    def form(self) -> dict[str, str]:
        """The form body's parameters (first values)."""
        return self._form


def origin_of(request: Request) -> str:
    """The origin the request came to (the issuer on one machine)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def oauth_request(
    request: Request,
    form: list[tuple[str, str]] | None = None,
    query: list[tuple[str, str]] | None = None,
) -> FastApiOAuth2Request:
    """Authlib's request for ``request`` (a form already read, or the stored parameters)."""
    return FastApiOAuth2Request(
        request.method,
        str(request.url),
        request.headers,
        list(request.query_params.multi_items()) if query is None else query,
        form or [],
    )


async def read_form(request: Request) -> list[tuple[str, str]]:
    """A urlencoded form body, every value (``invalid_request`` past ``MAX_FORM_BYTES``)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return [("_too_large", "1")]
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return [("_malformed", "1")]


def to_response(status: int, body: Any, headers: Any) -> Response:
    """Authlib's answer as an HTTP response (a redirect after a form post is 303)."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    location = next((v for k, v in pairs if k.lower() == "location"), None)
    if location is not None and status in (301, 302, 303, 307):
        response: Response = RedirectResponse(location, status_code=303)
    elif isinstance(body, dict):
        response = JSONResponse(body, status_code=status)
    else:
        response = Response(
            body if isinstance(body, str | bytes) else json.dumps(body), status_code=status
        )
    for key, value in pairs:
        if key.lower() not in ("location", "content-type", "content-length"):
            response.headers[key] = value
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Pragma", "no-cache")
    return response
