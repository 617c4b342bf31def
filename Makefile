# gatehouse build, test and lint entry points. `make test` is what CI runs
# (through .ci/run); it first makes sure Chromium, PostgreSQL and the npm
# packages of the browser tests are there (test-deps, browser-deps).

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
GOFMT   ?= $(dir $(GO))gofmt
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

BROWSER_DIR := e2e/browser

# Tests that need PostgreSQL read this; they fail (never skip) without it.
export GATEHOUSE_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable

.PHONY: build run test test-deps lint bench browser-deps

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/gatehouse ./cmd/gatehouse

run:
	$(GO) run ./cmd/gatehouse serve --dev

# The browser tests load playwright-core from $(BROWSER_DIR)/node_modules.
test: test-deps browser-deps
	$(GO) vet ./...
	$(GO) test -count=1 -race -timeout 20m ./...

# Chromium and a running PostgreSQL: as root it installs and starts them,
# otherwise it stops with the commands to run (see scripts/test-deps.sh).
test-deps:
	@bash scripts/test-deps.sh

lint:
	@unformatted=$$(find . -path ./.git -prune -o -name node_modules -prune -o -name '*.go' -print | xargs -r $(GOFMT) -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l reports unformatted files:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# The load generator (cmd/gatehouse-bench) against a gatehouse it starts on a
# fresh database (GATEHOUSE_BENCH_DATABASE_URL, default the local server).
# BENCH_DURATION, BENCH_WARMUP, BENCH_WORKLOADS, BENCH_CONCURRENCY and
# BENCH_JSON=file tune it; see README "Performance". Misses do not fail it.
# Then `users import` of 100,000 generated users (BENCH_IMPORT_ROWS), twice:
# rows/s created and rows/s unchanged (README "Bulk import and export").
ifeq ($(filter compare,$(MAKECMDGOALS)),)
bench: build
	$(GO) build -o bin/gatehouse-bench ./cmd/gatehouse-bench
	bin/gatehouse-bench bench --gatehouse bin/gatehouse
	bin/gatehouse-bench import --gatehouse bin/gatehouse
else
# `make bench compare` is `make bench-compare`: bench only names the mode.
bench: bench-compare
	@:
endif

# gatehouse beside Ory Hydra (BENCH_HYDRA=path of a hydra binary; without
# it, gatehouse and the PostgreSQL ceiling only): cc, introspect, refresh
# and authcode-sso, the last two also through an ES256 web client
# (refresh-es256, authcode-sso-es256), each cell on both servers back to back, BENCH_PASSES
# (3) passes of BENCH_WARMUP (1s) + BENCH_DURATION (5s) per cell at
# BENCH_CONCURRENCY (8), ratios per cell, the CPU split per operation and
# the single-row insert ceiling. BENCH_JSON=file, BENCH_MARKDOWN=true. See
# README "Performance". `make compare` and `make bench compare` run it too.
.PHONY: bench-compare compare
bench-compare: build
	$(GO) build -o bin/gatehouse-bench ./cmd/gatehouse-bench
	bin/gatehouse-bench compare --gatehouse bin/gatehouse

compare: bench-compare
	@:

# cc and refresh for 10 minutes (SOAK_DURATION) with 1-minute tokens; fails if
# the token tables hold more than 1.5x the rows that can be live at once.
.PHONY: soak
soak: build
	$(GO) build -o bin/gatehouse-bench ./cmd/gatehouse-bench
	bin/gatehouse-bench soak --gatehouse bin/gatehouse

# cc and refresh load through a restart, a freeze and a partition of the
# database (a fault proxy between gatehouse and PostgreSQL), about a minute
# in all; prints per fault the failures' answer times, the time to the first
# success, and what it left behind. CHAOS_FAULT, CHAOS_RECOVERY,
# CHAOS_CONCURRENCY and CHAOS_FAULTS tune it; see README "Failure behaviour".
.PHONY: chaos
chaos: build
	$(GO) build -o bin/gatehouse-bench ./cmd/gatehouse-bench
	bin/gatehouse-bench chaos --gatehouse bin/gatehouse

# Each fuzz target (func Fuzz* in a _test.go file) for FUZZTIME; go test
# -fuzz takes one target per run, hence the loop. `make test` runs the
# targets' seeds (f.Add and testdata/fuzz/<Name>/) as ordinary tests. A
# failing input is written to testdata/fuzz/<Name>/ of its package: commit it
# with the fix. Minimizing new inputs is capped (FUZZMINIMIZETIME) so that it
# cannot eat a short FUZZTIME; FUZZFLAGS passes more (e.g. -parallel=1).
# Go 1.26's coordinator may end a run with a bare "context deadline
# exceeded" as FUZZTIME runs out (golang/go#75804, fixed in Go 1.27): with
# no failing input written that is reported and not counted as a failure.
FUZZTIME         ?= 20s
FUZZMINIMIZETIME ?= 5s
FUZZFLAGS        ?=
FUZZ_PKGS        ?= $(shell grep -rl --include='*_test.go' --exclude-dir=node_modules --exclude-dir=.git '^func Fuzz' . | xargs -r -n1 dirname | sort -u)

.PHONY: fuzz
fuzz:
	@failed=""; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	for pkg in $(FUZZ_PKGS); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) \
				-fuzzminimizetime $(FUZZMINIMIZETIME) $(FUZZFLAGS) $$pkg > "$$out" 2>&1; rc=$$?; \
			cat "$$out"; \
			if [ $$rc -eq 0 ]; then continue; fi; \
			if ! grep -q 'Failing input written' "$$out" && [ "$$(grep -c -- '--- FAIL' "$$out")" = 1 ] && \
				grep -A1 -- "--- FAIL: $$target " "$$out" | grep -qx '    context deadline exceeded'; then \
				echo "fuzz: $$pkg $$target: ignoring the end-of-run deadline race (golang/go#75804)"; continue; \
			fi; \
			failed="$$failed $$pkg.$$target"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failing targets:$$failed"; exit 1; fi

# npm ci runs only when the lock file is newer than the installed tree (npm
# writes node_modules/.package-lock.json on every install), so repeated runs
# are quick and need no network.
browser-deps:
ifneq ($(wildcard $(BROWSER_DIR)/package.json),)
browser-deps: $(BROWSER_DIR)/node_modules/.package-lock.json

$(BROWSER_DIR)/node_modules/.package-lock.json: $(BROWSER_DIR)/package.json $(wildcard $(BROWSER_DIR)/package-lock.json)
	cd $(BROWSER_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@
endif
