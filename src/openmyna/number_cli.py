"""``openmyna number …``: check numbers and issue new ones (SPEC N1–N3)."""

from __future__ import annotations

import sys
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openmyna.builder import Builder
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.numbers import (
    classify_number,
    digit_lines,
    mask_individual_number,
    mask_resident_code,
    normalize_digits,
    validate_resident_code,
)
from openmyna.numbers.checkdigits import NumberKind
from openmyna.numbers.ff1 import U64

app = typer.Typer(
    help="Individual and corporate numbers (N1-N3).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_err = Console(stderr=True)

#: Above this many numbers, ``issue`` shows a progress bar on stderr.
PROGRESS_THRESHOLD = 100_000
_CHUNK = 1 << 20


def _fail(exc: OpenMynaError) -> typer.Exit:
    _err.print(exc.diagnostics(), markup=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


#: The most characters ``check`` reads from standard input (a number and some spacing).
STDIN_LIMIT = 64


def _number_from_stdin() -> str:
    """The number typed at a hidden prompt, or the first line piped in (out of shell history)."""
    if sys.stdin.isatty():
        typed: str = typer.prompt("Number", hide_input=True)
        return typed.strip()
    text = sys.stdin.read(STDIN_LIMIT + 1)
    lines = text.strip().splitlines()
    if not lines or len(text) > STDIN_LIMIT:
        raise InvalidInput("give one number on standard input")
    return lines[0].strip()


@app.command()
def check(
    number: Annotated[
        str | None,
        typer.Argument(
            help="12-digit individual, 13-digit corporate or 11-digit code;"
            " none or - reads it from standard input (hidden when typed)."
        ),
    ] = None,
) -> None:
    """Say whether NUMBER is a valid individual or corporate number (or resident code)."""
    try:
        if number is None or number == "-":
            number = _number_from_stdin()
        if len(normalize_digits(number)) == 11:
            code = validate_resident_code(number)
            typer.echo(f"{mask_resident_code(code)}: valid resident-record code (住民票コード)")
            return
        kind = classify_number(number)
    except OpenMynaError as exc:
        raise _fail(exc) from None
    shown = (
        mask_individual_number(number)
        if kind is NumberKind.INDIVIDUAL
        else normalize_digits(number)  # corporate numbers are public
    )
    typer.echo(f"{shown}: valid {kind.label}")


@app.command()
def issue(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many to issue.")] = 1,
    with_codes: Annotated[
        bool, typer.Option("--with-codes", help="Print 'resident-code<TAB>number' lines.")
    ] = False,
) -> None:
    """Issue COUNT new residents a resident-record code each; print their individual numbers."""
    out = sys.stdout.buffer
    try:
        with Builder.from_environment() as parts:
            authority = parts.numbering()
            chunks = authority.iter_issue_arrays(count, chunk=_CHUNK)
            if count < PROGRESS_THRESHOLD:
                for codes, numbers in chunks:
                    out.write(_lines(codes, numbers, with_codes))
            else:
                with Progress(
                    TextColumn("issuing"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    console=_err,
                ) as progress:
                    task = progress.add_task("issue", total=count)
                    for codes, numbers in chunks:
                        out.write(_lines(codes, numbers, with_codes))
                        progress.advance(task, len(numbers))
    except OpenMynaError as exc:
        raise _fail(exc) from None
    out.flush()


def _lines(codes: U64, numbers: U64, with_codes: bool) -> bytes:
    right = digit_lines(numbers, 12)
    if not with_codes:
        return right
    n = len(numbers)
    left = np.frombuffer(digit_lines(codes, 11), dtype=np.uint8).reshape(n, 12).copy()
    left[:, 11] = ord("\t")
    both = np.hstack([left, np.frombuffer(right, dtype=np.uint8).reshape(n, 13)])
    return both.tobytes()
