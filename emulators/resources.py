"""Creating the stack's topics, push subscriptions and buckets on the emulators."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from google.api_core import exceptions as gexc

__all__ = ["client_environment", "create_buckets", "create_topics_and_subscriptions"]

_ACK_DEADLINE_SECONDS = 60


@contextmanager
def client_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Point Google clients built inside the block at the stack's emulators."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def create_topics_and_subscriptions(
    env: Mapping[str, str], *, project_id: str, push: Mapping[str, Mapping[str, str]]
) -> None:
    """Create each topic and push subscriptions delivering it to functions.

    ``push`` maps a topic to its subscriptions, each a name suffix
    (``<topic>-<suffix>``) and the function's URL. The push URL ends with the
    topic path so functions-framework gives the CloudEvent the topic as its
    source, as in production. A topic with no subscriptions is only created
    (its readers make their own, e.g. job events).
    """
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    with client_environment(env):
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
        for topic, endpoints in push.items():
            topic_path = publisher.topic_path(project_id, topic)
            with contextlib.suppress(gexc.AlreadyExists):
                publisher.create_topic(name=topic_path)
            for suffix, endpoint in endpoints.items():
                with contextlib.suppress(gexc.AlreadyExists):
                    subscriber.create_subscription(
                        request={
                            "name": subscriber.subscription_path(project_id, f"{topic}-{suffix}"),
                            "topic": topic_path,
                            "push_config": {"push_endpoint": f"{endpoint}/{topic_path}"},
                            "ack_deadline_seconds": _ACK_DEADLINE_SECONDS,
                        }
                    )
        subscriber.close()


def create_buckets(env: Mapping[str, str], names: list[str]) -> None:
    """Create the buckets (existing ones are kept, with their objects)."""
    from google.cloud import storage  # type: ignore[attr-defined]

    with client_environment(env):
        client = storage.Client(project=env.get("SKYCUT_PROJECT_ID"))
        for name in names:
            with contextlib.suppress(gexc.Conflict):
                client.create_bucket(name)
