// What the page says of each format in words: the hint under the Format control, what a format
// fixes of the int controls, and what its Scale and Zero point metrics mean. The numbers come
// from the wasm Session's summary; the paragraph on each format is in index.html (#format-about).

/** The block each format fixes, as the Block control shows it (NF4 takes one from the control). */
export const FIXED_BLOCK = {
  'fp8-e4m3': 'tensor',
  'fp8-e5m2': 'tensor',
  mxfp4: '32',
  nvfp4: '64',
  q4_0: '32',
  q4_1: '32',
  q8_0: '32',
  q2_K: '256',
  q3_K: '256',
  q4_K: '256',
  q5_K: '256',
  q6_K: '256',
};

/** The hint under the Format control. */
export const FORMAT_HINT = {
  int: "int: the notebook's integer grid, set by the controls below.",
  nf4: 'nf4: 16 normal quantiles × one absmax per block; pick the block (32 to 4096).',
  'fp8-e4m3': 'fp8-e4m3: 8-bit floats (max 448) under one scale for the tensor.',
  'fp8-e5m2': 'fp8-e5m2: 8-bit floats (max 57344) under one scale for the tensor.',
  mxfp4: 'mxfp4: 4-bit floats × a power of two per 32 values; the block is fixed.',
  nvfp4: 'nvfp4: 4-bit floats × an 8-bit float scale per 16; blocks of 64, fixed.',
  q4_0: 'q4_0: 4-bit codes × an fp16 scale per 32 values; the block is fixed.',
  q4_1: 'q4_1: 4-bit codes × an fp16 scale + min per 32 values; the block is fixed.',
  q8_0: 'q8_0: 8-bit codes × an fp16 scale per 32 values; the block is fixed.',
  q2_K: 'q2_K: 2-bit codes, 4-bit scales and mins per 16, fp16 per 256; fixed.',
  q3_K: 'q3_K: 3-bit codes, 6-bit scales per 16, fp16 per 256; fixed.',
  q4_K: 'q4_K: 4-bit codes, 6-bit scales and mins per 32, fp16 per 256; fixed.',
  q5_K: 'q5_K: 5-bit codes, 6-bit scales and mins per 32, fp16 per 256; fixed.',
  q6_K: 'q6_K: 6-bit codes, 8-bit scales per 16, fp16 per 256; fixed.',
};

const K_SYM = {
  scheme: 'symmetric, sub-block scales',
  calibration: "ggml's least-error search per 16",
  zeroPoint: 'none',
  scale: ['per sub-block', 'a small-integer scale per 16 values under an fp16 d per 256'],
  zero: ['none', 'symmetric sub-blocks'],
};
const K_ASYM = (sub) => ({
  scheme: 'asymmetric, d·sc·q − dmin·m',
  calibration: `ggml's least-error search per ${sub}`,
  zeroPoint: 'a min per sub-block',
  scale: ['per sub-block', `a small-integer scale per ${sub} values under an fp16 d per 256`],
  zero: ['per sub-block', 'a small-integer min per sub-block under an fp16 dmin'],
});
const E2M1_ZERO = ['none', 'E2M1 has 0 and a sign'];

/** What `format` (blocks of `block`, FP8's `tensorScale`) fixes of the int controls and what
 * its Scale and Zero point metrics say: `{ scheme, calibration, zeroPoint, scale: [value,
 * what], zero: [value, what], clipped }`. */
export function formatText(format, block, tensorScale) {
  const t = TEXT[format] ?? (() => null);
  const out = t(block, tensorScale);
  if (out) {
    out.clipped =
      format === 'fp8-e4m3' || format === 'fp8-e5m2' ? "values cast to FP8's largest magnitude" : "values given the grid's largest magnitude";
  }
  return out;
}

const TEXT = {
  nf4: (block) => ({
    scheme: '16 normal quantiles × absmax',
    calibration: `absmax of each block of ${block}`,
    zeroPoint: 'none: 0 is a level',
    scale: ['per block', `a float32 absmax per ${block} values`],
    zero: ['none', "0 is one of NF4's 16 levels"],
  }),
  'fp8-e4m3': (_, s) => fp8(s),
  'fp8-e5m2': (_, s) => fp8(s),
  mxfp4: () => ({
    scheme: 'E2M1 floats × 2^(e − 127)',
    calibration: 'a power of two per 32 from max|v|',
    zeroPoint: 'none',
    scale: ['per block', 'a power of two (E8M0) per 32 values'],
    zero: E2M1_ZERO,
  }),
  nvfp4: () => ({
    scheme: 'E2M1 floats × a UE4M3 scale',
    calibration: 'max|v| / 6 per 16',
    zeroPoint: 'none',
    scale: ['per 16 values', 'a UE4M3 scale per 16 values'],
    zero: E2M1_ZERO,
  }),
  q4_0: () => ({
    scheme: 'symmetric, (q − 8)·d',
    calibration: 'largest magnitude per 32',
    zeroPoint: 'none: 8 is 0',
    scale: ['per block', 'an fp16 d per 32 values'],
    zero: ['none', 'symmetric: code 8 is 0'],
  }),
  q4_1: () => ({
    scheme: 'asymmetric, q·d + m',
    calibration: 'min-max per 32',
    zeroPoint: 'an fp16 min per 32',
    scale: ['per block', 'an fp16 d per 32 values'],
    zero: ['per block', 'an fp16 minimum m per 32 values'],
  }),
  q8_0: () => ({
    scheme: 'symmetric, q·d',
    calibration: 'max|v| / 127 per 32',
    zeroPoint: 'none',
    scale: ['per block', 'an fp16 d per 32 values'],
    zero: ['none', 'symmetric: code 0 is 0'],
  }),
  q2_K: () => K_ASYM(16),
  q3_K: () => ({ ...K_SYM }),
  q4_K: () => K_ASYM(32),
  q5_K: () => K_ASYM(32),
  q6_K: () => ({ ...K_SYM }),
};

function fp8(tensorScale) {
  return {
    scheme: 'a float: sign, exponent, mantissa',
    calibration: "max|x| of the tensor to FP8's largest",
    zeroPoint: 'none',
    scale: [tensorScale === null || tensorScale === undefined ? 'per tensor' : String(Number(tensorScale.toPrecision(6))), 'one float32 scale for the tensor: x·scale is cast to FP8'],
    zero: ['none', 'a float has a sign and 0 exactly'],
  };
}
