variable "project_id" {
  description = "Project that holds every skycut resource (functions, Firestore, Pub/Sub, buckets, gateway)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project ID (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region of the functions, buckets and Artifact Registry repository."
  type        = string
  default     = "europe-west1"
}

variable "gateway_region" {
  description = "Region of the API Gateway (API Gateway runs in fewer regions than Cloud Functions); null uses var.region."
  type        = string
  default     = null
}

variable "firestore_location" {
  description = "Firestore location (a region such as europe-west1 or a multi-region such as eur3); null uses var.region. It cannot change after creation."
  type        = string
  default     = null
}

variable "name_prefix" {
  description = "Prefix of every resource name; the defaults of the code (skycut-jobs, skycut-cutout-jobs) match the default prefix."
  type        = string
  default     = "skycut"
  validation {
    # service account ids are at most 30 characters: "<prefix>-cutout-worker"
    condition     = can(regex("^[a-z][a-z0-9-]{1,14}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}

variable "base_path" {
  description = "URL path under which the SODA service is served (SKYCUT_BASE_PATH); the gateway routes keep it."
  type        = string
  default     = "/api/image/soda"
  validation {
    condition     = can(regex("^(/[A-Za-z0-9._~-]+)+$", var.base_path))
    error_message = "base_path must start with / and must not end with / (e.g. /api/image/soda)."
  }
}

variable "public_base_url" {
  description = "Externally visible SODA base URL (e.g. behind a custom domain). null uses https://<gateway hostname><base_path>."
  type        = string
  default     = null
  validation {
    condition     = var.public_base_url == null || can(regex("^https://[^/]+(/.*[^/])?$", var.public_base_url))
    error_message = "public_base_url must be an https:// URL without a trailing slash."
  }
}

variable "source_buckets" {
  description = "Existing buckets holding the FITS images an ID may name (SKYCUT_SOURCE_BUCKETS, an allow-list the code enforces too)."
  type        = list(string)
  validation {
    condition     = length(var.source_buckets) > 0 && alltrue([for b in var.source_buckets : can(regex("^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$", b))])
    error_message = "source_buckets must name at least one bucket, by bucket name only (no gs:// prefix)."
  }
}

variable "grant_source_bucket_access" {
  description = "Grant the worker, the API and the indexer objectViewer on each source bucket. Set false when the buckets' owners grant it themselves (the deployer then needs no IAM admin on them)."
  type        = bool
  default     = true
}

variable "source_bucket_notifications" {
  description = "Create on each source bucket the notification that sends its object events (finalize, delete, archive, metadata update) to the sources topic, which keeps the image index in step. Needs storage.buckets.update on the buckets; set false when their owners create the notifications themselves."
  type        = bool
  default     = true
}

variable "source_bucket_projects" {
  description = "Projects holding the source buckets; empty means project_id. Cloud Storage publishes a bucket's notifications as its own project's service agent, so each of these agents is allowed to publish to the sources topic."
  type        = list(string)
  default     = []
  nullable    = false
  validation {
    condition     = alltrue([for p in var.source_bucket_projects : can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", p))])
    error_message = "source_bucket_projects must list Google Cloud project IDs."
  }
}

variable "buckets" {
  description = "Names of the buckets skycut creates; null names are derived as <project>-<prefix>-<role>."
  type = object({
    results = optional(string)
    drop    = optional(string)
    bundles = optional(string)
  })
  default  = {}
  nullable = false
}

variable "bucket_location" {
  description = "Location of the created buckets; null uses var.region (results next to the functions that write them)."
  type        = string
  default     = null
}

variable "destruction_days" {
  description = "Default and maximum lifetime of a job and its results, in days (SKYCUT_DESTRUCTION_DAYS); Firestore's TTL deletes jobs then."
  type        = number
  default     = 7
  validation {
    condition     = var.destruction_days > 0 && var.destruction_days <= 365
    error_message = "destruction_days must be in (0, 365]."
  }
}

variable "result_ttl_days" {
  description = "Age in days at which the results bucket deletes a cutout; at least the jobs' destruction maximum so a live job never links to a deleted result."
  type        = number
  default     = 7
  validation {
    condition     = floor(var.result_ttl_days) == var.result_ttl_days && var.result_ttl_days >= ceil(var.destruction_days)
    error_message = "result_ttl_days must be a whole number of days >= ceil(destruction_days)."
  }
}

variable "drop_ttl_days" {
  description = "Age in days at which the drop bucket deletes a dropped CSV; at least the destruction maximum, as the bulk job's SOURCE parameter names the file."
  type        = number
  default     = 14
  validation {
    condition     = floor(var.drop_ttl_days) == var.drop_ttl_days && var.drop_ttl_days >= ceil(var.destruction_days)
    error_message = "drop_ttl_days must be a whole number of days >= ceil(destruction_days)."
  }
}

variable "tuning" {
  description = "Service settings passed to every function as SKYCUT_* variables."
  type = object({
    signed_url_seconds         = optional(number, 3600)
    sync_timeout_seconds       = optional(number, 60)
    header_chunk_bytes         = optional(number, 262144)
    max_bulk_rows              = optional(number, 1000000)
    max_bulk_bytes             = optional(number, 268435456)
    max_combinations           = optional(number, 1000)
    max_cutout_pixels          = optional(number, 100000000)
    max_request_bytes          = optional(number, 1048576)
    cutout_concurrency         = optional(number, 8)
    cutout_pixels_in_flight    = optional(number, 200000000)
    read_round_trip_seconds    = optional(number, 0.025)
    read_bandwidth_bytes       = optional(number, 100000000)
    read_concurrency           = optional(number, 8)
    read_total_bandwidth_bytes = optional(number, 250000000)
    read_max_span_bytes        = optional(number, 268435456)
    tasks_per_message          = optional(number, 50)
    execution_duration_seconds = optional(number, 3600)
    wait_max_seconds           = optional(number, 600)
    job_lease_seconds          = optional(number, 900)
    max_job_recoveries         = optional(number, 3)
    index_chunk_bytes          = optional(number, 65536)
    sia_default_maxrec         = optional(number, 1000)
    sia_max_maxrec             = optional(number, 10000)
    max_images_per_position    = optional(number, 1000)
    mosaic_sync_max_pixels     = optional(number, 4194304)
    mosaic_sync_max_inputs     = optional(number, 16)
    mosaic_sync_max_area       = optional(number, 4)
    mosaic_max_plane_pixels    = optional(number, 16777216)
    mosaic_max_pixels          = optional(number, 67108864)
    mosaic_max_inputs          = optional(number, 256)
    mosaic_max_area            = optional(number, 100)
    mosaic_tile_size           = optional(number, 2048)
    mosaic_units_per_message   = optional(number, 4)
  })
  default  = {}
  nullable = false
  validation {
    condition     = var.tuning.signed_url_seconds > 0 && var.tuning.signed_url_seconds <= 604800
    error_message = "tuning.signed_url_seconds must be in (0, 604800]: a V4 signed URL lives at most 7 days."
  }
  validation {
    condition     = var.tuning.header_chunk_bytes >= 2880 && var.tuning.index_chunk_bytes >= 2880
    error_message = "tuning.header_chunk_bytes and index_chunk_bytes must be at least one FITS block (2880 bytes)."
  }
  validation {
    condition     = var.tuning.sia_default_maxrec > 0 && var.tuning.sia_default_maxrec <= var.tuning.sia_max_maxrec && var.tuning.max_images_per_position > 0
    error_message = "tuning.sia_default_maxrec must be in (0, sia_max_maxrec], and max_images_per_position positive."
  }
  validation {
    condition     = var.tuning.mosaic_sync_max_pixels >= 1 && var.tuning.mosaic_sync_max_inputs >= 1 && var.tuning.mosaic_max_plane_pixels >= 1
    error_message = "tuning.mosaic_sync_max_pixels, mosaic_sync_max_inputs and mosaic_max_plane_pixels must be at least 1."
  }
  validation {
    condition     = alltrue([for v in [var.tuning.mosaic_max_pixels, var.tuning.mosaic_max_inputs, var.tuning.mosaic_tile_size, var.tuning.mosaic_units_per_message] : v >= 1])
    error_message = "tuning.mosaic_max_pixels, mosaic_max_inputs, mosaic_tile_size and mosaic_units_per_message must be at least 1."
  }
  validation {
    condition     = var.tuning.mosaic_sync_max_area > 0 && var.tuning.mosaic_max_area > 0
    error_message = "tuning.mosaic_sync_max_area and mosaic_max_area (square degrees) must be positive."
  }
  validation {
    condition = alltrue([
      for v in [var.tuning.max_bulk_rows, var.tuning.max_bulk_bytes, var.tuning.cutout_concurrency, var.tuning.cutout_pixels_in_flight, var.tuning.tasks_per_message, var.tuning.sync_timeout_seconds, var.tuning.execution_duration_seconds, var.tuning.wait_max_seconds, var.tuning.job_lease_seconds] : v > 0
    ])
    error_message = "tuning.max_bulk_rows, max_bulk_bytes, cutout_concurrency, cutout_pixels_in_flight, tasks_per_message, sync_timeout_seconds, execution_duration_seconds, wait_max_seconds and job_lease_seconds must be positive."
  }
}

variable "index" {
  description = <<-EOT
    How image_index describes the source images (SKYCUT_COLLECTIONS,
    SKYCUT_FILTERS). collections: rules naming an image's ObsCore
    obs_collection (and, if set, its calib_level, 0-4), first match wins; a
    pattern is a glob over the object name, or over the whole gs:// ID if it
    starts with gs://. An image no rule names is in its top-level folder's
    collection. The default names the sample survey's collections, as the
    code's default does, so a deployment indexes the sample as the local stack
    does. filters: filter names (FILTER or BANDPASS cards) to [em_min, em_max]
    in metres, added to or replacing the built-in u g r i z y J H Ks.
  EOT
  type = object({
    collections = optional(list(object({
      pattern     = string
      collection  = string
      calib_level = optional(number)
      })), [
      { pattern = "sample/deepcoadd-*", collection = "deepcoadd", calib_level = 3 },
      { pattern = "sample/calexp-*", collection = "calexp", calib_level = 2 },
    ])
    filters = optional(map(tuple([number, number])), {})
  })
  default  = {}
  nullable = false
  validation {
    condition = alltrue([
      for r in var.index.collections :
      length(r.pattern) > 0 && length(r.collection) > 0 && contains([0, 1, 2, 3, 4], coalesce(r.calib_level, 0))
    ])
    error_message = "index.collections: every rule needs a pattern and a collection; calib_level, if set, is 0, 1, 2, 3 or 4."
  }
  validation {
    condition     = alltrue([for name, band in var.index.filters : length(name) > 0 && band[0] > 0 && band[0] < band[1]])
    error_message = "index.filters: each filter is [em_min, em_max] in metres with 0 < em_min < em_max."
  }
}

variable "functions" {
  description = <<-EOT
    Scaling of each function. concurrency is requests one instance serves at once
    (above 1 needs cpu >= 1); timeout_seconds bounds one request: the API's must
    cover a UWS WAIT (up to 600 s); for the Pub/Sub-pushed functions (worker,
    bulk submission, indexer) it is also their subscription's ack deadline (at
    most 600 s).
  EOT
  type = object({
    soda_api = optional(object({
      min_instances   = optional(number, 0)
      max_instances   = optional(number, 20)
      concurrency     = optional(number, 40)
      memory          = optional(string, "1Gi")
      cpu             = optional(string, "1")
      timeout_seconds = optional(number, 660)
    }), {})
    cutout_worker = optional(object({
      min_instances   = optional(number, 0)
      max_instances   = optional(number, 50)
      concurrency     = optional(number, 4)
      memory          = optional(string, "2Gi")
      cpu             = optional(string, "1")
      timeout_seconds = optional(number, 540)
    }), {})
    bulk_submit = optional(object({
      min_instances   = optional(number, 0)
      max_instances   = optional(number, 5)
      concurrency     = optional(number, 1)
      memory          = optional(string, "1Gi")
      cpu             = optional(string, "1")
      timeout_seconds = optional(number, 540)
    }), {})
    # One object event is a header read or two and a one-document
    # transaction: I/O-bound, so several share an instance; uploading a
    # survey sends a burst of events, which max_instances spreads.
    image_index = optional(object({
      min_instances   = optional(number, 0)
      max_instances   = optional(number, 20)
      concurrency     = optional(number, 8)
      memory          = optional(string, "1Gi")
      cpu             = optional(string, "1")
      timeout_seconds = optional(number, 120)
    }), {})
    # One message is a few reprojections of a tile (seconds of CPU each), or a
    # tile's coadd, or the assembly, which writes the mosaic file to the
    # instance's in-memory /tmp: one at a time, with memory for a large file.
    mosaic_worker = optional(object({
      min_instances   = optional(number, 0)
      max_instances   = optional(number, 50)
      concurrency     = optional(number, 1)
      memory          = optional(string, "4Gi")
      cpu             = optional(string, "2")
      timeout_seconds = optional(number, 540)
    }), {})
  })
  default  = {}
  nullable = false
  validation {
    condition = alltrue([
      for f in [var.functions.soda_api, var.functions.cutout_worker, var.functions.bulk_submit, var.functions.image_index, var.functions.mosaic_worker] :
      f.min_instances >= 0 && f.max_instances >= 1 && f.min_instances <= f.max_instances
    ])
    error_message = "Each function needs 0 <= min_instances <= max_instances and max_instances >= 1."
  }
  validation {
    condition = alltrue([
      for f in [var.functions.soda_api, var.functions.cutout_worker, var.functions.bulk_submit, var.functions.image_index, var.functions.mosaic_worker] :
      f.concurrency >= 1 && f.concurrency <= 1000 && (f.concurrency == 1 || tonumber(f.cpu) >= 1)
    ])
    error_message = "concurrency must be in [1, 1000]; above 1 it needs cpu >= 1."
  }
  validation {
    condition = alltrue([
      for f in [var.functions.soda_api, var.functions.cutout_worker, var.functions.bulk_submit, var.functions.image_index, var.functions.mosaic_worker] :
      can(regex("^[0-9]+(Mi|Gi)$", f.memory))
    ])
    error_message = "memory must be like 512Mi or 2Gi."
  }
  validation {
    condition = alltrue([
      for f in [var.functions.cutout_worker, var.functions.bulk_submit, var.functions.image_index, var.functions.mosaic_worker] :
      f.timeout_seconds >= 10 && f.timeout_seconds <= 600
    ])
    error_message = "The Pub/Sub-pushed functions' timeout_seconds is their ack deadline: it must be in [10, 600]."
  }
  validation {
    condition     = var.functions.soda_api.timeout_seconds >= 60 && var.functions.soda_api.timeout_seconds <= 3600
    error_message = "soda_api.timeout_seconds must be in [60, 3600] (HTTP functions allow up to an hour)."
  }
  validation {
    condition     = var.functions.soda_api.timeout_seconds > max(var.tuning.wait_max_seconds, var.tuning.sync_timeout_seconds)
    error_message = "soda_api.timeout_seconds must exceed tuning.wait_max_seconds and tuning.sync_timeout_seconds, or long WAITs are cut off."
  }
}

variable "pubsub" {
  description = "Delivery of job messages, drop notifications and source-bucket object events: exponential retry between the backoffs, then dead letters after max_delivery_attempts."
  type = object({
    max_delivery_attempts       = optional(number, 10)
    minimum_backoff             = optional(string, "10s")
    maximum_backoff             = optional(string, "600s")
    message_retention           = optional(string, "604800s")
    dead_letter_retention       = optional(string, "604800s")
    push_dead_letters_to_worker = optional(bool, true)
  })
  default  = {}
  nullable = false
  validation {
    condition     = var.pubsub.max_delivery_attempts >= 5 && var.pubsub.max_delivery_attempts <= 100
    error_message = "pubsub.max_delivery_attempts must be in [5, 100] (Pub/Sub's limits)."
  }
  validation {
    condition = alltrue([
      for d in [var.pubsub.minimum_backoff, var.pubsub.maximum_backoff] :
      can(regex("^[0-9]+s$", d)) && tonumber(trimsuffix(d, "s")) <= 600
    ]) && tonumber(trimsuffix(var.pubsub.minimum_backoff, "s")) <= tonumber(trimsuffix(var.pubsub.maximum_backoff, "s"))
    error_message = "pubsub backoffs must be like \"10s\", at most 600s, minimum <= maximum."
  }
  validation {
    condition = alltrue([
      for d in [var.pubsub.message_retention, var.pubsub.dead_letter_retention] :
      can(regex("^[0-9]+s$", d)) && tonumber(trimsuffix(d, "s")) >= 600 && tonumber(trimsuffix(d, "s")) <= 604800
    ])
    error_message = "pubsub retentions must be like \"604800s\", between 600s and 7 days."
  }
}

variable "gateway" {
  description = <<-EOT
    API Gateway authentication: callers present a JWT (by default a Google ID
    token) whose audience is one of jwt_audiences; the gateway passes its
    claims to the API as X-Apigateway-Api-Userinfo. anonymous_vosi leaves
    /availability and /capabilities open (registries and monitors call them
    without credentials). deadline_seconds bounds one request at the gateway.
  EOT
  type = object({
    jwt_audiences    = list(string)
    jwt_issuer       = optional(string, "https://accounts.google.com")
    jwks_uri         = optional(string, "https://www.googleapis.com/oauth2/v3/certs")
    anonymous_vosi   = optional(bool, true)
    deadline_seconds = optional(number, 660)
  })
  validation {
    condition     = length(var.gateway.jwt_audiences) > 0 && alltrue([for a in var.gateway.jwt_audiences : length(trimspace(a)) > 0 && !strcontains(a, ",")])
    error_message = "gateway.jwt_audiences must list at least one audience, none empty or containing a comma."
  }
  validation {
    condition     = var.gateway.deadline_seconds >= 60 && var.gateway.deadline_seconds <= 3600
    error_message = "gateway.deadline_seconds must be in [60, 3600] (API Gateway's maximum)."
  }
  validation {
    condition     = var.gateway.deadline_seconds > max(var.tuning.wait_max_seconds, var.tuning.sync_timeout_seconds)
    error_message = "gateway.deadline_seconds must exceed tuning.wait_max_seconds and tuning.sync_timeout_seconds, or the gateway answers 504 to long WAITs."
  }
}

variable "firestore" {
  description = "Firestore database protection: delete protection and point-in-time recovery."
  type = object({
    delete_protection      = optional(bool, true)
    point_in_time_recovery = optional(bool, false)
  })
  default  = {}
  nullable = false
}

variable "artifact_keep_count" {
  description = "Function images kept per function in the Artifact Registry repository (older ones are deleted)."
  type        = number
  default     = 5
  validation {
    condition     = var.artifact_keep_count >= 1
    error_message = "artifact_keep_count must be at least 1."
  }
}

variable "bundle_dir" {
  description = "Folder written by `python scripts/build_functions.py --out <dir>` (its manifest.json names each function's zip); relative to infra/."
  type        = string
  default     = "../build/functions"
}

variable "sweep_schedule" {
  description = "Cron schedule (UTC) of the sweep that takes over stalled jobs (skycut.worker.sweep)."
  type        = string
  default     = "*/5 * * * *"
}

variable "results_cors_origins" {
  description = "Origins whose pages may fetch() result objects through their signed URLs (the web page draws FITS cutouts); the signed URL is the credential, so the default allows any."
  type        = list(string)
  default     = ["*"]
}
