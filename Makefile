# chainwatch — the two commands a newcomer needs: `make demo` and `make test`.
GO       ?= go
BIN      := bin/chainwatch
TESTPKGS ?= ./...
# Each test package that needs ClickHouse starts a throwaway server as a child
# process (ingest/chtest), unless CHAINWATCH_TEST_CLICKHOUSE names one.
TEST_TIMEOUT ?= 15m

.PHONY: all build deps demo test fuzz bench clean vet dashboards grafana-check grafana-build

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

# fuzz runs every fuzz target for FUZZTIME, one after another (go test fuzzes
# one target per run): `make fuzz` (10 minutes each), `make fuzz
# FUZZTIME=30s`. A failing input is written under the package's
# testdata/fuzz/<target>/ and then replays in `make test`. The recipe fails
# when a Fuzz function is missing from FUZZ_TARGETS. scripts/fuzz-one.sh runs
# a target again when Go 1.26's coordinator stops it with its fuzztime race
# (a bare "context deadline exceeded", no failing input).
FUZZTIME ?= 10m
FUZZ_TARGETS := \
	./genai:FuzzAppendSpanRecord \
	./genai:FuzzAppendLogRecord \
	./genai:FuzzDecodeJSONBatch \
	./genai:FuzzMessages \
	./genai:FuzzWireCanonical \
	./ingest/collector:FuzzSplitByTraceWire \
	./ingest/collector:FuzzOTLPProtobufRecords \
	./ingest/collector:FuzzOTLPJSON \
	./ingest/collector:FuzzOTLPLogsJSON \
	./ingest/collector:FuzzDecodeFeedback \
	./schemas:FuzzCheckJSONText \
	./schemas:FuzzJSONString \
	./serving:FuzzAnswer \
	./serving:FuzzAppendObject \
	./serving:FuzzChunkText \
	./serving:FuzzParseChat \
	./serving:FuzzValidJSON

fuzz:
	@for fn in $$(grep -rhoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' . | cut -d' ' -f2); do \
		case " $(FUZZ_TARGETS) " in *":$$fn "*) ;; *) echo "fuzz: $$fn is not in FUZZ_TARGETS (Makefile)"; exit 1;; esac; \
	done
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $${t##*:} ($${t%%:*}) for $(FUZZTIME)"; \
		scripts/fuzz-one.sh $(GO) $${t%%:*} $${t##*:} $(FUZZTIME); \
	done

# dashboards regenerates grafana/provisioning/dashboards/*.json from
# grafana/dashboards (a test fails when they differ).
dashboards:
	$(GO) run ./grafana/dashboards/gen

# grafana-check installs the frontend's locked dependencies and runs its
# type check, lint and unit tests (.ci/run calls it; npm comes from
# scripts/install-deps.sh). grafana-build writes grafana/dist.
grafana-check: deps
	cd grafana && npm ci --no-audit --no-fund && npm run typecheck && npm run lint && npm test

grafana-build: deps
	cd grafana && npm ci --no-audit --no-fund && npm run build

bench: build
	$(BIN) bench ingest

clean:
	rm -rf bin .chainwatch
