"""Progress bars for long jobs (``tqdm`` on stderr), shown only where someone watches.

A bar is drawn when stderr is a terminal and progress is enabled (the command line's ``--quiet`` disables it);
in a pipe, a file, a notebook's captured stream or CI nothing is written. The command line's sweeps,
alignments and calibrations, and cross-validation, iterate through :func:`progress`.
"""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_ENABLED = True


def set_progress(enabled: bool) -> None:
    """Turn progress bars on or off for this process (``--quiet`` turns them off)."""
    global _ENABLED
    _ENABLED = bool(enabled)


def progress_enabled() -> bool:
    """Whether a bar would be drawn now: enabled and stderr is a terminal."""
    try:
        return _ENABLED and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


def progress(items: Iterable[T], desc: str, *, total: int | None = None, unit: str = "it",
             min_items: int = 2) -> Iterator[T]:
    """Iterate over ``items`` with a bar on stderr when :func:`progress_enabled` and there are at least
    ``min_items`` items (a one-step job gets no bar).

    Parameters
    ----------
    items : iterable
        What to iterate over.
    desc : str
        Label in front of the bar.
    total : int, optional
        Number of items when ``items`` has no length.
    unit : str, optional
        What one item is (``network``, ``fold``).
    min_items : int, optional
        Fewest items that get a bar.

    Yields
    ------
    The items of ``items``, in order.

    Examples
    --------
    >>> list(progress([1, 2, 3], "demo"))  # no terminal here: no bar, the items as they are
    [1, 2, 3]
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if not progress_enabled() or (total is not None and total < min_items):
        yield from items
        return
    from tqdm import tqdm

    with tqdm(items, desc=desc, total=total, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True) as bar:
        yield from bar
