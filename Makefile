# authzcheck: the two commands a fresh machine needs are `make conformance` and `make test`.
GO      ?= go
BIN     := bin/authzcheck
PKG     := github.com/authzcheck/authzcheck
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X $(PKG)/internal/buildinfo.Version=$(VERSION) -X $(PKG)/internal/buildinfo.Commit=$(COMMIT)

.PHONY: all build test conformance bench-conformance bench-latency mock bench lint fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/authzcheck

# Every test, with the race detector, plus vet and a formatting check; then, alone and without
# -race, the tests that measure memory or judge timing, which skip under -race (the detector's
# allocations and slowdown would swamp them): huge answers, and the reference clients of the
# client catalogue (about 6 minutes: each client runs the whole catalogue in turn).
test: lint
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run 'TestHugeAnswers' ./steps/ ./load/
	$(GO) test -count=1 -timeout 20m -run 'TestReferenceClients|TestHostileClients' ./client/

# The main job: the whole check catalogue against the embedded mock (no configuration needed), or
# against AUTHZ_TOKEN_URL when it is set.
conformance: build
	./$(BIN) conformance $(ARGS)

# Wall time of the full default conformance run (embedded mock, every check but @intrusive) of
# the built binary, BENCH_RUNS times, with the machine's load first. Goal: at most 2 s a run.
BENCH_RUNS ?= 5
bench-conformance: build
	@uptime
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; total=0; \
	for i in $$(seq $(BENCH_RUNS)); do \
	  s=$$(date +%s%N); ./$(BIN) conformance --quiet --out "$$dir/$$i" >/dev/null || exit 1; e=$$(date +%s%N); \
	  ms=$$(( (e - s) / 1000000 )); total=$$((total + ms)); echo "run $$i: $$ms ms"; \
	done; echo "mean: $$((total / $(BENCH_RUNS))) ms over $(BENCH_RUNS) runs (goal <= 2000 ms)"

# Wall time of the default conformance run against a target LATENCY away (`authzcheck mock
# --latency`, its own process on a free loopback port, reached over plain HTTP as a remote target
# would be over HTTPS), one request after another (--concurrency 1) and with the default bound
# (8 on loopback) or CONCURRENCY. Goal: at most 3 s a run at the default 100ms.
LATENCY ?= 100ms
CONCURRENCY ?=
bench-latency: build
	@uptime
	@dir=$$(mktemp -d); log="$$dir/mock.log"; \
	./$(BIN) mock --addr 127.0.0.1:0 --latency $(LATENCY) >"$$log" 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; rm -rf "$$dir"' EXIT; \
	for i in $$(seq 50); do base=$$(sed -n 's|.*listening on \(http://[^ ]*\).*|\1|p' "$$log"); [ -n "$$base" ] && break; sleep 0.1; done; \
	[ -n "$$base" ] || { echo "the mock did not start:"; cat "$$log"; exit 1; }; \
	export AUTHZ_TOKEN_URL="$$base/ticket-distributor-authorizer/token" AUTHZ_API_URL="$$base/products" \
	  AUTHZ_CLIENT_ID=DEMO AUTHZ_CLIENT_SECRET='Demo+Secret/Key=42%!ok' AUTHZ_CLIENT2_ID=DEMO2 AUTHZ_CLIENT2_SECRET='Second+Demo/Key=7%!xy'; \
	run() { s=$$(date +%s%N); ./$(BIN) conformance --quiet --jwks-url "$$base/.well-known/jwks.json" $$2 --out "$$dir/$$1" >"$$dir/out" || { cat "$$dir/out"; exit 1; }; \
	  e=$$(date +%s%N); echo "latency $(LATENCY), $$1: $$(( (e - s) / 1000000 )) ms"; }; \
	run "concurrency-1" "--concurrency 1"; \
	for c in $(CONCURRENCY); do run "concurrency-$$c" "--concurrency $$c"; done; \
	run "default-concurrency" ""; echo "goal: default concurrency <= 3000 ms at 100ms"

# The reference mock on 127.0.0.1:8080 until interrupted (ARGS='--quirk no-pragma ...').
# CRYPTO=boring runs a build with Go's BoringCrypto backend (see bench-mock).
mock: $(if $(filter boring,$(CRYPTO)),build-boring,build)
	./$(if $(filter boring,$(CRYPTO)),$(BIN)-boring,$(BIN)) mock $(ARGS)

# Benchmarks: compare runs with benchstat.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

# The mock's benchmarks over real loopback HTTP (server and client share the machine):
# BenchmarkIssueReissue/Cached (saturation, b.RunParallel), BenchmarkSignRS256 (signing alone),
# BenchmarkAPIVerify (a sample API call), then BenchmarkIssueLatencyAt500 (Vegeta at a constant
# MOCK_BENCH_RATE, default 500/s, for MOCK_BENCH_DURATION, default 10s: p50/p99/max).
# CRYPTO=boring uses GOEXPERIMENT=boringcrypto (cgo and a C compiler needed): RSA signing about
# 1.6x faster. Plain `make build`/`make test` never need it.
BENCHTIME ?= 3s
BORING_ENV := $(if $(filter boring,$(CRYPTO)),GOEXPERIMENT=boringcrypto CGO_ENABLED=1,)
.PHONY: bench-mock build-boring
bench-mock:
	$(BORING_ENV) $(GO) test -run '^$$' -bench 'Issue(Reissue|Cached)|SignRS256|APIVerify' -benchmem -benchtime $(BENCHTIME) -count=1 ./mock/
	$(BORING_ENV) $(GO) test -run '^$$' -bench 'IssueLatencyAt500' -benchtime 1x -count=1 ./mock/

# bin/authzcheck-boring: the binary with the BoringCrypto backend (cgo).
build-boring:
	GOEXPERIMENT=boringcrypto CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)-boring ./cmd/authzcheck

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...

