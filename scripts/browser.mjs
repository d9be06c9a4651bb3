// The page in headless Chromium, for the end-to-end tests and the page benchmark: the repo's dev
// server (scripts/serve.py) on a free loopback port and Debian's /usr/bin/chromium, launched with
// the flags this closed network needs (without the networking ones Chromium floods it).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Chromium's flags: no sandbox (root), no GPU, no background traffic to other hosts. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** More Chromium flags for an experiment (say `--js-flags=--no-wasm-dynamic-tiering`, to see
 * what V8's baseline code costs), from QUANTVIZ_CHROMIUM_FLAGS split at whitespace, so no flag's
 * value can hold a space; none by default. The benchmarks print them when there are any. */
export function extraFlags() {
  return (process.env.QUANTVIZ_CHROMIUM_FLAGS ?? '').split(/\s+/).filter(Boolean);
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Waits up to 15 s for the dev server to answer `url`. */
async function waitForServer(url) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the dev server did not answer at ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the dev server and Chromium; returns `{ origin, browser, stop }`. */
export async function startPage() {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = spawn('python3', ['scripts/serve.py', String(port)], { cwd: ROOT, stdio: 'ignore' });
  let browser;
  const stop = async () => {
    await browser?.close();
    server.kill();
  };
  try {
    await waitForServer(`${origin}/index.html`);
    const args = [...CHROMIUM_ARGS, ...extraFlags()];
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args });
  } catch (e) {
    await stop();
    throw e;
  }
  return { origin, browser, stop };
}
