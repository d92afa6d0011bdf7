# The team's habits, one target each. Tools are pinned in go.mod (`go tool ...`): nothing global.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO ?= go
# -timeout: go test's default (10m a package) is too close to what the largest package takes on a
# loaded 2-core machine; a hung test still fails, with every goroutine's stack.
TEST_FLAGS ?= -race -count=1 -timeout 30m

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## serve the API on :3000 (Swagger UI at /api-docs) against the local PostgreSQL
	$(GO) run ./cmd/ecompointer serve

# What `ecompointer version`, the build_info metric and /healthz report (server/buildinfo): the
# nearest tag (or the commit) and the commit, stamped at link time.
# Evaluated once per make run (:=), so the image and its check agree on them.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
endif
ifeq ($(origin COMMIT),undefined)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
endif
BUILDINFO := github.com/ecompointer/ecompointer/server/buildinfo
LDFLAGS := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT)

.PHONY: build
build: ## build bin/ecompointer (version and commit stamped)
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ecompointer ./cmd/ecompointer

.PHONY: test
test: ## run every test against a real PostgreSQL (TEST_DATABASE_URL, default the local one)
	$(GO) test $(TEST_FLAGS) ./...

# Each fuzz target runs for FUZZTIME; its seed corpus (and server/**/testdata/fuzz) also runs as
# plain tests in `make test`. A failing input is saved under testdata/fuzz: commit it with the fix.
# A count, not a duration: a duration-bounded -fuzztime can fail with "context deadline exceeded"
# and no crasher on a busy machine (a race in Go's fuzz coordinator, go.dev/issue/75804, fixed
# in Go 1.27). A few seconds a target here.
FUZZTIME ?= 20000x
FUZZ_TARGETS := FuzzDecodeStrictJSON:./server FuzzTextArrayScan:./server FuzzValidGTIN:./server/catalog FuzzStoredAttributes:./server/catalog FuzzCursorOpen:./server/paging FuzzIfMatch:./server/respond FuzzVerify:./server/token FuzzDecode:./server/b64url FuzzOrderAmounts:./server/orders FuzzReader:./server/csvfile FuzzCheckURL:./server/webhooks

