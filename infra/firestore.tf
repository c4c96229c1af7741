# Jobs and the image index live in the (default) Firestore database, the one
# the code's firestore.Client(project=...) opens. The emulator serves any
# query without an index; production needs every index a query uses, so each
# is derived from the stores' queries and checked by tests/infra.

# Job phase changes are compare-and-set writes; the image index writes each
# entry in a transaction that reads only the entry's document (the stored
# version; pessimistic locking serialises per document) and writes it with its
# cells' postings, merged key by key without being read, so images filed in
# the same cell do not wait for each other's locks.
resource "google_firestore_database" "default" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = local.firestore_loc
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = var.firestore.point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = var.firestore.delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # Destroying the stack leaves the database (and any jobs) in place unless
  # delete protection is off; see infra/README.md, "Tear down".
  deletion_policy = var.firestore.delete_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.this]
}

# JobStore.list_for: owner == X [and creation_time > after] order by
# creation_time desc. One index serves both forms (the range is on the
# ordered field).
resource "google_firestore_index" "jobs_by_owner" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = local.jobs_collection
  query_scope = "COLLECTION"

  fields {
    field_path = "owner"
    order      = "ASCENDING"
  }
  fields {
    field_path = "creation_time"
    order      = "DESCENDING"
  }
}

# UWS destruction: Firestore deletes a job document once its `destruction`
# time (a timestamp) has passed, usually within a day. The sweep destroys such
# jobs first, objects and documents (skycut.worker.sweep, a query on this
# field's automatic index); the TTL is the backstop.
resource "google_firestore_field" "jobs_destruction_ttl" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.jobs_collection
  field      = "destruction"

  ttl_config {}

  # Firestore runs one index operation per collection at a time.
  depends_on = [google_firestore_index.jobs_by_owner]
}

# Result documents live in each job's `results` sub-collection, which the
# job's TTL does not reach; they carry the job's destruction time too.
resource "google_firestore_field" "results_destruction_ttl" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = "results" # skycut.jobs.store._RESULTS (a collection group)
  field      = "destruction"

  ttl_config {}

  depends_on = [google_firestore_field.jobs_destruction_ttl]
}

# Progress shards and counted-batch receipts (skycut.jobs.progress) are
# sub-collections too, with the job's destruction time.
resource "google_firestore_field" "progress_destruction_ttl" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = "progress" # skycut.jobs.progress.PROGRESS_COLLECTION
  field      = "destruction"

  ttl_config {}

  depends_on = [google_firestore_field.results_destruction_ttl]
}

resource "google_firestore_field" "counted_destruction_ttl" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = "counted" # skycut.jobs.progress.RECEIPTS_COLLECTION
  field      = "destruction"

  ttl_config {}

  depends_on = [google_firestore_field.progress_destruction_ttl]
}

# A bulk job document carries its task list; indexing every task would spend
# the document's 40,000 index entries and write cost for nothing (no query
# filters on it). An empty index_config turns the field's indexes off.
resource "google_firestore_field" "jobs_tasks_unindexed" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.jobs_collection
  field      = "tasks"

  index_config {}

  # Field configurations are changed one at a time.
  depends_on = [google_firestore_field.counted_destruction_ttl]
}

resource "google_firestore_field" "jobs_parameters_unindexed" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.jobs_collection
  field      = "parameters"

  index_config {}

  depends_on = [google_firestore_field.jobs_tasks_unindexed]
}

# A mosaic job's request, plan (seven numbers per reprojection task) and
# stage (skycut.jobs.mosaic_state); no query filters on any of it.
resource "google_firestore_field" "jobs_mosaic_unindexed" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.jobs_collection
  field      = "mosaic"

  index_config {}

  depends_on = [google_firestore_field.jobs_parameters_unindexed]
}

# -- the image index (skycut.index.firestore_index) ---------------------------
# Two collections: the entries (one document per source object) and their
# cells' postings (local.image_cells_collection, documents "<cell>.<shard>"
# read by id).
# Firestore indexes every map sub-field and every array element of a document
# by default, and a document may have at most 40,000 index entries: an image's
# footprint (footprint.vertices alone holds up to 40,000 numbers) would exceed
# that and its write would fail. Only three queries are made, each on one
# field, so single-field indexes serve them and nothing else needs an index:
#   cells array-contains-any [...]      the default array index (kept; point
#                                       queries read postings by id instead)
#   metadata.obs_collection in [...]    an ascending index (below)
#   state == "indexed"                  the default ascending index (kept)
# An empty index_config turns a field's indexes off.
resource "google_firestore_field" "images_footprint_unindexed" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.images_collection
  field      = "footprint"

  index_config {}

  depends_on = [google_firestore_field.jobs_mosaic_unindexed]
}

# The ObsCore facts (band, time, instrument, ...) are filtered in memory
# (skycut.sia.select) after one of the queries above; of them only the
# collection is queried.
resource "google_firestore_field" "images_metadata_unindexed" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.images_collection
  field      = "metadata"

  index_config {}

  depends_on = [google_firestore_field.images_footprint_unindexed]
}

# A sub-field's own setting overrides the exemption its map inherits.
resource "google_firestore_field" "images_obs_collection_indexed" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.images_collection
  field      = "metadata.obs_collection"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
  }

  depends_on = [google_firestore_field.images_metadata_unindexed]
}

# Why an object could not be indexed: free text, read only with its entry.
resource "google_firestore_field" "images_reason_unindexed" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.images_collection
  field      = "reason"

  index_config {}

  depends_on = [google_firestore_field.images_obs_collection_indexed]
}

# s_region, packed (up to 100 vertices as 1.6 kB of bytes): read with its entry.
resource "google_firestore_field" "images_region_unindexed" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.images_collection
  field      = "region"

  index_config {}

  depends_on = [google_firestore_field.images_reason_unindexed]
}

# A posting maps each image filed in a cell to its version; tens of thousands
# of images (every epoch of a deep field) would each add index entries beyond
# a document's 40,000. Postings are only read by document id.
resource "google_firestore_field" "image_cells_images_unindexed" {
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = local.image_cells_collection
  field      = "images"

  index_config {}

  depends_on = [google_firestore_field.images_region_unindexed]
}
