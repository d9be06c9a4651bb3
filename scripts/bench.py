#!/usr/bin/env python3
"""quantviz against the notebook's numpy code, the page in headless Chromium, the wasm size.

Builds nothing (`make bench` builds first). In one session, for N = 1,000,000 and 10,000,000,
runs `target/release/quantviz bench --n N --json` and `scripts/numpy_baseline.py --n N --json`,
interleaved (quantviz, numpy, quantviz, numpy, ...; each figure's best over the rounds), and
prints a Markdown table with the speed-ups against the targets and the machine named; then
`node scripts/bench-page.mjs` (its own table) and the size of pkg/quantviz_bg.wasm.

Usage: scripts/bench.py [--sizes 1000000,10000000] [--rounds 2] [--runs 5] [--skip-page]
"""
import argparse
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUANTVIZ = os.path.join(ROOT, "target", "release", "quantviz")
BASELINE = os.path.join(ROOT, "scripts", "numpy_baseline.py")
PAGE = os.path.join(ROOT, "scripts", "bench-page.mjs")
WASM = os.path.join(ROOT, "pkg", "quantviz_bg.wasm")
FIGURES = ["asym", "sym", "pct", "all3+mse"]
# Natively at 10M: each of asym, sym, pct at least 10x numpy, all3+mse at least 20x.
TARGETS = {"asym": 10.0, "sym": 10.0, "pct": 10.0, "all3+mse": 20.0}
TARGET_N = 10_000_000
MAKEFILE = os.path.join(ROOT, "Makefile")


def wasm_budget():
    """The wasm download users wait for, in gzip -9 bytes: the Makefile's WASM_GZIP_BUDGET,
    which `make size` checks."""
    with open(MAKEFILE) as f:
        for line in f:
            if line.startswith("WASM_GZIP_BUDGET"):
                return int(line.split(":=", 1)[1])
    raise SystemExit("Makefile: no WASM_GZIP_BUDGET line")


def machine():
    model, cores = platform.processor() or platform.machine(), os.cpu_count()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{model}, {cores} cores{mem}, {platform.system()} {platform.release()}"


def numpy_env():
    """numpy's environment: without the OpenBLAS core-type pins (they slow a current numpy;
    unset both together, in this command alone)."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    return json.loads(out.stdout)


def best(a, b):
    """Per figure, the better of two runs' minima and medians."""
    if a is None:
        return b
    return {
        "n": b["n"],
        "ms_min": {k: min(a["ms_min"][k], b["ms_min"][k]) for k in FIGURES},
        "ms_median": {k: min(a["ms_median"][k], b["ms_median"][k]) for k in FIGURES},
    }


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def native(sizes, rounds, runs):
    if not os.access(QUANTVIZ, os.X_OK):
        sys.exit(f"bench: {QUANTVIZ} is missing: run `cargo build --release` (or `make bench`)")
    results = {}
    for n in sizes:
        q = p = None
        for _ in range(rounds):
            q = best(q, run_json([QUANTVIZ, "bench", "--n", str(n), "--runs", str(runs), "--json"]))
            p = best(p, run_json([sys.executable, BASELINE, "--n", str(n), "--runs", str(runs),
                                  "--json"], env=numpy_env()))
        results[n] = (q, p)
    return results


def fmt_ms(x):
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def native_table(results, runs, rounds):
    import numpy  # the baseline already needs it

    lines = [
        f"Machine: {machine()}; load average {load_average():.2f} at the end.",
        f"numpy {numpy.__version__}, Python {platform.python_version()}. Each figure: the minimum"
        f" of {runs} runs in one process, best of {rounds} interleaved rounds (median in"
        " brackets), in ms.",
        "",
        "| n | figure | quantviz ms | numpy ms | speed-up | target (at 10M) |",
        "|---:|---|---:|---:|---:|---|",
    ]
    verdicts = []
    for n, (q, p) in results.items():
        for k in FIGURES:
            qm, pm = q["ms_min"][k], p["ms_min"][k]
            speedup = pm / qm if qm > 0 else float("inf")
            target = ""
            if n == TARGET_N:
                ok = speedup >= TARGETS[k]
                target = f"≥{TARGETS[k]:.0f}×: {'met' if ok else 'NOT met'}"
                verdicts.append(ok)
            lines.append(
                f"| {n:,} | {k} | {fmt_ms(qm)} ({fmt_ms(q['ms_median'][k])}) |"
                f" {fmt_ms(pm)} ({fmt_ms(p['ms_median'][k])}) | {speedup:.1f}× | {target} |"
            )
    return "\n".join(lines), verdicts


def wasm_size():
    budget = wasm_budget()
    if not os.path.exists(WASM):
        return f"pkg/quantviz_bg.wasm: missing (run `make wasm`); gzip budget ≤ {budget:,} bytes"
    with open(WASM, "rb") as f:
        raw = len(f.read())
    # gzip -9 itself, as `make size` runs it: Python's zlib at level 9 gives other bytes.
    gz = len(subprocess.run(["gzip", "-9", "-c", WASM], check=True, capture_output=True).stdout)
    verdict = "within" if gz <= budget else "OVER"
    return (f"pkg/quantviz_bg.wasm: {raw:,} bytes, {gz:,} gzip -9, {verdict} the budget"
            f" of {budget:,} (the Makefile's WASM_GZIP_BUDGET)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,10000000", help="comma-separated value counts")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds per size (default 2)")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure per round (default 5)")
    ap.add_argument("--skip-page", action="store_true", help="skip the headless-Chromium bench")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    print("## quantviz against numpy (native)\n", flush=True)
    table, verdicts = native_table(native(sizes, args.rounds, args.runs), args.runs, args.rounds)
    print(table, flush=True)

    page_ok = True
    if not args.skip_page:
        print("\n## The page in headless Chromium\n", flush=True)
        r = subprocess.run(["node", PAGE, "--warm", "8"], cwd=ROOT)
        page_ok = r.returncode == 0
        if not page_ok:
            print(f"(bench-page.mjs exited with {r.returncode})")

    print("\n## Size\n")
    print(wasm_size())
    if verdicts and not all(verdicts):
        print("\nSome native targets are not met on this machine (see the table).")
    return 0 if page_ok else 1


if __name__ == "__main__":
    sys.exit(main())
