# chainwatch — the two commands a newcomer needs: `make demo` and `make test`.
GO       ?= go
BIN      := bin/chainwatch
TESTPKGS ?= ./...
# Each test package that needs ClickHouse starts a throwaway server as a child
# process (ingest/chtest), unless CHAINWATCH_TEST_CLICKHOUSE names one.
TEST_TIMEOUT ?= 15m

.PHONY: all build deps demo test bench clean vet

all: build

build:
	$(GO) build -o $(BIN) ./cmd/chainwatch

# deps installs what is missing on a Debian/Ubuntu machine: clickhouse-server
# (and Alertmanager, for the alerting tests). Needs root or sudo.
deps:
	@scripts/install-deps.sh

demo: deps build
	@scripts/demo.sh

test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TESTPKGS)

bench: build
	$(BIN) bench ingest

clean:
	rm -rf bin .chainwatch
