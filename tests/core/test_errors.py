"""Exit codes and HTTP statuses: one meaning per exit code, one family for key files."""

from __future__ import annotations

import importlib
import pkgutil

import openmyna
from openmyna.errors import KeyFileError, OpenMynaError, Unavailable


def _all_errors() -> list[type[OpenMynaError]]:
    for module in pkgutil.walk_packages(openmyna.__path__, "openmyna."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: list[type[OpenMynaError]] = []
    todo: list[type[OpenMynaError]] = [OpenMynaError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("openmyna"):  # not the tests' own stand-ins
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_exit_code_two_is_left_to_typer_for_usage_errors() -> None:
    assert [e.__name__ for e in _all_errors() if e.exit_code == 2] == []


def test_every_key_file_error_is_one_family() -> None:
    key_errors = [e for e in _all_errors() if e.__name__.endswith("KeyError")]
    assert {e.__name__ for e in key_errors} >= {
        "NumberingKeyError",
        "PkiKeyError",
        "SignerKeyError",
        "NetworkKeyError",
        "HubKeyError",
    }
    for error in key_errors:
        assert issubclass(error, KeyFileError), error.__name__
        assert (error.exit_code, error.http_status) == (4, 500), error.__name__


def test_codes_are_unique_and_exit_codes_have_one_meaning() -> None:
    errors = _all_errors()
    by_code: dict[str, list[str]] = {}
    for e in errors:
        if "code" in vars(e):  # a class that names its own code
            by_code.setdefault(e.code, []).append(e.__name__)
    assert {c: names for c, names in by_code.items() if len(names) > 1} == {}
    for e in errors:
        if e.exit_code == 3:
            assert issubclass(e, Unavailable), e.__name__
        if e.exit_code == 4:
            assert issubclass(e, KeyFileError), e.__name__