# A short run of every fuzz target (FUZZTIME per target).
FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

# evidence/ is also the schema package: remove only the run outputs under it (evidence/<run>/).
clean:
	rm -rf bin evidence

# The evidence report in a real browser: headless Chromium (Debian's `chromium`) renders a fixture
# bundle's report.html; the test checks the rendered DOM, that the page fetches nothing, that it
# prints to PDF, and saves screenshots and the PDF under evidence/e2e/ (E2E_ARTIFACTS to change).
# Without chromium it skips locally and fails in CI (CI=true).
.PHONY: e2e
e2e:
	$(GO) test -tags e2e -count=1 -run 'E2E' -v ./reports/

# The token cache against oauth2.ReuseTokenSource, in one run: the parallel hit path (ns/op,
# allocs/op), then Token() latency and token fetches over three 1-second token lifetimes against
# a loopback endpoint taking 100 ms per token (max-latency-ns, fetches). About 30 s.
# CACHEBENCH passes flags on, e.g. CACHEBENCH='-tokencache.pause=50us -tokencache.lifetime=2
# -tokencache.run=6.5s' (see tokencache/bench_test.go).
CACHEBENCH ?=
.PHONY: bench-cache
bench-cache:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=2s -count=1 ./tokencache/ $(CACHEBENCH)

# Load (load/, `authzcheck load`): a short issuance run and a short cached run against the
# embedded mock (2 s tokens, so the cache refreshes several times). ARGS passes flags on.
LOAD_OUT ?= evidence/load-$(shell date -u +%Y%m%dT%H%M%SZ)
.PHONY: load bench-load bench-load-memory
load: build
	./$(BIN) load issuance --rate 100 --duration 5s --threshold 'success>=0.99' --out $(LOAD_OUT)/issuance $(ARGS)
	./$(BIN) load cached --rate 50 --duration 10s --mock-token-ttl 2s --threshold 'fetches_per_call<0.05' --threshold 'stalls<=0' --out $(LOAD_OUT)/cached $(ARGS)

# Fidelity: the Vegeta command line (the pinned v12.13.0, installed into a temporary GOBIN) and
# `authzcheck load issuance` against one embedded mock (cached policy), load/internal/benchcmp:
# side by side at BENCH_LOAD_RATE each, their p50 and p99 must agree within 10% (2x
# BENCH_LOAD_ROUNDS pairs); each alone as fast as possible with BENCH_LOAD_WORKERS workers, the
# harness must sustain at least 0.95x Vegeta's rate (BENCH_LOAD_ROUNDS rounds of
# Vegeta/harness/harness/Vegeta). BENCH_LOAD_LATENCY adds latency to every mock answer.
BENCH_LOAD_RATE ?= 500
BENCH_LOAD_DURATION ?= 10s
BENCH_LOAD_WORKERS ?= 16
BENCH_LOAD_LATENCY ?= 0s
BENCH_LOAD_ROUNDS ?= 2
bench-load: build
	@uptime
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	GOBIN=$$tmp $(GO) install github.com/tsenart/vegeta/v12@v12.13.0 && \
	$(GO) run ./load/internal/benchcmp -vegeta $$tmp/vegeta -authzcheck ./$(BIN) \
	  -rate $(BENCH_LOAD_RATE) -duration $(BENCH_LOAD_DURATION) -max-workers $(BENCH_LOAD_WORKERS) -latency $(BENCH_LOAD_LATENCY) -rounds $(BENCH_LOAD_ROUNDS)
	@uptime

# Memory: a MEMORY_DURATION (default 10 minutes) issuance run at 1,000/s against the embedded
# mock's cached policy, under /usr/bin/time -v (apt-get install time); goal: peak RSS <= 150 MB
# for the whole process (harness and mock). Not part of `make test`.
MEMORY_DURATION ?= 10m
bench-load-memory: build
	@uptime
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	/usr/bin/time -v ./$(BIN) load issuance --rate 1000 --duration $(MEMORY_DURATION) --mock-policy cached --quiet --out $$tmp/ev 2> $$tmp/time.txt; \
	grep -E 'Maximum resident|Elapsed|Percent of CPU' $$tmp/time.txt; ls -l $$tmp/ev/load/results.bin
	@uptime

# Client certification (`authzcheck client`) of the good reference client
# (client/testdata/clients/good: clientcredentials behind tokencache): the whole CLIENT catalogue;
# exits 0. ARGS passes flags on, e.g. ARGS='--out evidence/client-example'.
.PHONY: certify-example
certify-example: build
	$(GO) build -trimpath -o bin/good-client ./client/testdata/clients/good
	./$(BIN) client $(ARGS) -- ./bin/good-client
