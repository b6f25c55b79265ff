# stratbox — every target works on a fresh machine with Go 1.26 (see README).
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 20s
BENCHTIME ?= 1s
BENCHOUT  ?= bench/latest.txt
RUNFOR    ?= 20s

.PHONY: all run test check fmt vet bench fuzz plugins soak chaos clean

all: check test

## run: the main job — the example market maker, compiled to wasm, trading against the built-in simulator for RUNFOR.
run: plugins
	$(GO) run ./cmd/host run --config host.example.toml --duration $(RUNFOR)

## test: formatting, vet, the whole suite with the race detector, then the one test the race detector's slowness
## would make meaningless without it (every example plugin under load, no fault: issue 18).
test: check
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(GO) test -count=1 -timeout 10m -run '^TestExamplesRunFaultFreeUnderLoad$$' ./cmd/host

## check: fails on unformatted code or vet findings.
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## bench: every package's Go benchmarks, then `host bench` (HOSTREPS repetitions), written where benchstat can
## compare two runs (BENCHOUT, BenchmarkHost/<figure> lines appended) and as JSON (HOSTOUT).
HOSTOUT  ?= bench/host.json
HOSTREPS ?= 5
bench:
	@mkdir -p $(dir $(BENCHOUT)) $(dir $(HOSTOUT)) bin
	$(GO) test -run '^$$' -bench . -skip '^BenchmarkFailover$$' -benchmem -benchtime $(BENCHTIME) -count 5 $(PKGS) | tee $(BENCHOUT)
	@# A failover waits for the pool to be whole again between iterations (untimed, ~0.2 s each): a fixed count.
	$(GO) test -run '^$$' -bench '^BenchmarkFailover$$' -benchtime 30x -count 5 ./host | tee -a $(BENCHOUT)
	$(GO) build -o bin/host ./cmd/host
	bin/host bench --reps $(HOSTREPS) --progress --benchfmt --out $(HOSTOUT) | tee -a $(BENCHOUT)

## fuzz: each native fuzz target for FUZZTIME.
fuzz:
	@set -e; for spec in $$($(GO) run ./internal/tools/fuzztargets); do \
		pkg=$${spec%%:*}; target=$${spec##*:}; \
		echo "== $$pkg $$target"; \
		$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## soak: a day of heartbeats compressed into SOAK_FOR (default 2m; 15m ≈ 24 h): drops, a maintenance window, a trading strategy; prints the report.
SOAK_FOR ?= 2m
SOAK_SEED ?= 1
soak:
	@mkdir -p bench
	$(GO) test -count=1 -timeout 0 -run '^TestSoak$$' ./host -args -soak -soak.duration=$(SOAK_FOR) -soak.seed=$(SOAK_SEED) -soak.report=$(CURDIR)/bench/soak.txt
	@cat bench/soak.txt

## chaos: the chaos test — random connection drops under a random trader; CHAOS_DROPS, CHAOS_SEED.
CHAOS_DROPS ?= 25
CHAOS_SEED  ?= 7
chaos:
	$(GO) test -race -count=1 -run '^TestChaos$$' -v ./host -args -chaos.drops=$(CHAOS_DROPS) -chaos.seed=$(CHAOS_SEED)

## plugins: builds every example strategy (plugins/examples/<name>) to bin/plugins/<name>.wasm: the Go ones
## with go build, the AssemblyScript and WAT ones with the pinned compilers of plugins/sdk/assemblyscript
## (npm ci when needed), the Rust ones with Debian's rustc 1.63 when it is installed (plugins/sdk/rust/build.sh),
## failing when a committed .wasm differs from its source (UPDATE=1 rewrites them).
plugins:
	@mkdir -p bin/plugins
	@set -e; for dir in plugins/examples/*/; do \
		name=$$(basename $$dir); [ -f $$dir/main.go ] || continue; \
		GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -ldflags=-s -o bin/plugins/$$name.wasm ./$$dir; \
		echo "bin/plugins/$$name.wasm $$(wc -c < bin/plugins/$$name.wasm) bytes (Go)"; \
	done
	@UPDATE=$(UPDATE) bash plugins/sdk/assemblyscript/build.sh
	@UPDATE=$(UPDATE) bash plugins/sdk/rust/build.sh

clean:
	rm -rf bench/latest.txt
