output "gateway_url" {
  description = "Root URL of the API Gateway."
  value       = "https://${google_api_gateway_gateway.soda.default_hostname}"
}

output "soda_base_url" {
  description = "Service base URL clients use (SODA sync at <this>/sync, UWS at <this>/async, SIA at <this>/sia/query, VOSI at <this>/capabilities)."
  value       = local.public_base_url
}

output "sia_url" {
  description = "SIA 2.0 query endpoint (GET or POST with POS, BAND, TIME, COLLECTION, MAXREC, ...), answered from the image index."
  value       = "${local.public_base_url}/sia/query"
}

output "function_urls" {
  description = "Cloud Run URLs of the functions (not callable directly: only the gateway and the push subscriptions may invoke them)."
  value       = { for k, f in google_cloudfunctions2_function.this : k => f.service_config[0].uri }
}

output "api_backend_url" {
  description = "URL the gateway calls soda_api at (Cloud Run's deterministic URL); must be one of function_urls' soda_api URLs."
  value       = local.api_backend_url
}

output "buckets" {
  description = "Buckets skycut created: results (cutouts), drop (upload incoming/<owner>/<file>.csv here to start a bulk job), bundles (function sources)."
  value = {
    results = google_storage_bucket.results.name
    drop    = google_storage_bucket.drop.name
    bundles = google_storage_bucket.bundles.name
  }
}

output "drop_url" {
  description = "Where a user drops a bulk CSV: gs://<drop>/incoming/<owner>/<file>.csv."
  value       = "gs://${google_storage_bucket.drop.name}/incoming/"
}

output "topics" {
  description = "Pub/Sub topics: job messages (jobs), drop-bucket notifications (drop), source-bucket object events (sources), dead letters, job ends (job_events)."
  value       = { for k, t in google_pubsub_topic.this : k => t.id }
}

output "dead_letter_subscription" {
  description = "Subscription holding messages that exhausted their deliveries (pull it to inspect them)."
  value       = google_pubsub_subscription.dead_letter.id
}

output "service_accounts" {
  description = "Service accounts: one per function, plus the gateway's, the push subscriptions' and the build's."
  value = merge(
    { for k, sa in google_service_account.function : k => sa.email },
    { for k, sa in google_service_account.push : "push_${k}" => sa.email },
    { gateway = google_service_account.gateway.email, build = google_service_account.build.email },
  )
}

output "firestore_database" {
  description = "Firestore database holding the jobs and images collections."
  value       = google_firestore_database.default.name
}

output "jobs_collection" {
  description = "Firestore collection of jobs (SKYCUT_JOBS_COLLECTION)."
  value       = local.jobs_collection
}

output "images_collection" {
  description = "Firestore collection of the image index (SKYCUT_IMAGES_COLLECTION): one document per source object, state indexed, unindexable (with the reason) or deleted."
  value       = local.images_collection
}
