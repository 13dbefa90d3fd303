# Lantern's build and test entry points. `make test` installs everything the
# tests need (pinned, cached under $(LANTERN_CACHE)) and runs them all.
SHELL := /bin/bash
GO ?= go
export LANTERN_CACHE ?= $(HOME)/.cache/lantern

.PHONY: all build test test-short vet generate bench bench-registry bench-serving tools onnxruntime clean

all: build

build:
	$(GO) build -o bin/lantern ./cmd/lantern

## tools: build/fetch the pinned external programs the tests use (cached).
tools:
	@scripts/tools.sh env > /dev/null

## onnxruntime: fetch the pinned ONNX Runtime library serving/ort loads (cached) and print its path.
onnxruntime:
	@scripts/onnxruntime.sh

## test: everything, integration tests included, with the race detector.
test: tools
	@set -e; eval "$$(scripts/tools.sh env | sed 's/^/export /')"; \
	export LANTERN_INTEGRATION=1; \
	echo "go vet ./..."; $(GO) vet ./...; \
	unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi; \
	echo "go test -race ./..."; $(GO) test -race -count=1 -timeout 20m ./...; \
	echo "million-row tests without -race (the detector multiplies time and memory)"; \
	$(GO) test -count=1 -timeout 10m -run 'MillionRows' ./training/...

## test-short: unit tests only, no external programs.
test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

## generate: regenerate protobuf code (protoc from Debian, plugins pinned).
generate:
	scripts/protoc.sh

## bench-registry: registry benchmarks on the directory store and MinIO.
bench-registry: tools
	@set -e; eval "$$(scripts/tools.sh env | sed 's/^/export /')"; \
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./registry/ ./objstore/...

## bench-serving: REST (hey) and gRPC (ghz) latency and throughput vs a floor server.
bench-serving:
	scripts/bench-serving.sh

bench: bench-registry bench-serving

clean:
	rm -rf bin
