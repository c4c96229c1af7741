# skycut on Google Cloud: the SODA and SIA API behind API Gateway, a
# Pub/Sub-fed cutout worker, bulk jobs started by files dropped in a bucket,
# an image index kept in step with the source buckets' object events, jobs
# and the index in Firestore. Resources are split by concern: iam.tf, storage.tf, pubsub.tf,
# firestore.tf, functions.tf, gateway.tf. This file holds the providers, the
# project's APIs and the names everything shares.

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}

provider "google-beta" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels = merge({ app = "skycut", managed-by = "terraform" }, var.labels)
  prefix = var.name_prefix

  gateway_region  = coalesce(var.gateway_region, var.region)
  bucket_location = upper(coalesce(var.bucket_location, var.region))
  firestore_loc   = coalesce(var.firestore_location, var.region)

  bucket_names = {
    results = coalesce(var.buckets.results, "${var.project_id}-${local.prefix}-results")
    drop    = coalesce(var.buckets.drop, "${var.project_id}-${local.prefix}-drop")
    bundles = coalesce(var.buckets.bundles, "${var.project_id}-${local.prefix}-bundles")
  }

  # The code's defaults (skycut.config.Settings) are these names with the default prefix.
  jobs_collection = "${local.prefix}-jobs"
  # Service-wide documents: "status" (operators drain the service by setting
  # {available: false, note: ...}) and "throughput" (measured cutout rate).
  service_collection = "${local.prefix}-service"
  # The image index (skycut.index): one document per source object, written
  # by image_index, searched by SIA queries.
  images_collection = "${local.prefix}-images"
  # Its cells' postings (skycut.index.firestore_index: the images collection's
  # name with CELLS_SUFFIX), read by id by point queries.
  image_cells_collection = "${local.prefix}-images-cells"
  topic_names = {
    jobs        = "${local.prefix}-cutout-jobs"
    drop        = "${local.prefix}-drop-events"
    sources     = "${local.prefix}-source-events"
    dead_letter = "${local.prefix}-dead-letters"
    job_events  = "${local.prefix}-job-events"
    mosaic      = "${local.prefix}-mosaic-jobs"
  }

  # functions/<key>/main.py defines the entry point <key>; Cloud Run service
  # names allow no underscores, hence the hyphens.
  function_names = {
    soda_api      = "${local.prefix}-soda-api"
    cutout_worker = "${local.prefix}-cutout-worker"
    bulk_submit   = "${local.prefix}-bulk-submit"
    image_index   = "${local.prefix}-image-index"
    mosaic_worker = "${local.prefix}-mosaic-worker"
  }

  # Cloud Run's deterministic service URL. The gateway's API config names the
  # API function by it rather than by the function's output, so the function
  # can in turn be given the gateway's hostname (SKYCUT_PUBLIC_BASE_URL)
  # without a dependency cycle.
  api_backend_url = "https://${local.function_names.soda_api}-${data.google_project.this.number}.${var.region}.run.app"

  public_base_url = coalesce(
    var.public_base_url,
    "https://${google_api_gateway_gateway.soda.default_hostname}${var.base_path}",
  )

  services = toset([
    "apigateway.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com", # asks for sweeps of stalled jobs
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com", # signBlob for V4 signed result URLs
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "servicecontrol.googleapis.com",
    "servicemanagement.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "this" {
  for_each = local.services
  project  = var.project_id
  service  = each.value
  # Other workloads in the project may use these APIs too: never switch them off.
  disable_on_destroy         = false
  disable_dependent_services = false
}
