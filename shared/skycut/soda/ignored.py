"""Unknown parameters: ignored, as DALI 1.1 §3.1 allows, but named in every error.

A misspelt name (``CIRCEL``) is ignored like any unknown one, so an error the
request then gets would hide the cause; SODA and SIA add the ignored names,
with the likely intended one, to every ``UsageError``.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence

from skycut.errors import UsageError

__all__ = ["name_ignored"]

# how many ignored names an error lists, and how much of each
_MAX_SHOWN = 10
_MAX_NAME_SHOWN = 40


def name_ignored(
    error: UsageError, ignored: Sequence[str], *, known: Collection[str]
) -> UsageError:
    """Add the ignored parameter names to ``error``'s message; return the error.

    Parameters
    ----------
    error
        The error the request gets.
    ignored
        The names it sent that the service does not read.
    known
        The names it reads, to suggest the one a misspelling meant.

    """
    if not ignored:
        return error
    names = []
    for name in ignored[:_MAX_SHOWN]:
        guess = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
        shown = name[:_MAX_NAME_SHOWN] + ("..." if len(name) > _MAX_NAME_SHOWN else "")
        names.append(f"{shown}, did you mean {guess[0]}?" if guess else shown)
    more = len(ignored) - _MAX_SHOWN
    listed = "; ".join(names) + (f"; and {more} more" if more > 0 else "")
    plural = "s" if len(ignored) > 1 else ""
    error.message = f"{error.message} (ignored unknown parameter{plural}: {listed})"
    error.args = (error.message,)
    return error
