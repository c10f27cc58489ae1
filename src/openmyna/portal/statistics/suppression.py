"""Small counts of people are not published (秘匿): primary and complementary suppression.

A count of people below the threshold (1 or 2 with the default of 3) could point at someone:
"the one card holder aged 95–99 in this town". Such a cell is shown as ``X``, the mark
Japanese official tables use for suppressed figures (秘匿), and so are as many other cells as
keep it from being worked out by subtraction from a total that is shown.

Each *line* is a set of cells and the cell that is their sum (a row of 男 + 女 = 計, a column
of age bands with its total, the municipalities of a kind with the kind's total). While a
line has exactly one suppressed entry, which its sum would give away, the smallest other
entry of that line is suppressed too (complementary suppression), until no line has exactly
one. This stops every derivation from a single line; it is the simple rule, not the optimal
one (it may hide more than needed) and not a defence against solving several lines together,
which tables this small and this coarse do not need.

A count is also hidden when the group it counts in is that small (``sensitive``: the card
holders among the one or two residents of an age band), zero included: "0 cards among 1
resident" tells as much about that resident as "1 card" would. Other zeros are shown: a zero
among many says that no one is there, which points at no one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

CellId = Hashable
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Line:
    """Cells whose sum is another cell (``members`` add up to ``total``)."""

    members: tuple[CellId, ...]
    total: CellId


def line(members: Iterable[CellId], total: CellId) -> Line:
    """A line of cells and their total."""
    return Line(tuple(members), total)


def suppressed(
    counts: Mapping[K, int],
    lines: Sequence[Line],
    *,
    threshold: int,
    sensitive: Iterable[Hashable] = (),
) -> frozenset[K]:
    """The cells to show as ``X``: counts in ``1 … threshold - 1``, the ``sensitive`` cells
    (counts within a group that small), and their complements."""
    values: dict[Hashable, int] = {cell: n for cell, n in counts.items()}
    hidden = {cell for cell, n in values.items() if 0 < n < threshold}
    hidden |= {cell for cell in sensitive if cell in values}
    if not hidden:
        return frozenset()
    order = {cell: i for i, cell in enumerate(values)}
    changed = True
    while changed:
        changed = False
        for ln in lines:
            entries = (*ln.members, ln.total)
            if sum(1 for e in entries if e in hidden) != 1:
                continue
            shown = [e for e in entries if e not in hidden]
            # The smallest other entry, a non-zero one first: hiding a zero protects less.
            pick = min(shown, key=lambda e: (values[e] == 0, values[e], order[e]))
            hidden.add(pick)
            changed = True
    return frozenset(c for c in counts if c in hidden)
