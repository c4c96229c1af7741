# Pub/Sub, as in the local stack (emulators/resources.py): each topic is
# delivered by an explicit push subscription to its function's URL plus the
# topic path (so functions-framework's CloudEvent carries the topic as its
# source). Explicit subscriptions rather than Eventarc triggers, because only
# a subscription we own can carry a dead-letter policy, an exponential retry
# policy and an ack deadline matched to the function's timeout.
#
#   jobs topic     --push-->  cutout_worker  (published by soda_api, bulk_submit)
#   drop topic     --push-->  bulk_submit    (the drop bucket's new files, storage.tf)
#   sources topic  --push-->  image_index    (the source buckets' object events, storage.tf)
#   mosaic topic   --push-->  mosaic_worker  (mosaic stages: published by soda_api, the
#                                              worker itself, and the sweep)
#   each, after max_delivery_attempts  -->  dead-letter topic --> dead-letter subscription
#
# The local stack has one topic for every bucket's events (fake-gcs-server
# publishes to one topic and the Pub/Sub emulator ignores filters), which
# bulk_submit and image_index both receive; here each bucket's events go to
# their own topic, so neither function is woken for the other's.

resource "google_pubsub_topic" "this" {
  #checkov:skip=CKV_GCP_83:Messages hold job ids and cutout parameters only; Google-managed encryption suffices.
  for_each                   = local.topic_names
  project                    = var.project_id
  name                       = each.value
  message_retention_duration = var.pubsub.message_retention

  depends_on = [google_project_service.this]
}

locals {
  # topic key => the function its push subscription delivers to
  push_targets = {
    jobs    = "cutout_worker"
    drop    = "bulk_submit"
    sources = "image_index"
    mosaic  = "mosaic_worker"
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.push_targets
  project  = var.project_id
  name     = "${google_pubsub_topic.this[each.key].name}-push"
  topic    = google_pubsub_topic.this[each.key].id

  # For a push subscription this is how long Pub/Sub waits for the function's
  # answer: the function's own timeout, so a slow batch is not redelivered
  # while it still runs.
  ack_deadline_seconds       = var.functions[each.value].timeout_seconds
  message_retention_duration = var.pubsub.message_retention

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.this[each.value].service_config[0].uri}/${google_pubsub_topic.this[each.key].id}"
    oidc_token {
      service_account_email = google_service_account.push[each.value].email
      audience              = google_cloudfunctions2_function.this[each.value].service_config[0].uri
    }
  }

  # A function that raises (a TRANSIENT error) gets the message again, later
  # and later; after max_delivery_attempts it goes to the dead-letter topic.
  retry_policy {
    minimum_backoff = var.pubsub.minimum_backoff
    maximum_backoff = var.pubsub.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.this["dead_letter"].id
    max_delivery_attempts = var.pubsub.max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # never expire for inactivity
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invokes,
    google_pubsub_topic_iam_member.pubsub_dead_letters,
  ]
}

# Dead letters are never dropped. With pubsub.push_dead_letters_to_worker (the
# default) they are pushed to cutout_worker, which ends their job in ERROR
# (skycut.worker.deadletter); without it they wait here to be pulled. A
# source-bucket event the indexer kept failing on arrives here too and is no
# drop file: its bucketId is a source bucket (never the drop bucket) and its
# CloudPubSubDeadLetterSourceSubscription the sources push subscription.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = google_pubsub_topic.this["dead_letter"].name
  topic                      = google_pubsub_topic.this["dead_letter"].id
  ack_deadline_seconds       = var.functions.cutout_worker.timeout_seconds
  message_retention_duration = var.pubsub.dead_letter_retention
  retain_acked_messages      = false

  dynamic "push_config" {
    for_each = var.pubsub.push_dead_letters_to_worker ? [google_cloudfunctions2_function.this["cutout_worker"].service_config[0].uri] : []
    content {
      push_endpoint = "${push_config.value}/${google_pubsub_topic.this["dead_letter"].id}"
      oidc_token {
        service_account_email = google_service_account.push["cutout_worker"].email
        audience              = push_config.value
      }
    }
  }

  retry_policy {
    minimum_backoff = var.pubsub.minimum_backoff
    maximum_backoff = var.pubsub.maximum_backoff
  }

  expiration_policy {
    ttl = ""
  }
}

# Cloud Scheduler asks a worker to sweep for stalled jobs (skycut.worker.sweep):
# a message with the "sweep" attribute on the jobs topic. A job that finished
# nothing for tuning.job_lease_seconds has its uncounted messages published
# again; the local stack's SweepTicker does the same (emulators/scheduler.py).
resource "google_cloud_scheduler_job" "sweep" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-sweep"
  description = "Publishes a sweep request for stalled skycut jobs."
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.this["jobs"].id
    data       = base64encode("{}")
    attributes = { sweep = "1" }
  }

  depends_on = [google_project_service.this]
}
