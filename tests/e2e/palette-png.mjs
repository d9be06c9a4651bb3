// Re-encodes a screenshot as an indexed-colour PNG (at most 256 colours, median cut), so that
// the copy in docs/ stays small: a page of flat colours and anti-aliased text loses nothing a
// reader would notice, and the file shrinks to about a third.
import { inflateSync, deflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG buffer (8-bit RGB or RGBA, not interlaced) → indexed PNG buffer. */
export function toPalettePng(png) {
  const { width, height, rgb } = decode(png);
  const { palette, index } = quantize(rgb, 256);
  return encode(width, height, palette, index);
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG to packed RGB (alpha dropped). */
function decode(png) {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colorType, , , interlace] = data.subarray(8, 13);
      if (depth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colorType}, interlace ${interlace}`);
      }
      channels = colorType === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const rgb = new Uint8Array(width * height * 3);
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      let v = line[i];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) v += paeth(a, b, c);
      cur[i] = v & 255;
    }
    for (let x = 0; x < width; x++) {
      rgb.set(cur.subarray(x * channels, x * channels + 3), (y * width + x) * 3);
    }
    [prev, cur] = [cur, prev];
  }
  return { width, height, rgb };
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Median cut over the distinct colours, weighted by how often each occurs. */
function quantize(rgb, size) {
  const counts = new Map();
  for (let i = 0; i < rgb.length; i += 3) {
    const key = (rgb[i] << 16) | (rgb[i + 1] << 8) | rgb[i + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const colors = [...counts].map(([key, n]) => [(key >> 16) & 255, (key >> 8) & 255, key & 255, n]);
  let boxes = [colors];
  while (boxes.length < size) {
    let best = -1;
    let bestScore = 0;
    boxes.forEach((box, i) => {
      if (box.length < 2) return;
      const score = widest(box).range * Math.sqrt(box.reduce((s, c) => s + c[3], 0));
      if (score > bestScore) [best, bestScore] = [i, score];
    });
    if (best < 0) break;
    const box = boxes[best];
    const { channel } = widest(box);
    box.sort((p, q) => p[channel] - q[channel]);
    const total = box.reduce((s, c) => s + c[3], 0);
    let acc = 0;
    let cut = 1;
    for (; cut < box.length - 1; cut++) {
      acc += box[cut - 1][3];
      if (acc >= total / 2) break;
    }
    boxes.splice(best, 1, box.slice(0, cut), box.slice(cut));
  }
  const palette = boxes.map((box) => {
    const n = box.reduce((s, c) => s + c[3], 0);
    return [0, 1, 2].map((ch) => Math.round(box.reduce((s, c) => s + c[ch] * c[3], 0) / n));
  });
  const nearest = new Map();
  for (const [r, g, b] of colors) {
    let bi = 0;
    let bd = Infinity;
    palette.forEach(([pr, pg, pb], i) => {
      const d = (r - pr) ** 2 + (g - pg) ** 2 + (b - pb) ** 2;
      if (d < bd) [bi, bd] = [i, d];
    });
    nearest.set((r << 16) | (g << 8) | b, bi);
  }
  const index = new Uint8Array(rgb.length / 3);
  for (let i = 0, p = 0; i < rgb.length; i += 3, p++) {
    index[p] = nearest.get((rgb[i] << 16) | (rgb[i + 1] << 8) | rgb[i + 2]);
  }
  return { palette, index };
}

function widest(box) {
  let channel = 0;
  let range = -1;
  for (let ch = 0; ch < 3; ch++) {
    let lo = 255;
    let hi = 0;
    for (const c of box) {
      if (c[ch] < lo) lo = c[ch];
      if (c[ch] > hi) hi = c[ch];
    }
    if (hi - lo > range) [channel, range] = [ch, hi - lo];
  }
  return { channel, range };
}

function encode(width, height, palette, index) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8);
  const rows = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    rows[y * (width + 1)] = 0;
    rows.set(index.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('PLTE', Buffer.from(palette.flat())),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
