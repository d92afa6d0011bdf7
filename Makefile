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

.PHONY: build
build: ## build bin/ecompointer
	$(GO) build -o bin/ecompointer ./cmd/ecompointer

.PHONY: test
test: ## run every test against a real PostgreSQL (TEST_DATABASE_URL, default the local one)
	$(GO) test $(TEST_FLAGS) ./...

# Each fuzz target runs for FUZZTIME; its seed corpus (and server/**/testdata/fuzz) also runs as
# plain tests in `make test`. A failing input is saved under testdata/fuzz: commit it with the fix.
# A count, not a duration: a duration-bounded -fuzztime can fail with "context deadline exceeded"
# and no crasher on a busy machine (a race in Go's fuzz coordinator, go.dev/issue/75804, fixed
# in Go 1.27). A few seconds a target here.
FUZZTIME ?= 20000x
FUZZ_TARGETS := FuzzDecodeStrictJSON:./server FuzzCursorOpen:./server/paging FuzzIfMatch:./server/respond FuzzVerify:./server/token FuzzDecode:./server/b64url FuzzReader:./server/csvfile

.PHONY: fuzz
fuzz: ## run every Go fuzz target for FUZZTIME (20000x) executions each: JSON pre-check, cursor, If-Match, token framing, base64url
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
cluster: build ## three instances + HAProxy (deploy/haproxy/haproxy.cfg): shared revocation, throttle, rate limit, reservations and orders selling the stock, sweepers, order webhooks once each, promtool, rolling restart (CLUSTER_QUICK=1: short)
	$(GO) run ./cmd/cluster --server bin/ecompointer

.PHONY: bench-go
bench-go: ## Go microbenchmarks with -benchmem: tokens, auth middleware (real database), problem writing, bcrypt, tracing on/off
	$(GO) test -run '^$$' -bench . -benchmem ./server/...
