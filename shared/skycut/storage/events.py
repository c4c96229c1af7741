"""Cloud Storage object events, as the functions receive them.

Two deliveries carry the same facts: a Cloud Storage notification through
Pub/Sub (attributes ``eventType``, ``bucketId``, ``objectId``,
``objectGeneration`` and the object's JSON as the payload), as the local
stack and a push subscription deliver it, and an Eventarc
``google.cloud.storage.object.v1.*`` CloudEvent whose data is the object's
JSON. Both become one :class:`ObjectEvent`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ObjectEvent", "ObjectEventKind", "object_event"]

ObjectEventKind = Literal["finalize", "delete", "archive", "metadata"]

_NOTIFICATION_KINDS: dict[str, ObjectEventKind] = {
    "OBJECT_FINALIZE": "finalize",
    "OBJECT_DELETE": "delete",
    "OBJECT_ARCHIVE": "archive",
    "OBJECT_METADATA_UPDATE": "metadata",
}
_EVENTARC_PREFIX = "google.cloud.storage.object.v1."
_EVENTARC_KINDS: dict[str, ObjectEventKind] = {
    "finalized": "finalize",
    "deleted": "delete",
    "archived": "archive",
    "metadataUpdated": "metadata",
}


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """Something that happened to one version of an object.

    Attributes
    ----------
    kind
        ``finalize`` (written), ``delete``, ``archive`` (no longer the live
        version of a versioned bucket) or ``metadata`` (its metadata changed).
    bucket, name
        The object.
    generation, metageneration
        The version the event is about.
    size
        The object's size in bytes, if the event says.

    """

    kind: ObjectEventKind
    bucket: str
    name: str
    generation: int
    metageneration: int = 1
    size: int | None = None


def _int(value: object, default: int | None = None) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return default


def _payload(message: Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(base64.b64decode(message.get("data") or "", validate=True) or b"{}")
    except (binascii.Error, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _from_notification(message: Mapping[str, Any]) -> ObjectEvent | None:
    attributes = message.get("attributes") or {}
    kind = _NOTIFICATION_KINDS.get(attributes.get("eventType", ""))
    generation = _int(attributes.get("objectGeneration"))
    if kind is None or generation is None or not attributes.get("bucketId"):
        return None
    payload = _payload(message)
    return ObjectEvent(
        kind=kind,
        bucket=attributes["bucketId"],
        name=attributes.get("objectId", ""),
        generation=generation,
        metageneration=_int(payload.get("metageneration"), 1) or 1,
        size=_int(payload.get("size")),
    )


def _from_object(kind: ObjectEventKind, data: Mapping[str, Any]) -> ObjectEvent | None:
    generation = _int(data.get("generation"))
    if generation is None or not data.get("bucket") or not data.get("name"):
        return None
    return ObjectEvent(
        kind=kind,
        bucket=str(data["bucket"]),
        name=str(data["name"]),
        generation=generation,
        metageneration=_int(data.get("metageneration"), 1) or 1,
        size=_int(data.get("size")),
    )


def object_event(event_type: str, data: Mapping[str, Any] | None) -> ObjectEvent | None:
    """Read an object event from a CloudEvent's type and data.

    Parameters
    ----------
    event_type
        The CloudEvent's ``type``.
    data
        Its data: a Pub/Sub push body (``{"message": ...}``) or an object's JSON.

    Returns
    -------
    ObjectEvent or None
        The event, or `None` if it is not an object event (nothing to do).

    """
    data = data or {}
    message = data.get("message")
    if isinstance(message, Mapping):
        return _from_notification(message)
    if event_type.startswith(_EVENTARC_PREFIX):
        kind = _EVENTARC_KINDS.get(event_type[len(_EVENTARC_PREFIX) :])
        return None if kind is None else _from_object(kind, data)
    return None
