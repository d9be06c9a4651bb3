#!/usr/bin/env bash
# Installs what quantviz needs to build and test, skipping whatever is already there at the
# right version. Idempotent: safe to run on every `make serve` / `make test`.
# Usage: scripts/setup.sh [native|wasm|browser|python|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.130   # must equal the `wasm-bindgen = "=..."` pin in Cargo.toml
WASM_PACK_VERSION=0.15.1
what=${1:-all}

log() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

need_wasm() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  if ! command -v wasm-bindgen >/dev/null || ! wasm-bindgen --version | grep -q " $WASM_BINDGEN_VERSION\$"; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes on 2 cores)"
    # Its own lock file pins a webpki-roots the registry no longer serves: fall back to
    # resolving fresh dependencies when --locked fails.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked \
      || cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  if ! command -v wasm-pack >/dev/null || ! wasm-pack --version | grep -q " $WASM_PACK_VERSION\$"; then
    log "installing wasm-pack $WASM_PACK_VERSION (a few minutes on 2 cores)"
    cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked
  fi
  # wasm-opt: the npm binaryen (Debian's 108 produces modules that fail in the browser).
  if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ]; then
    log "npm ci (binaryen's wasm-opt, playwright-core)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

need_browser() {
  local pkgs=()
  command -v chromium >/dev/null || pkgs+=(chromium)
  command -v chromedriver >/dev/null || pkgs+=(chromium-driver)
  [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || pkgs+=(fonts-dejavu-core)
  if [ ${#pkgs[@]} -gt 0 ]; then
    log "apt-get install ${pkgs[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
  fi
}

need_python() {
  if ! python3 -c 'import numpy' 2>/dev/null; then
    log "pip install numpy (for the numpy baseline and fixture script)"
    python3 -m pip install --quiet numpy
  fi
}

case "$what" in
  native) ;;
  wasm) need_wasm ;;
  browser) need_browser ;;
  python) need_python ;;
  all) need_browser; need_wasm ;;
  *) log "unknown target '$what' (native|wasm|browser|python|all)"; exit 2 ;;
esac
