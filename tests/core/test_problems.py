"""The one HTTP boundary: every error of every app is RFC 9457 problem+json."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from openmyna import problems
from openmyna.errors import Conflict, KeyFileError

SECRET_NAME = "山田太郎"  # stands for personal data a client sent


class Body(BaseModel):
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    problems.install(app)

    @app.get("/conflict")
    def conflict() -> None:
        raise Conflict("already there", field="x")

    @app.get("/keys")
    def keys() -> None:
        raise KeyFileError("the key file is unreadable")

    @app.post("/items")
    def items(body: Body) -> dict[str, int]:
        return {"count": body.count}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError(f"driver said: {SECRET_NAME}")

    return app


def _is_problem(response: object, status: int, title: str) -> dict[str, object]:
    assert getattr(response, "status_code") == status  # noqa: B009
    assert getattr(response, "headers")["content-type"] == problems.PROBLEM_JSON  # noqa: B009
    body: dict[str, object] = getattr(response, "json")()  # noqa: B009
    assert body["status"] == status
    assert body["title"] == title
    assert body["type"] == f"urn:openmyna:error:{title}"
    return body


def test_domain_errors_keep_their_code_and_status() -> None:
    with TestClient(_app()) as client:
        body = _is_problem(client.get("/conflict"), 409, "CONFLICT")
        assert body["field"] == "x"
        _is_problem(client.get("/keys"), 500, "KEY_FILE_ERROR")


def test_unknown_routes_and_methods_are_problems() -> None:
    with TestClient(_app()) as client:
        _is_problem(client.get("/nowhere"), 404, "NOT_FOUND")
        _is_problem(client.delete("/conflict"), 405, "METHOD_NOT_ALLOWED")


def test_invalid_requests_say_where_not_what() -> None:
    with TestClient(_app()) as client:
        reply = client.post("/items", json={"count": SECRET_NAME})
        body = _is_problem(reply, 400, "INVALID_INPUT")
        assert body["fields"] == "body.count"
        assert SECRET_NAME not in reply.text


def test_unexpected_failures_are_a_bare_500() -> None:
    with TestClient(_app(), raise_server_exceptions=False) as client:
        reply = client.get("/boom")
        _is_problem(reply, 500, "INTERNAL_ERROR")
        assert SECRET_NAME not in reply.text
        assert "Traceback" not in reply.text
