# API Gateway in front of soda_api: checks the caller's JWT, forwards the
# claims as X-Apigateway-Api-Userinfo and calls the function as its own
# service account (the only invoker soda_api has, iam.tf).

locals {
  openapi = templatefile("${path.module}/openapi.yaml.tftpl", {
    title           = "${local.prefix} SODA"
    base_path       = var.base_path
    backend_address = local.api_backend_url
    deadline        = var.gateway.deadline_seconds
    jwt_issuer      = var.gateway.jwt_issuer
    jwks_uri        = var.gateway.jwks_uri
    jwt_audiences   = join(",", var.gateway.jwt_audiences)
    # VOSI endpoints name no owner: registries and monitors may call them anonymously.
    vosi_security = var.gateway.anonymous_vosi ? "[]" : "[{\"jwt\": []}]"
  })
}

resource "google_api_gateway_api" "soda" {
  provider     = google-beta
  project      = var.project_id
  api_id       = "${local.prefix}-soda"
  display_name = "${local.prefix} SODA"

  depends_on = [google_project_service.this]
}

# API configs are immutable: a changed document makes a new config (named by
# the document's hash) before the gateway switches to it and the old one goes.
resource "google_api_gateway_api_config" "soda" {
  provider      = google-beta
  project       = var.project_id
  api           = google_api_gateway_api.soda.api_id
  api_config_id = "${local.prefix}-soda-${substr(sha256(local.openapi), 0, 12)}"
  display_name  = "${local.prefix} SODA ${substr(sha256(local.openapi), 0, 12)}"

  openapi_documents {
    document {
      path     = "openapi.yaml"
      contents = base64encode(local.openapi)
    }
  }

  gateway_config {
    backend_config {
      google_service_account = google_service_account.gateway.email
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_api_gateway_gateway" "soda" {
  provider     = google-beta
  project      = var.project_id
  region       = local.gateway_region
  gateway_id   = "${local.prefix}-soda"
  display_name = "${local.prefix} SODA"
  api_config   = google_api_gateway_api_config.soda.id
}

# The API's managed service must be enabled for the gateway to serve it.
resource "google_project_service" "gateway_api" {
  project                    = var.project_id
  service                    = google_api_gateway_api.soda.managed_service
  disable_on_destroy         = false
  disable_dependent_services = false
}

# The API config names soda_api by Cloud Run's deterministic URL (main.tf);
# warn at plan/apply if the deployed service does not answer at it.
check "api_backend_url_is_served" {
  data "google_cloud_run_v2_service" "api" {
    project  = var.project_id
    location = var.region
    name     = local.function_names.soda_api

    depends_on = [google_cloudfunctions2_function.this]
  }

  assert {
    condition     = contains(coalesce(data.google_cloud_run_v2_service.api.urls, []), local.api_backend_url)
    error_message = "soda_api does not serve ${local.api_backend_url}; set the gateway backend to one of its urls."
  }
}
