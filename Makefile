# quantviz: `make serve` and `make test` install what is missing, then build / test.
PORT ?= 8000
SETUP := scripts/setup.sh
WASM_OPT := node_modules/.bin/wasm-opt
# Features rustc 1.95 enables by default on wasm32 (wasm-opt must be told, or it refuses them).
WASM_FEATURES := --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd
export WASM_BINDGEN_TEST_TIMEOUT ?= 120

.PHONY: serve test setup wasm lint test-native test-wasm test-e2e bench clean

## Build the wasm package and serve the page at http://localhost:$(PORT) (PORT overrides).
serve: wasm
	python3 scripts/serve.py $(PORT)

## Every test: lint, native, wasm in headless Chromium and node, the page end to end.
test: setup lint test-native test-wasm wasm test-e2e

setup:
	$(SETUP) all

## The release wasm package in pkg/, optimized by binaryen's wasm-opt from npm. -Oz rather than
## -O3: rustc already optimized for speed (opt-level 3); binaryen's -Oz saves ~5 KB (issue 4: at
## most 300 KB) and Session.update measured as fast as with -O3 (min of 40 runs at 100k and 1M).
## --converge repeats -Oz until it gains nothing (~170 bytes, ~10 s); the producers and
## target_features sections are metadata no browser reads (~270 bytes).
wasm:
	$(SETUP) wasm
	wasm-pack build --release --target web --out-dir pkg --no-pack
	$(WASM_OPT) -Oz --converge --strip-producers --strip-target-features $(WASM_FEATURES) pkg/quantviz_bg.wasm -o pkg/quantviz_bg.wasm
	@ls -l pkg/quantviz_bg.wasm | awk '{printf "pkg/quantviz_bg.wasm: %d bytes\n", $$5}'

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

clean:
	cargo clean
	rm -rf pkg artifacts
