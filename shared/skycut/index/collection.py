"""Which collection an image belongs to, from where it is stored.

A deployment lists rules (:class:`skycut.collection_rules.CollectionRule`), each a
glob pattern (:func:`fnmatch.fnmatchcase`:
``*`` also crosses ``/``) and the ObsCore ``obs_collection`` it gives, e.g.
``CollectionRule("sample/deepcoadd-*", "deepcoadd")``. A pattern is matched
against the object's name in its bucket, or against the whole
``gs://bucket/object`` ID if it starts with ``gs://``; the first rule that
matches wins. An image no rule names is in the collection of its
top-level folder (``sample`` for ``sample/calexp-1.fits``), or of its
bucket if it lies at the bucket's root.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from skycut.collection_rules import CollectionRule

__all__ = ["collection_of"]


def collection_of(uri: str, rules: Sequence[CollectionRule]) -> tuple[str, CollectionRule | None]:
    """Return an image's collection and the rule that named it (`None` for the default).

    Parameters
    ----------
    uri
        The image's ID, ``gs://bucket/object``.
    rules
        The rules, first match wins.

    """
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    for rule in rules:
        subject = uri if rule.pattern.startswith("gs://") else name
        if fnmatchcase(subject, rule.pattern):
            return rule.collection, rule
    folder, slash, _ = name.partition("/")
    return (folder if slash and folder else bucket), None
