"""A PENDING job's parameters changed by POST {job}/parameters: added, replaced, removed."""

from __future__ import annotations

import pytest

from skycut.errors import UsageError
from skycut.soda.params import REPEATABLE
from skycut.uws.model import JobParameter
from skycut.uws.parameters import changed_parameters, refuse_controls

JOB = [
    JobParameter("ID", "gs://s/a.fits"),
    JobParameter("CIRCLE", "1 1 0.1"),
    JobParameter("responseformat", "image/png"),
    JobParameter("RUNID", "first"),
]


def change(*posted: tuple[str, str]) -> list[tuple[str, str]]:
    return changed_parameters(JOB, list(posted), repeatable=REPEATABLE)


def test_a_single_valued_parameter_is_replaced_whatever_its_case() -> None:
    assert change(("RESPONSEFORMAT", "application/fits")) == [
        ("ID", "gs://s/a.fits"),
        ("CIRCLE", "1 1 0.1"),
        ("RUNID", "first"),
        ("RESPONSEFORMAT", "application/fits"),
    ]


def test_a_repeatable_parameter_gets_the_values_added() -> None:
    changed = change(("circle", "2 2 0.1"), ("ID", "gs://s/b.fits"))
    assert [v for n, v in changed if n.upper() == "CIRCLE"] == ["1 1 0.1", "2 2 0.1"]
    assert [v for n, v in changed if n.upper() == "ID"] == ["gs://s/a.fits", "gs://s/b.fits"]


def test_an_empty_value_removes_a_parameter_of_either_kind() -> None:
    assert change(("CIRCLE", ""), ("RUNID", "")) == [
        ("ID", "gs://s/a.fits"),
        ("responseformat", "image/png"),
    ]
    # a repeatable parameter's values replaced: removed, then posted again
    removed = changed_parameters(JOB, [("CIRCLE", "")], repeatable=REPEATABLE)
    again = changed_parameters(
        [JobParameter(n, v) for n, v in removed], [("CIRCLE", "3 3 0.1")], repeatable=REPEATABLE
    )
    assert [v for n, v in again if n == "CIRCLE"] == ["3 3 0.1"]


@pytest.mark.parametrize(
    ("name", "resource"),
    [
        ("PHASE", "{job}/phase"),
        ("executionduration", "{job}/executionduration"),
        ("DESTRUCTION", "{job}/destruction"),
        ("ACTION", "ACTION=DELETE"),
    ],
)
def test_uws_controls_are_not_parameters(name: str, resource: str) -> None:
    with pytest.raises(UsageError, match=f"{name.upper()} is not a job parameter") as refused:
        refuse_controls([("CIRCLE", "1 1 1"), (name, "x")], where="by {job}/parameters")
    assert resource in str(refused.value)
    refuse_controls([("PHASE", "RUN")], allowed=("PHASE",), where="when a job is created")
