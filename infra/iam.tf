# One service account per function, plus one per caller that invokes a
# function (the gateway, each Pub/Sub push subscription) and one for the
# function builds. Every grant is a single member on the narrowest resource
# that carries the permission: a bucket, a topic, a subscription, a service.
# Firestore has no finer IAM than the project, so datastore.user is there.
# tests/infra/test_iam.py derives from the code what each function touches
# and checks these grants cover exactly that; infra/README.md says why each.
#
# The accounts wait for the project's APIs (iam.googleapis.com may still be
# off on a fresh project), and every grant waits through its account.

resource "google_service_account" "function" {
  for_each     = local.function_names
  project      = var.project_id
  account_id   = replace(each.value, "_", "-")
  display_name = "skycut ${each.key} function"
  description  = "Runtime identity of the ${each.key} Cloud Function."

  depends_on = [google_project_service.this]
}

resource "google_service_account" "push" {
  # function => the end of its push account's id
  for_each     = { cutout_worker = "worker", bulk_submit = "bulk", image_index = "index", mosaic_worker = "mosaic" }
  project      = var.project_id
  account_id   = "${local.prefix}-push-${each.value}"
  display_name = "skycut Pub/Sub push to ${each.key}"
  description  = "OIDC identity of the Pub/Sub push subscription that invokes ${each.key}."

  depends_on = [google_project_service.this]
}

resource "google_service_account" "gateway" {
  project      = var.project_id
  account_id   = "${local.prefix}-gateway"
  display_name = "skycut API Gateway backend"
  description  = "Identity API Gateway uses to invoke the soda_api function."

  depends_on = [google_project_service.this]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${local.prefix}-build"
  display_name = "skycut function builds"
  description  = "Cloud Build identity that turns the source bundles into function images."

  depends_on = [google_project_service.this]
}

# -- Firestore: every function reads and writes jobs or the image index -------
resource "google_project_iam_member" "datastore_user" {
  for_each = google_service_account.function
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = each.value.member
}

# -- soda_api -----------------------------------------------------------------
resource "google_pubsub_topic_iam_member" "api_publishes_jobs" {
  project = var.project_id
  topic   = google_pubsub_topic.this["jobs"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["soda_api"].member
}

# VOSI availability reads the job topic's metadata (publisher cannot).
resource "google_pubsub_topic_iam_member" "api_views_jobs" {
  project = var.project_id
  topic   = google_pubsub_topic.this["jobs"].name
  role    = "roles/pubsub.viewer"
  member  = google_service_account.function["soda_api"].member
}

# Signed result URLs act with the signer's rights, so the API must read
# results; deleting or aborting a job deletes its results (objectUser has
# get and delete; objectViewer has no delete).
resource "google_storage_bucket_iam_member" "api_uses_results" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectUser"
  member = google_service_account.function["soda_api"].member
}

# VOSI availability gets the results bucket's metadata (storage.buckets.get).
resource "google_storage_bucket_iam_member" "api_gets_results_bucket" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.legacyBucketReader"
  member = google_service_account.function["soda_api"].member
}