.PHONY: fuzz
fuzz: ## run every Go fuzz target for FUZZTIME (20000x) executions each: JSON pre-check, text[] scan, cursor, If-Match, token framing, base64url, GTIN check digit, stored attributes, order amounts, CSV reader, webhook URL
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "--- fuzz $${t%%:*} ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) "$${t#*:}"; \
	done

.PHONY: generate
generate: ## regenerate gen/api from openapi.yaml, and gen/db, gen/stockdb, gen/ordersdb from schema/ + queries/ (sqlc.yaml)
	$(GO) tool oapi-codegen -config oapi-codegen.yaml openapi.yaml
	$(GO) tool sqlc generate

.PHONY: check-generated
check-generated: generate ## fail when generated code is not what the sources produce
	@if [ -n "$$(git status --porcelain -- gen/)" ]; then \
		echo "gen/ is stale: run 'make generate' and commit the result" >&2; \
		git status --short -- gen/ >&2; git --no-pager diff --stat -- gen/ >&2; exit 1; \
	fi
	$(GO) tool sqlc diff

.PHONY: lint
lint: lint-spec check-breaking ## go vet, golangci-lint, go.mod tidiness and the spec's own checks
	$(GO) vet ./...
	$(GO) tool golangci-lint run ./...
	$(GO) mod tidy -diff
	$(GO) test -count=1 -run 'TestSpec|TestEveryProblemCode|TestPermissions' ./server/ ./server/identity/

# --- The contract as its users meet it: e2e/ (npm, pinned in e2e/package-lock.json) ---
# npm records the installed tree in node_modules/.package-lock.json: reinstall when the lock is newer.
E2E_NODE_MODULES := e2e/node_modules/.package-lock.json
$(E2E_NODE_MODULES): e2e/package-lock.json e2e/package.json
	cd e2e && npm ci --no-audit --no-fund

.PHONY: lint-spec
lint-spec: $(E2E_NODE_MODULES) ## lint openapi.yaml with Redocly CLI (redocly.yaml: recommended-strict, no warnings)
	cd e2e && REDOCLY_SUPPRESS_UPDATE_NOTICE=true npx --no-install redocly lint --config ../redocly.yaml ../openapi.yaml

.PHONY: check-breaking
check-breaking: ## oasdiff: fail when openapi.yaml breaks the previous commit's without a major version bump
	bash .ci/check-breaking

.PHONY: quickstart
quickstart: build ## run the README's quick start exactly as written against the built server on a fresh database
	bash .ci/quickstart

.PHONY: e2e
e2e: build $(E2E_NODE_MODULES) ## built server + fresh database, driven by the generated TS client and by Swagger UI in Chromium
	bash e2e/scripts/run.sh bin/ecompointer

# --- Performance: the load harness (cmd/bench) and the Go microbenchmarks ---
.PHONY: bench
bench: build ## load harness: every scenario against this machine's limits, table in bench/results/ (BENCH_QUICK=1: short)
	$(GO) build -o bin/bench ./cmd/bench
	bin/bench run --server bin/ecompointer

# --- Operating: several instances behind HAProxy (Debian's haproxy; Redis at 127.0.0.1:6379) ---
.PHONY: cluster
cluster: build ## three instances + HAProxy (deploy/haproxy/haproxy.cfg): shared revocation, throttle, rate limit, reservations and orders selling the stock, sweepers, order webhooks once each, promtool, rolling restart (CLUSTER_QUICK=1: short; CLUSTER_PGBOUNCER=1: request pools through PgBouncer)
	$(GO) run ./cmd/cluster --server bin/ecompointer

.PHONY: failover
failover: build ## pg_auto_failover primary + synchronous standby (ports 55432-55434), three instances on a multi-host URL, the primary killed under order load: 503 + Retry-After, back within 30 s, no acknowledged order lost (FAILOVER_QUICK=1: short)
	bash deploy/failover/drill.sh bin/ecompointer

.PHONY: bench-go
bench-go: ## Go microbenchmarks with -benchmem: tokens, auth middleware (real database), problem writing, bcrypt, tracing on/off
	$(GO) test -run '^$$' -bench . -benchmem ./server/...

# --- Shipping: the OCI image (no Docker engine), the systemd unit, the alert rules, the backup drill ---
IMAGE_DIR := bin/image
.PHONY: image
image: ## OCI image without Docker: static binary on an empty base, non-root (bin/image/oci, bin/image/ecompointer.tar for docker load)
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(IMAGE_DIR)/ecompointer ./cmd/ecompointer
	cd deploy/image && SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0) $(GO) run . build \
		--binary ../../$(IMAGE_DIR)/ecompointer --version '$(VERSION)' --commit '$(COMMIT)' \
		--layout ../../$(IMAGE_DIR)/oci --tarball ../../$(IMAGE_DIR)/ecompointer.tar

.PHONY: check-image
check-image: image ## build the image, then check it: non-root user, entrypoint, static binary, `version` run from its extracted filesystem
	cd deploy/image && $(GO) run . check --layout ../../$(IMAGE_DIR)/oci --version '$(VERSION)'

.PHONY: check-unit
check-unit: ## systemd-analyze verify (no warning) and security exposure <= 2.0 of deploy/systemd/ecompointer.service
	bash .ci/check-unit

.PHONY: check-proxy
check-proxy: ## haproxy -c of deploy/haproxy/haproxy.cfg and haproxy-tls.cfg (TLS termination; a throwaway certificate)
	bash .ci/check-proxy

.PHONY: alerts
alerts: ## promtool check rules and promtool test rules of deploy/prometheus/alerts.yml
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml

.PHONY: backup-drill
backup-drill: build ## populate a database, pg_dump -Fc, restore into a fresh one, serve it: stock invariants and a login hold
	$(GO) run ./cmd/drill backup --server bin/ecompointer
