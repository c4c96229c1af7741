# Buckets skycut owns: results (cutouts, served through signed URLs), drop
# (CSV files that start bulk jobs) and bundles (function source zips). The
# source buckets are the user's: they are only granted to the functions that
# read them (iam.tf) and announce their object events to the image index.

resource "google_storage_bucket" "results" {
  #checkov:skip=CKV_GCP_78:Results are written once and expire with their job; versions would keep deleted cutouts (and their cost) alive.
  #checkov:skip=CKV_GCP_62:Access is audited by Cloud Audit Logs data-access logs; a usage-log bucket would add a bucket per bucket.
  name                        = local.bucket_names.results
  project                     = var.project_id
  location                    = local.bucket_location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # results are disposable; `terraform destroy` must not stall on them

  versioning {
    enabled = false
  }

  # The web page reads cutouts through their signed URLs with fetch() (to draw the FITS
  # pixels); the URL itself is the credential, so any origin may GET it.
  cors {
    origin          = var.results_cors_origins
    method          = ["GET", "HEAD"]
    response_header = ["Content-Type", "Content-Length", "Content-Disposition"]
    max_age_seconds = 3600
  }

  # A result is written with Custom-Time = its job's destruction time and is
  # deleted once that passes (the code sets it; see skycut.storage.gcs). The
  # sweep deletes a job's objects sooner, within minutes of its destruction
  # time, and also after a destruction brought forward (a Custom-Time cannot
  # be moved earlier); this rule is the backstop if the sweep does not run.
  lifecycle_rule {
    condition {
      days_since_custom_time = 0
      # without this the provider drops a 0 and the rule would match every object
      send_days_since_custom_time_if_zero = true
    }
    action {
      type = "Delete"
    }
  }

  # Backstop for objects without Custom-Time: a job lives at most
  # destruction_days, its results at least that long.
  lifecycle_rule {
    condition {
      age = var.result_ttl_days
    }
    action {
      type = "Delete"
    }
  }

  # Cutouts of an interrupted upload would otherwise be billed forever.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_storage_bucket" "drop" {
  #checkov:skip=CKV_GCP_78:Each drop is read once by bulk_submit; a new upload is a new job (new generation), old versions serve nothing.
  #checkov:skip=CKV_GCP_62:Access is audited by Cloud Audit Logs data-access logs; a usage-log bucket would add a bucket per bucket.
  name                        = local.bucket_names.drop
  project                     = var.project_id
  location                    = local.bucket_location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  versioning {
    enabled = false
  }

  # A processed drop is kept while its bulk job can still name it (SOURCE parameter).
  lifecycle_rule {
    condition {
      age = var.drop_ttl_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.this]
}

# Users upload to incoming/<owner>/<file>.csv; every finalized object is
# announced on the drop topic, which pushes to bulk_submit (pubsub.tf).
resource "google_storage_notification" "drop" {
  bucket             = google_storage_bucket.drop.name
  topic              = google_pubsub_topic.this["drop"].id
  payload_format     = "JSON_API_V1"
  event_types        = ["OBJECT_FINALIZE"]
  object_name_prefix = "incoming/"

  depends_on = [google_pubsub_topic_iam_member.gcs_publishes_drops]
}

# Every change to a source bucket's objects is announced on the sources topic,
# which pushes to image_index (pubsub.tf): a new or replaced object is
# indexed from its headers, a deleted or archived (noncurrent) one leaves the
# index, and a metadata update re-announces an object (how objects already in
# a bucket get indexed, infra/README.md). No prefix: the index records what
# it cannot index (with the reason) rather than be blind to it.
resource "google_storage_notification" "sources" {
  for_each       = var.source_bucket_notifications ? toset(var.source_buckets) : toset([])
  bucket         = each.value
  topic          = google_pubsub_topic.this["sources"].id
  payload_format = "JSON_API_V1"
  event_types    = ["OBJECT_FINALIZE", "OBJECT_DELETE", "OBJECT_ARCHIVE", "OBJECT_METADATA_UPDATE"]

  depends_on = [google_pubsub_topic_iam_member.gcs_publishes_sources]
}

resource "google_storage_bucket" "bundles" {
  #checkov:skip=CKV_GCP_62:Only Cloud Build reads this bucket; Cloud Audit Logs cover it.
  name                        = local.bucket_names.bundles
  project                     = var.project_id
  location                    = local.bucket_location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # Bundles are named by content hash; versioning keeps a replaced object
  # recoverable for a rollback.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 3
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.this]
}

# The bundles the builder wrote; their names carry the content hash, so a
# changed bundle is a new object and redeploys its function.
resource "google_storage_bucket_object" "bundle" {
  for_each     = local.function_names
  bucket       = google_storage_bucket.bundles.name
  name         = local.bundles[each.key].zip
  source       = "${local.bundle_dir}/${local.bundles[each.key].zip}"
  content_type = "application/zip"
}
