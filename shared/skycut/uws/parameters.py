"""Setting a PENDING job's parameters (POST ``{job}/parameters``), and what is not a parameter.

UWS 1.1 lets a client change the parameters of a job that has not run. A
POST there changes each name it gives, case-insensitively (DALI):

- a repeatable parameter (SODA's ``ID``, ``CIRCLE``, ``BAND``...) gets the
  values posted added to its own, so a job is built up value by value;
- any other parameter takes the value posted in place of its own, so a
  wrong ``RESPONSEFORMAT`` or ``PIXSCALE`` is mended rather than repeated
  (which would leave the job unable to run);
- a name posted with an empty value only is removed, whatever it is (to replace
  the values of a repeatable one, remove it, then post the new values).

The UWS controls that have resources of their own are not parameters: given
as parameters they would be stored and never obeyed, so they are refused
with the resource to use (`refuse_controls`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from skycut.errors import UsageError
from skycut.uws.model import JobParameter

__all__ = ["changed_parameters", "refuse_controls"]

_CONTROLS = {
    "PHASE": "POST {job}/phase (PHASE=RUN or ABORT)",
    "EXECUTIONDURATION": "POST {job}/executionduration",
    "DESTRUCTION": "POST {job}/destruction",
    "ACTION": "POST ACTION=DELETE to {job}, or DELETE it",
}


def refuse_controls(
    pairs: Sequence[tuple[str, str]], *, allowed: Collection[str] = (), where: str
) -> None:
    """Refuse UWS controls among parameters posted ``where`` (other than ``allowed``).

    Raises
    ------
    UsageError
        Naming the control and the resource that sets it.

    """
    for name, _ in pairs:
        key = name.strip().upper()
        if key in _CONTROLS and key not in allowed:
            raise UsageError(
                f"{key} is not a job parameter and is not taken {where}; "
                f"set it with {_CONTROLS[key]}"
            )


def changed_parameters(
    current: Sequence[JobParameter],
    posted: Sequence[tuple[str, str]],
    *,
    repeatable: Collection[str],
) -> list[tuple[str, str]]:
    """Return a job's parameters once ``posted`` is applied (see the module's rules).

    Parameters
    ----------
    current
        The job's parameters, in order.
    posted
        The ``(name, value)`` pairs posted, in order.
    repeatable
        Upper-case names of the parameters that take several values.

    Returns
    -------
    list of (name, value)
        The parameters kept in their order, then the values posted, in theirs.

    """
    named: dict[str, list[tuple[str, str]]] = {}
    for name, value in posted:
        named.setdefault(name.strip().upper(), []).append((name, value))
    kept = [
        (p.name, p.value)
        for p in current
        if (key := p.name.strip().upper()) not in named
        or (key in repeatable and any(v for _, v in named[key]))
    ]
    added = [(n, v) for pairs in named.values() for n, v in pairs if v]
    return kept + added
