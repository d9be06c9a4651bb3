// Numbers as the page writes them: short for tables and metrics, SQNR with its infinity.

/** About 4 significant digits, exponent form for very small or large numbers. */
export function num(x) {
  if (x === null || x === undefined) return '–';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e6) return x.toExponential(3).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(4)));
}

/** An SQNR in dB; null means the reconstruction is exact. */
export function sqnr(db) {
  return db === null || db === undefined ? '∞' : String(Number(db.toFixed(2)));
}

/** A table value, short enough to read: 6 significant digits. */
export function short(x) {
  return x === 0 ? '0' : String(Number(x.toPrecision(6)));
}
