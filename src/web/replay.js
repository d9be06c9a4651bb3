// The canvas replay: turns a chart's recorded drawing operations (src/web/canvas.rs) into
// canvas calls, one crossing from wasm to JS per chart instead of one per primitive.

// The operations and their numbers: each is followed in `ops` by its arguments. The Rust side
// is `Op` in src/web/canvas.rs; a test checks that both give every name the same number.
export const OP = Object.freeze({
  FILL_STYLE: 0, // r g b a: the fill style rgba(r,g,b,a)
  STROKE_STYLE: 1, // r g b a width: the stroke style and the line width
  FONT: 2, // the font (the next string)
  ALIGN: 3, // i: textAlign start, end, center
  BASELINE: 4, // i: textBaseline top, middle, bottom
  FILL_RECT: 5, // x y w h
  STROKE_RECT: 6, // x y w h
  STROKE_PATH: 7, // n x0 y0 ...: a new path through the points, stroked
  FILL_PATH: 8, // n x0 y0 ...: a new closed path through the points, filled
  FILL_CIRCLE: 9, // x y r
  STROKE_CIRCLE: 10, // x y r
  TEXT: 11, // x y: the next string, filled at the point
  ROTATED_TEXT: 12, // x y angle: the next string, in a frame moved to the point and turned
});
const ALIGN = ['start', 'end', 'center'];
const BASELINE = ['top', 'middle', 'bottom'];
// The CSS colour of the four numbers at o[i..i + 4], made once per colour (a chart uses a few
// dozen, drawn hundreds of times), by alpha, then rgb.
const colours = new Map();
const rgba = (o, i) => {
  const a = o[i + 3];
  const rgb = (o[i] * 256 + o[i + 1]) * 256 + o[i + 2];
  let byRgb = colours.get(a);
  if (byRgb === undefined) colours.set(a, (byRgb = new Map()));
  let css = byRgb.get(rgb);
  if (css === undefined) byRgb.set(rgb, (css = `rgba(${o[i]},${o[i + 1]},${o[i + 2]},${a})`));
  return css;
};
// Makes the canvas calls that `ops` (see OP) and `texts` (NUL-separated) describe. Runs are
// gathered into one path each:
// - a run of stroked paths with no other op between them (so one style) is one path, stroked
//   once. Where its lines overlap or cross, their anti-aliased edges and translucent colours
//   are blended once instead of twice: a few pixels' shade at grid crossings.
// - a run of filled rectangles is one path, filled once, while each starts right of the one
//   before (histogram bars, left to right): they cannot overlap, and plotters' rectangles lie
//   on whole pixels, so the pixels are the same as one fillRect each.
export function replay(ctx, ops, texts) {
  const strs = texts.split('\0');
  let s = 0;
  // The kind of the path being gathered: 0 none, STROKE_PATH or FILL_RECT; and
  // the right edge of the last rectangle gathered.
  let open = 0;
  let right = 0;
  const flush = () => {
    if (open === OP.STROKE_PATH) ctx.stroke();
    else if (open === OP.FILL_RECT) ctx.fill();
    open = 0;
  };
  try {
    play();
  } finally {
    // What was gathered is drawn even if an op threw (the drawing shows what it got to).
    flush();
  }
  function play() {
    for (let i = 0; i < ops.length; ) {
      const op = ops[i];
      if (op !== open) flush();
      switch (op) {
        case OP.FILL_STYLE:
          ctx.fillStyle = rgba(ops, i + 1);
          i += 5;
          break;
        case OP.STROKE_STYLE:
          ctx.strokeStyle = rgba(ops, i + 1);
          ctx.lineWidth = ops[i + 5];
          i += 6;
          break;
        case OP.FONT:
          ctx.font = strs[s++];
          i += 1;
          break;
        case OP.ALIGN:
          ctx.textAlign = ALIGN[ops[i + 1]];
          i += 2;
          break;
        case OP.BASELINE:
          ctx.textBaseline = BASELINE[ops[i + 1]];
          i += 2;
          break;
        case OP.FILL_RECT:
          // A rectangle that starts left of the last one's right edge could overlap it.
          if (open === OP.FILL_RECT && ops[i + 1] < right) flush();
          if (open !== OP.FILL_RECT) {
            ctx.beginPath();
            open = OP.FILL_RECT;
          }
          ctx.rect(ops[i + 1], ops[i + 2], ops[i + 3], ops[i + 4]);
          right = ops[i + 1] + ops[i + 3];
          i += 5;
          break;
        case OP.STROKE_RECT:
          ctx.strokeRect(ops[i + 1], ops[i + 2], ops[i + 3], ops[i + 4]);
          i += 5;
          break;
        case OP.STROKE_PATH: {
          const n = ops[i + 1];
          if (open !== OP.STROKE_PATH) {
            ctx.beginPath();
            open = OP.STROKE_PATH;
          }
          ctx.moveTo(ops[i + 2], ops[i + 3]);
          for (let k = 1; k < n; k++) ctx.lineTo(ops[i + 2 + 2 * k], ops[i + 3 + 2 * k]);
          i += 2 + 2 * n;
          break;
        }
        case OP.FILL_PATH: {
          const n = ops[i + 1];
          ctx.beginPath();
          ctx.moveTo(ops[i + 2], ops[i + 3]);
          for (let k = 1; k < n; k++) ctx.lineTo(ops[i + 2 + 2 * k], ops[i + 3 + 2 * k]);
          ctx.closePath();
          ctx.fill();
          i += 2 + 2 * n;
          break;
        }
        case OP.FILL_CIRCLE:
        case OP.STROKE_CIRCLE:
          ctx.beginPath();
          ctx.arc(ops[i + 1], ops[i + 2], ops[i + 3], 0, Math.PI * 2);
          if (op === OP.FILL_CIRCLE) ctx.fill();
          else ctx.stroke();
          i += 4;
          break;
        case OP.TEXT:
          ctx.fillText(strs[s++], ops[i + 1], ops[i + 2]);
          i += 3;
          break;
        case OP.ROTATED_TEXT:
          ctx.save();
          ctx.translate(ops[i + 1], ops[i + 2]);
          ctx.rotate(ops[i + 3]);
          ctx.fillText(strs[s++], 0, 0);
          ctx.restore();
          i += 4;
          break;
        default:
          throw new Error(`canvas replay: unknown op ${ops[i]}`);
      }
    }
  }
}

// A bitmap (`bytes`: RGBA, w x h) put at (x, y) in one call: the heatmap's pixels.
export function putRgba(ctx, x, y, w, h, bytes) {
  ctx.putImageData(new ImageData(new Uint8ClampedArray(bytes), w, h), x, y);
}
