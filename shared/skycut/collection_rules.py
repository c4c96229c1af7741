"""Collection rules: which ObsCore collection an image belongs to, from where it is stored.

A setting (:mod:`skycut.config`) that the index applies
(:func:`skycut.index.collection.collection_of`); it lives apart from both
so that settings do not import the index and the index's factory may read
the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CollectionRule"]


@dataclass(frozen=True)
class CollectionRule:
    """One pattern → collection rule.

    Attributes
    ----------
    pattern
        A glob pattern for the object name, or for the ``gs://`` ID.
    collection
        The ``obs_collection`` of the images it matches.
    calib_level
        The ObsCore ``calib_level`` of those images, if the rule sets one.

    """

    pattern: str
    collection: str
    calib_level: int | None = None