# V4 signed URLs without a key file: the API signs through IAM signBlob as itself.
resource "google_service_account_iam_member" "api_signs_as_itself" {
  service_account_id = google_service_account.function["soda_api"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.function["soda_api"].member
}

# DataLink {links} reads each image's headers (range reads) and links the file
# itself through a URL signed as the API, which acts with the API's rights.
resource "google_storage_bucket_iam_member" "api_reads_sources" {
  for_each = var.grant_source_bucket_access ? toset(var.source_buckets) : toset([])
  bucket   = each.value
  role     = "roles/storage.objectViewer"
  member   = google_service_account.function["soda_api"].member
}

# Bulk files POSTed to {async} (field BULK) are stored under incoming/<caller>/,
# each under a new name, so creating is enough.
resource "google_storage_bucket_iam_member" "api_uploads_drops" {
  bucket = google_storage_bucket.drop.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.function["soda_api"].member
}

# ... and read back at once: the API checks the uploaded file's rows and creates
# its job before answering 303, so the redirect never names a job not there yet.
resource "google_storage_bucket_iam_member" "api_reads_drops" {
  bucket = google_storage_bucket.drop.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.function["soda_api"].member
}

# An ABORT ends its job here, and is announced at once (not at the next sweep).
resource "google_pubsub_topic_iam_member" "api_publishes_job_events" {
  project = var.project_id
  topic   = google_pubsub_topic.this["job_events"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["soda_api"].member
}

# A mosaic job run at once (or by PHASE=RUN) publishes its first stage.
resource "google_pubsub_topic_iam_member" "api_publishes_mosaics" {
  project = var.project_id
  topic   = google_pubsub_topic.this["mosaic"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["soda_api"].member
}

# -- cutout_worker ------------------------------------------------------------
resource "google_storage_bucket_iam_member" "worker_reads_sources" {
  for_each = var.grant_source_bucket_access ? toset(var.source_buckets) : toset([])
  bucket   = each.value
  role     = "roles/storage.objectViewer"
  member   = google_service_account.function["cutout_worker"].member
}

# objectUser, not objectCreator: a redelivered message rewrites the same
# result object, and overwriting needs storage.objects.delete.
resource "google_storage_bucket_iam_member" "worker_writes_results" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectUser"
  member = google_service_account.function["cutout_worker"].member
}

# The sweep takes over stalled jobs: it publishes their uncounted messages
# again (skycut.worker.sweep). It also destroys jobs past their destruction
# time: listing and deleting their objects is in worker_writes_results.
resource "google_pubsub_topic_iam_member" "worker_publishes_jobs" {
  project = var.project_id
  topic   = google_pubsub_topic.this["jobs"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["cutout_worker"].member
}

# ... and re-reads a stalled bulk job's rows from its drop file.
resource "google_storage_bucket_iam_member" "worker_reads_drops" {
  bucket = google_storage_bucket.drop.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.function["cutout_worker"].member
}

# The worker announces finished jobs; anyone granted subscriber may listen.
resource "google_pubsub_topic_iam_member" "worker_publishes_job_events" {
  project = var.project_id
  topic   = google_pubsub_topic.this["job_events"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["cutout_worker"].member
}

# ... and a stalled mosaic job's uncounted stage units (MosaicWorker.recover).
resource "google_pubsub_topic_iam_member" "worker_publishes_mosaics" {
  project = var.project_id
  topic   = google_pubsub_topic.this["mosaic"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["cutout_worker"].member
}

# -- bulk_submit --------------------------------------------------------------
resource "google_storage_bucket_iam_member" "bulk_reads_drops" {
  bucket = google_storage_bucket.drop.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.function["bulk_submit"].member
}

# The bad-rows report (errors.csv), rewritten if a drop event is redelivered.
resource "google_storage_bucket_iam_member" "bulk_writes_results" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectUser"
  member = google_service_account.function["bulk_submit"].member
}

# Fans a bulk job's rows out as job messages.
resource "google_pubsub_topic_iam_member" "bulk_publishes_jobs" {
  project = var.project_id
  topic   = google_pubsub_topic.this["jobs"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["bulk_submit"].member
}

# A refused drop file ends its job at once (ERROR), announced at once.
resource "google_pubsub_topic_iam_member" "bulk_publishes_job_events" {
  project = var.project_id
  topic   = google_pubsub_topic.this["job_events"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["bulk_submit"].member
}

# -- image_index ----------------------------------------------------------------
# Reads the headers of each new or changed object (range reads of the version
# the event names); it writes nothing to the buckets.
resource "google_storage_bucket_iam_member" "index_reads_sources" {
  for_each = var.grant_source_bucket_access ? toset(var.source_buckets) : toset([])
  bucket   = each.value
  role     = "roles/storage.objectViewer"
  member   = google_service_account.function["image_index"].member
}

# -- who may invoke which function ---------------------------------------------
resource "google_cloud_run_v2_service_iam_member" "gateway_invokes_api" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this["soda_api"].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.gateway.member
}

resource "google_cloud_run_v2_service_iam_member" "push_invokes" {
  for_each = google_service_account.push
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value.member
}

# -- Google-managed service agents ---------------------------------------------
resource "google_project_service_identity" "pubsub" {
  provider = google-beta
  project  = var.project_id
  service  = "pubsub.googleapis.com"

  depends_on = [google_project_service.this]
}

data "google_storage_project_service_account" "gcs" {
  project = var.project_id

  depends_on = [google_project_service.this]
}

# Pub/Sub mints the push subscriptions' OIDC tokens (needed explicitly in
# projects created before April 2021; harmless elsewhere).
resource "google_service_account_iam_member" "pubsub_mints_push_tokens" {
  for_each           = google_service_account.push
  service_account_id = each.value.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# Dead-lettering: Pub/Sub republishes to the dead-letter topic and acks the original.
resource "google_pubsub_topic_iam_member" "pubsub_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.this["dead_letter"].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

resource "google_pubsub_subscription_iam_member" "pubsub_acks_dead_letters" {
  for_each     = google_pubsub_subscription.push
  project      = var.project_id
  subscription = each.value.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# Cloud Storage publishes the drop bucket's OBJECT_FINALIZE notifications.
resource "google_pubsub_topic_iam_member" "gcs_publishes_drops" {
  project = var.project_id
  topic   = google_pubsub_topic.this["drop"].name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

# A bucket's notifications are published by the Cloud Storage service agent of
# the project that holds the bucket, which for source buckets may be another.
data "google_storage_project_service_account" "sources" {
  for_each = toset(coalescelist(var.source_bucket_projects, [var.project_id]))
  project  = each.value

  depends_on = [google_project_service.this]
}

resource "google_pubsub_topic_iam_member" "gcs_publishes_sources" {
  for_each = data.google_storage_project_service_account.sources
  project  = var.project_id
  topic    = google_pubsub_topic.this["sources"].name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${each.value.email_address}"
}

# -- function builds -------------------------------------------------------------
resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

resource "google_storage_bucket_iam_member" "build_reads_bundles" {
  bucket = google_storage_bucket.bundles.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

resource "google_artifact_registry_repository_iam_member" "build_pushes_images" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

# -- mosaic_worker ------------------------------------------------------------
# Each reprojection reads its box of an input by range requests.
resource "google_storage_bucket_iam_member" "mosaic_reads_sources" {
  for_each = var.grant_source_bucket_access ? toset(var.source_buckets) : toset([])
  bucket   = each.value
  role     = "roles/storage.objectViewer"
  member   = google_service_account.function["mosaic_worker"].member
}

# Intermediates under jobs/<id>/work/ (rewritten by a redelivery, listed and
# deleted at the end) and the results: objectUser has create, get, list, delete.
resource "google_storage_bucket_iam_member" "mosaic_uses_results" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectUser"
  member = google_service_account.function["mosaic_worker"].member
}

# The worker that finishes a stage publishes the next one.
resource "google_pubsub_topic_iam_member" "mosaic_publishes_mosaics" {
  project = var.project_id
  topic   = google_pubsub_topic.this["mosaic"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["mosaic_worker"].member
}

# The job's end (COMPLETED, ERROR, or aborted for its execution duration).
resource "google_pubsub_topic_iam_member" "mosaic_publishes_job_events" {
  project = var.project_id
  topic   = google_pubsub_topic.this["job_events"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function["mosaic_worker"].member
}
