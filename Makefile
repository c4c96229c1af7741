# skycut task runner. `make run` starts the local stack, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
# uv comes from PyPI into a private bootstrap venv unless one is already on PATH
UV := $(shell command -v uv 2>/dev/null || echo .skycut/bootstrap/bin/uv)

.PHONY: run test unit lint audit typecheck env load sample clean bundles browser

.skycut/bootstrap/bin/uv:
	$(PYTHON) -m venv .skycut/bootstrap
	.skycut/bootstrap/bin/pip install --quiet "uv==$(UV_VERSION)"

env: $(UV)  ## create .venv from uv.lock
	$(UV) sync --frozen --all-groups

run: env  ## start emulators + functions + sample survey; Ctrl-C stops all
	$(UV) run --frozen python -m emulators.stack $(ARGS)

test: env lint audit browser  ## lint, type-check, audit the lock, then unit, function, integration and browser tests (starts its own emulators)
	$(UV) run --frozen pytest $(PYTEST_ARGS)

# The web page's tests drive the distribution's Chromium through its chromedriver, and its
# Firefox over Marionette. Installed here when apt can (root on Debian/Ubuntu); otherwise
# the tests skip and name the packages.
BROWSER_PACKAGES := chromium chromium-driver firefox-esr
browser:  ## install Chromium + chromedriver and Firefox for the web page's tests, if missing and apt can
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v firefox-esr >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(BROWSER_PACKAGES) for the web page's tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null 2>&1; } || \
		echo "could not install $(BROWSER_PACKAGES): the web page's tests will be skipped"; \
	else echo "no browsers: the web page's tests will be skipped (apt-get install $(BROWSER_PACKAGES))"; fi

unit: env
	$(UV) run --frozen pytest tests/unit tests/functions $(PYTEST_ARGS)

lint: env
	$(UV) run --frozen ruff check shared functions emulators tests bench scripts
	$(UV) run --frozen mypy

# Two checks of every version pinned in uv.lock (all groups), on one exported file.
# pip-audit asks PyPI's per-release JSON or osv.dev; where neither is served (the development
# machine) it audits nothing and, not being --strict by default, only lists the pins it skipped.
# scripts/audit_latest.py then asks PyPI's project JSON, whose advisories cover only each
# project's latest release: it audits the pins that are the latest, lists the older ones as
# not auditable here, and fails (exit 2) if PyPI cannot be reached at all.
# Advisories that cannot be fixed, each as `AUDIT_IGNORE_IDS += ID` (its id or any alias) after
# a comment saying why; both tools are given the same IDs.
AUDIT_IGNORE_IDS :=
audit: env  ## audit every version pinned in uv.lock (pip-audit, then latest-release advisories); AUDIT_ARGS=--strict makes pip-audit fail on pins it could not look up
	@req=$$(mktemp) && trap 'rm -f "$$req"' EXIT && \
	$(UV) export --frozen --all-groups --no-emit-project --no-header --quiet -o "$$req" && \
	status=0 && \
	{ $(UV) run --frozen pip-audit --requirement "$$req" --disable-pip --progress-spinner off \
		$(addprefix --ignore-vuln=,$(AUDIT_IGNORE_IDS)) $(AUDIT_ARGS) || status=$$?; } && \
	{ $(UV) run --frozen python scripts/audit_latest.py "$$req" \
		$(addprefix --ignore=,$(AUDIT_IGNORE_IDS)) || status=$$?; } && \
	exit $$status

# FILES reaches emulators.load as one string (make exports it) and is split there as a shell
# would, except that an unquoted name with spaces is kept whole when it names a file.
load: env  ## upload your FITS files to the running stack: make load FILES='a.fits "my image.fits"'
	$(UV) run --frozen python -m emulators.load --file-list "$$FILES"

clean:
	rm -rf .skycut/logs .skycut/gcs

bundles: env  ## build the Cloud Functions source zips for infra/ (build/functions)
	$(UV) run --frozen python scripts/build_functions.py --out build/functions
