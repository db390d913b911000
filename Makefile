# Docket build, test and packaging. `make help` lists the targets.

GO          ?= go
BIN         ?= bin/docket
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
IMAGE       ?= docket
FUZZTIME    ?= 10s
# Extra arguments for `docket dev` (make dev DEV_ARGS="--agents 3").
DEV_ARGS    ?=
# Arguments for `docket bench registry` (make bench BENCH_ARGS="--size 134217728").
BENCH_ARGS  ?=
# Arguments for `docket bench swarm` (make bench-swarm SWARM_ARGS="--agents 20 --baseline").
SWARM_ARGS  ?=
# Packages `make test` runs; the race detector is on for all of them.
TEST_PKGS   ?= ./...
TEST_FLAGS  ?= -race -count=1 -timeout 20m

GO_SOURCES  := $(shell find . -name '*.go' -not -path './.git/*' 2>/dev/null) go.mod go.sum

.PHONY: all build dev test unit-test conformance bench bench-swarm lint fmt vet fuzz-smoke docker compose-up compose-down clean help

all: lint build test

## build: static binary bin/docket (CGO off, trimmed paths, version stamped)
build: $(BIN)

$(BIN): $(GO_SOURCES)
	@mkdir -p $(dir $(BIN))
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/docket

## dev: build if needed, then start the whole cluster in one process (docket dev)
dev: $(BIN)
	./$(BIN) dev $(DEV_ARGS)

## test: unit, integration and end-to-end tests, then the OCI conformance suite if present
test: unit-test conformance

unit-test:
	$(GO) test $(TEST_FLAGS) $(TEST_PKGS)

conformance: $(BIN)
	@if [ -x test/conformance.sh ]; then test/conformance.sh; \
	else echo "test/conformance.sh not present; skipping the OCI conformance suite"; fi

## bench: registry benchmark against a plain distribution registry in the same run
bench: $(BIN)
	./$(BIN) bench registry $(BENCH_ARGS)

## bench-swarm: N agents pull one blob at once, every host rate-limited (needs root for tc)
bench-swarm: $(BIN)
	./$(BIN) bench swarm $(SWARM_ARGS)

## lint: gofmt and go vet
lint: fmt vet

fmt:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## fuzz-smoke: run every fuzz target briefly (FUZZTIME each)
fuzz-smoke:
	FUZZTIME=$(FUZZTIME) GO=$(GO) .ci/fuzz-smoke

## docker: build the FROM-scratch image $(IMAGE):$(VERSION) and $(IMAGE):latest
docker: $(BIN)
	rm -rf bin/docker-context
	mkdir -p bin/docker-context/rootfs/var/lib/docket/tmp bin/docker-context/rootfs/var/lib/docket-backend bin/docker-context/rootfs/tmp bin/docker-context/rootfs/etc/docket
	chmod 1777 bin/docker-context/rootfs/tmp
	cp $(BIN) bin/docker-context/docket
	cp /etc/ssl/certs/ca-certificates.crt bin/docker-context/ca-certificates.crt
	docker build -f docker/Dockerfile -t $(IMAGE):$(VERSION) -t $(IMAGE):latest bin/docker-context

## compose-up: start the multi-container cluster of docker/docker-compose.yml
compose-up: docker
	docker-compose -f docker/docker-compose.yml -p docket up -d

compose-down:
	docker-compose -f docker/docker-compose.yml -p docket down -v

## clean: remove build output and the default dev data directory
clean:
	rm -rf bin docket-data

help:
	@grep -E '^## ' Makefile | sed 's/^## //'
