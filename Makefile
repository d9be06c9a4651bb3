# quantviz: `make serve` and `make test` install what is missing, then build / test.
PORT ?= 8000
SETUP := scripts/setup.sh
WASM_OPT := node_modules/.bin/wasm-opt
# Features rustc 1.95 enables by default on wasm32 (wasm-opt must be told, or it refuses them).
WASM_FEATURES := --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd
export WASM_BINDGEN_TEST_TIMEOUT ?= 120

.PHONY: serve test setup wasm size lint test-native test-wasm test-e2e bench screenshot clean

## Build the wasm package and serve the page at http://localhost:$(PORT) (PORT overrides).
serve: wasm
	python3 scripts/serve.py $(PORT)

## Every test: lint, native, wasm in headless Chromium and node, the page end to end.
test: setup lint test-native test-wasm wasm size test-e2e

setup:
	$(SETUP) all

## The release wasm package in pkg/, optimized by binaryen's wasm-opt from npm. -Oz rather than
## -O3: rustc already optimized the code for speed (opt-level 3), and -Oz then makes it smaller
## without making Session.update measurably slower. The producers and target_features sections
## are metadata no browser reads.
wasm:
	$(SETUP) wasm
	wasm-pack build --release --target web --out-dir pkg --no-pack
	$(WASM_OPT) -Oz --converge --strip-producers --strip-target-features $(WASM_FEATURES) pkg/quantviz_bg.wasm -o pkg/quantviz_bg.wasm
	@ls -l pkg/quantviz_bg.wasm | awk '{printf "pkg/quantviz_bg.wasm: %d bytes\n", $$5}'

## What users wait for: the gzip -9 size of the wasm, at most WASM_GZIP_BUDGET bytes. The int
## page alone was 171,000; the thirteen formats' exact quantizers, charts and block inspector add
## about 64,000 (the vectorized K-quant kernels 17,000 of it), 2-D data, granularity, KL and
## rotation with their cards about 25,000, the Model section 33,000, the safetensors and GGUF
## readers the page opens files with about 70,000, the K-quant run shared with a worker about 7,500,
## measuring a format's error without keeping its run (the comparison of every format) about
## 3,400, measuring that comparison in pieces, so that a large tensor's page answers a click
## within a piece's 50 ms rather than a row's second, about 4,000, and on large data the memory
## and the histogram's bins a first format run needs, made with the data, about 450,
## and keeping the comparison's K-quant runs for a Format change on data of up to 4M values
## (such a change then takes 5 ms, not 30), about 1,200.
## The first render of / stays within its 500 ms target (docs/benchmarks.md); the budget
## leaves under 1% for what comes next: a new feature must pay for its bytes.
WASM_GZIP_BUDGET := 385000
size:
	@raw=$$(wc -c < pkg/quantviz_bg.wasm); gz=$$(gzip -9 -c pkg/quantviz_bg.wasm | wc -c); \
	  echo "pkg/quantviz_bg.wasm: $$raw bytes, $$gz gzip -9 (budget $(WASM_GZIP_BUDGET))"; \
	  if [ $$gz -gt $(WASM_GZIP_BUDGET) ]; then echo "over the size budget by $$((gz - $(WASM_GZIP_BUDGET))) bytes"; exit 1; fi

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings

test-native:
	cargo test --profile quick

test-wasm:
	$(SETUP) wasm
	wasm-pack test --headless --chrome -- --test web
	wasm-pack test --node -- --test node

test-e2e:
	node --test tests/e2e/

## Benchmarks: quantviz against numpy (native), and the page in headless Chromium.
bench: wasm
	$(SETUP) python
	cargo build --release
	python3 scripts/bench.py

## docs/screenshot.png, the README's picture, from the page in headless Chromium.
screenshot: wasm
	node scripts/screenshot.mjs

clean:
	cargo clean
	rm -rf pkg artifacts
