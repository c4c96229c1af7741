# The five Cloud Functions (2nd gen). Their source is the bundle built by
# scripts/build_functions.py: main.py, the skycut package and a pinned
# requirements.txt at the root, uploaded under a content-hash name
# (storage.tf). None has an Eventarc trigger: cutout_worker, bulk_submit,
# image_index and mosaic_worker are reached through the push subscriptions in pubsub.tf, which
# carry the retry and dead-letter policies.

locals {
  bundle_dir = startswith(var.bundle_dir, "/") ? var.bundle_dir : "${path.module}/${var.bundle_dir}"
  manifest   = jsondecode(file("${local.bundle_dir}/manifest.json"))
  bundles    = local.manifest.bundles

  # Every skycut.config.Settings field, as SKYCUT_<FIELD>. Left out on
  # purpose (tests/infra lists them): dev_identity (unused once
  # trust_gateway_identity is on) and results_public_base_url (must stay unset
  # so results are served through signed URLs).
  settings_env = {
    SKYCUT_PROJECT_ID                 = var.project_id
    SKYCUT_BASE_PATH                  = var.base_path
    SKYCUT_PUBLIC_BASE_URL            = local.public_base_url
    SKYCUT_SOURCE_BUCKETS             = join(",", var.source_buckets)
    SKYCUT_RESULTS_BUCKET             = google_storage_bucket.results.name
    SKYCUT_DROP_BUCKET                = google_storage_bucket.drop.name
    SKYCUT_SIGNED_URL_SECONDS         = tostring(var.tuning.signed_url_seconds)
    SKYCUT_JOBS_COLLECTION            = local.jobs_collection
    SKYCUT_JOB_TOPIC                  = google_pubsub_topic.this["jobs"].name
    SKYCUT_SYNC_TIMEOUT_SECONDS       = tostring(var.tuning.sync_timeout_seconds)
    SKYCUT_DESTRUCTION_DAYS           = tostring(var.destruction_days)
    SKYCUT_TRUST_GATEWAY_IDENTITY     = "false"
    SKYCUT_HEADER_CHUNK_BYTES         = tostring(var.tuning.header_chunk_bytes)
    SKYCUT_MAX_BULK_ROWS              = tostring(var.tuning.max_bulk_rows)
    SKYCUT_TASKS_PER_MESSAGE          = tostring(var.tuning.tasks_per_message)
    SKYCUT_MAX_BULK_BYTES             = tostring(var.tuning.max_bulk_bytes)
    SKYCUT_MAX_COMBINATIONS           = tostring(var.tuning.max_combinations)
    SKYCUT_MAX_CUTOUT_PIXELS          = tostring(var.tuning.max_cutout_pixels)
    SKYCUT_MAX_REQUEST_BYTES          = tostring(var.tuning.max_request_bytes)
    SKYCUT_CUTOUT_CONCURRENCY         = tostring(var.tuning.cutout_concurrency)
    SKYCUT_CUTOUT_PIXELS_IN_FLIGHT    = tostring(var.tuning.cutout_pixels_in_flight)
    SKYCUT_READ_ROUND_TRIP_SECONDS    = tostring(var.tuning.read_round_trip_seconds)
    SKYCUT_READ_BANDWIDTH_BYTES       = tostring(var.tuning.read_bandwidth_bytes)
    SKYCUT_READ_CONCURRENCY           = tostring(var.tuning.read_concurrency)
    SKYCUT_READ_TOTAL_BANDWIDTH_BYTES = tostring(var.tuning.read_total_bandwidth_bytes)
    SKYCUT_READ_MAX_SPAN_BYTES        = tostring(var.tuning.read_max_span_bytes)
    SKYCUT_JOB_EVENTS_TOPIC           = google_pubsub_topic.this["job_events"].name
    SKYCUT_EXECUTION_DURATION_SECONDS = tostring(var.tuning.execution_duration_seconds)
    SKYCUT_WAIT_MAX_SECONDS           = tostring(var.tuning.wait_max_seconds)
    SKYCUT_SERVICE_COLLECTION         = local.service_collection
    SKYCUT_JOB_LEASE_SECONDS          = tostring(var.tuning.job_lease_seconds)
    SKYCUT_MAX_JOB_RECOVERIES         = tostring(var.tuning.max_job_recoveries)
    SKYCUT_IMAGES_COLLECTION          = local.images_collection
    SKYCUT_COLLECTIONS                = jsonencode(var.index.collections)
    SKYCUT_FILTERS                    = jsonencode(var.index.filters)
    SKYCUT_INDEX_CHUNK_BYTES          = tostring(var.tuning.index_chunk_bytes)
    SKYCUT_SIA_DEFAULT_MAXREC         = tostring(var.tuning.sia_default_maxrec)
    SKYCUT_SIA_MAX_MAXREC             = tostring(var.tuning.sia_max_maxrec)
    SKYCUT_MAX_IMAGES_PER_POSITION    = tostring(var.tuning.max_images_per_position)
    SKYCUT_MOSAIC_SYNC_MAX_PIXELS     = tostring(var.tuning.mosaic_sync_max_pixels)
    SKYCUT_MOSAIC_SYNC_MAX_INPUTS     = tostring(var.tuning.mosaic_sync_max_inputs)
    SKYCUT_MOSAIC_SYNC_MAX_AREA       = tostring(var.tuning.mosaic_sync_max_area)
    SKYCUT_MOSAIC_MAX_PLANE_PIXELS    = tostring(var.tuning.mosaic_max_plane_pixels)
    SKYCUT_MOSAIC_TOPIC               = google_pubsub_topic.this["mosaic"].name
    SKYCUT_MOSAIC_MAX_PIXELS          = tostring(var.tuning.mosaic_max_pixels)
    SKYCUT_MOSAIC_MAX_INPUTS          = tostring(var.tuning.mosaic_max_inputs)
    SKYCUT_MOSAIC_MAX_AREA            = tostring(var.tuning.mosaic_max_area)
    SKYCUT_MOSAIC_TILE_SIZE           = tostring(var.tuning.mosaic_tile_size)
    SKYCUT_MOSAIC_UNITS_PER_MESSAGE   = tostring(var.tuning.mosaic_units_per_message)
  }

  functions = {
    soda_api = {
      # Only API Gateway can call it (run.invoker in iam.tf), but the gateway
      # reaches it over the internet, so ingress must allow all.
      ingress = "ALLOW_ALL"
      env = tomap(merge(local.settings_env, {
        SKYCUT_TRUST_GATEWAY_IDENTITY = "true"
        # The account V4 result URLs are signed as, through IAM signBlob.
        SKYCUT_SIGNING_SERVICE_ACCOUNT = google_service_account.function["soda_api"].email
      }))
    }
    cutout_worker = {
      ingress = "ALLOW_INTERNAL_ONLY" # Pub/Sub push from this project counts as internal
      env     = tomap(local.settings_env)
    }
    bulk_submit = {
      ingress = "ALLOW_INTERNAL_ONLY"
      env     = tomap(local.settings_env)
    }
    image_index = {
      ingress = "ALLOW_INTERNAL_ONLY"
      env     = tomap(local.settings_env)
    }
    mosaic_worker = {
      ingress = "ALLOW_INTERNAL_ONLY"
      env     = tomap(local.settings_env)
    }
  }
}

resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Images hold only the public code and pinned open-source dependencies; Google-managed encryption suffices.
  project                = var.project_id
  location               = var.region
  repository_id          = "${local.prefix}-functions"
  description            = "Images Cloud Build makes from the skycut function bundles."
  format                 = "DOCKER"
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.artifact_keep_count
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s" # 30 days; the keep-recent policy wins for the newest images
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_cloudfunctions2_function" "this" {
  for_each    = local.functions
  project     = var.project_id
  location    = var.region
  name        = local.function_names[each.key]
  description = "skycut ${each.key} (functions/${each.key}/main.py)"

  build_config {
    runtime           = "python311"
    entry_point       = local.bundles[each.key].entry_point
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id
    source {
      storage_source {
        bucket = google_storage_bucket.bundles.name
        object = google_storage_bucket_object.bundle[each.key].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function[each.key].email
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    min_instance_count               = var.functions[each.key].min_instances
    max_instance_count               = var.functions[each.key].max_instances
    max_instance_request_concurrency = var.functions[each.key].concurrency
    available_memory                 = var.functions[each.key].memory
    available_cpu                    = var.functions[each.key].cpu
    timeout_seconds                  = var.functions[each.key].timeout_seconds
    environment_variables            = each.value.env
  }

  depends_on = [
    google_project_service.this,
    google_project_iam_member.build_logs,
    google_storage_bucket_iam_member.build_reads_bundles,
    google_artifact_registry_repository_iam_member.build_pushes_images,
  ]
}
