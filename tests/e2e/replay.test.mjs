// The canvas replay (src/web/replay.js, which turns a chart's recorded ops into
// canvas calls), on a context that records its calls: which runs become one path, where a
// path is drawn, and that a throw still draws what was gathered. Needs no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OP, replay } from '../../src/web/replay.js';

/** A 2D context that records each call and style set as [name, ...args]. */
function recorder() {
  const calls = [];
  const ctx = new Proxy(
    {},
    {
      get: (_, name) => (...args) => calls.push([name, ...args]),
      set: (_, name, value) => (calls.push([`set ${name}`, value]), true),
    },
  );
  return { ctx, calls, names: () => calls.map((c) => c[0]) };
}

const fill = (r, g, b, a) => [OP.FILL_STYLE, r, g, b, a];
const stroke = (r, g, b, a, w) => [OP.STROKE_STYLE, r, g, b, a, w];
const rect = (x, y, w, h) => [OP.FILL_RECT, x, y, w, h];
const line = (...pts) => [OP.STROKE_PATH, pts.length / 2, ...pts];

test('a run of lines in one style is one path, stroked once', () => {
  const r = recorder();
  replay(r.ctx, [...stroke(0, 0, 0, 1, 1), ...line(0, 0, 5, 5), ...line(1, 0, 1, 9, 4, 9)], '');
  assert.deepEqual(r.names(), [
    'set strokeStyle', 'set lineWidth', 'beginPath', 'moveTo', 'lineTo', 'moveTo', 'lineTo',
    'lineTo', 'stroke',
  ]);
  assert.deepEqual(r.calls[0], ['set strokeStyle', 'rgba(0,0,0,1)']);
});

test('a style change or another op between lines draws what was gathered first', () => {
  const r = recorder();
  const ops = [
    ...stroke(0, 0, 0, 1, 1), ...line(0, 0, 5, 5),
    ...stroke(9, 9, 9, 0.5, 2), ...line(1, 1, 2, 2),
    OP.FILL_CIRCLE, 3, 3, 1, ...line(4, 4, 6, 6),
  ];
  replay(r.ctx, ops, '');
  assert.deepEqual(r.names().filter((n) => ['stroke', 'fill', 'set strokeStyle', 'arc'].includes(n)), [
    'set strokeStyle', 'stroke', 'set strokeStyle', 'stroke', 'arc', 'fill', 'stroke',
  ]);
});

test('rectangles left to right are one path; one that starts further left begins another', () => {
  const r = recorder();
  replay(r.ctx, [...fill(1, 2, 3, 0.5), ...rect(0, 0, 2, 5), ...rect(2, 1, 2, 4), ...rect(5, 0, 1, 1), ...rect(1, 0, 3, 3)], '');
  assert.deepEqual(r.names(), ['set fillStyle', 'beginPath', 'rect', 'rect', 'rect', 'fill', 'beginPath', 'rect', 'fill']);
  assert.deepEqual(r.calls[0], ['set fillStyle', 'rgba(1,2,3,0.5)']);
});

test('a filled path between rectangles is drawn on its own, after them', () => {
  const r = recorder();
  replay(r.ctx, [...fill(0, 0, 0, 1), ...rect(0, 0, 1, 1), OP.FILL_PATH, 3, 0, 0, 1, 0, 0, 1, ...rect(4, 0, 1, 1)], '');
  assert.deepEqual(r.names(), [
    'set fillStyle', 'beginPath', 'rect', 'fill', 'beginPath', 'moveTo', 'lineTo', 'lineTo',
    'closePath', 'fill', 'beginPath', 'rect', 'fill',
  ]);
});

test('an op that throws still leaves what was gathered drawn', () => {
  const r = recorder();
  assert.throws(() => replay(r.ctx, [...stroke(0, 0, 0, 1, 1), ...line(0, 0, 1, 1), 99], ''), /unknown op 99/);
  assert.equal(r.names().at(-1), 'stroke');
});

test('colours: the same numbers give the same string, other alphas other strings', () => {
  const r = recorder();
  replay(r.ctx, [...fill(255, 255, 255, 0.25), ...fill(255, 255, 255, 0.25 + 1e-12), ...fill(0, 0, 1, 2.5), ...fill(0, 0, 2, 0.5)], '');
  assert.deepEqual(
    r.calls.map((c) => c[1]),
    ['rgba(255,255,255,0.25)', 'rgba(255,255,255,0.250000000001)', 'rgba(0,0,1,2.5)', 'rgba(0,0,2,0.5)'],
  );
});

test("the OP table names the same numbers as canvas.rs's Op", () => {
  const rust = readFileSync(fileURLToPath(new URL('../../src/web/canvas.rs', import.meta.url)), 'utf8');
  const body = rust.slice(rust.indexOf('enum Op {'), rust.indexOf('}', rust.indexOf('enum Op {')));
  const ops = [...body.matchAll(/^\s+([A-Za-z]+) = (\d+),/gm)].map(([, name, n]) => [
    name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase(),
    Number(n),
  ]);
  assert.ok(ops.length >= 13, `read ${ops.length} ops from canvas.rs`);
  assert.deepEqual(Object.fromEntries(ops), { ...OP });
});
