# The team's habits, one target each. Tools are pinned in go.mod (`go tool ...`): nothing global.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO ?= go
TEST_FLAGS ?= -race -count=1

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## serve the API on :3000 (Swagger UI at /api-docs) against the local PostgreSQL
	$(GO) run ./cmd/ecompointer serve

.PHONY: build
build: ## build bin/ecompointer
	$(GO) build -o bin/ecompointer ./cmd/ecompointer

.PHONY: test
test: ## run every test against a real PostgreSQL (TEST_DATABASE_URL, default the local one)
	$(GO) test $(TEST_FLAGS) ./...

.PHONY: generate
generate: ## regenerate gen/api from openapi.yaml and gen/db from schema/ + queries/
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
lint: ## go vet, golangci-lint, go.mod tidiness and the spec's own checks
	$(GO) vet ./...
	$(GO) tool golangci-lint run ./...
	$(GO) mod tidy -diff
	$(GO) test -count=1 -run 'TestSpec|TestEveryProblemCode' ./server/
