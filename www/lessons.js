// The guided tour (`?lesson=1` ... `?lesson=N`): each step sets the controls through a query, as a
// link would, and says in a paragraph what to notice. The page stays live: the learner can change
// anything, and the step stays open until they leave the tour. Only the words and the queries live
// here; every number the step talks about is the core's, on screen.
import { ui } from './elements.js';
import { setProp, setText } from './dom.js';
import { state } from './state.js';

/** The outlier lessons' data: a normal sample with one value far out. */
const OUTLIER = 'dist=normal:0,1&n=100000&seed=7&outliers=1&outlier_value=40';
/** A weight matrix whose rows differ in scale, as real layers do. */
const MATRIX = 'dist=normal:0,1&shape=256,512&seed=7&row_spread=1.2';

/**
 * One step: its title, what to notice, the query that sets the controls, and the element to
 * bring into view (the chart the paragraph is about).
 * @typedef {{ title: string, text: string, query: string, focus: string }} Lesson
 */

/** @type {Lesson[]} */
export const LESSONS = [
  {
    title: 'Min-max: the notebook’s quantizer',
    text:
      'The notebook’s own numbers at 8 bits. Min-max takes the smallest and largest value as the ' +
      'clip range and cuts it into 2^b − 1 equal steps: the scale. Every value lands on the nearest ' +
      'of the 256 levels, so the error is at most half a step. Read the scale, the zero point and ' +
      'the MSE under "The numbers"; the histogram shows the data and the levels it became.',
    query: 'preset=notebook-minmax',
    focus: 'numbers-title',
  },
  {
    title: 'One outlier ruins the scale',
    text:
      'The same kind of data with one value at 40 standard deviations, now at 4 bits. Min-max must ' +
      'reach the outlier, so its 16 levels stretch over [−4, 40]: almost every ordinary value falls ' +
      'on the two or three levels near zero. Look at the histogram and at the SQNR: one value in ' +
      'a hundred thousand decides the error of all the others.',
    query: `${OUTLIER}&bits=4&scheme=asymmetric&calibration=minmax`,
    focus: 'chart-histogram',
  },
  {
    title: 'Percentile clipping',
    text:
      'Clip at the 99.99th percentile instead of the maximum: the outlier is clipped (counted under ' +
      '"Clipped") and the levels go back to where the data is. The error of the many falls; the ' +
      'error of the one clipped value is large. Try 99.9 or 99 in the Percentile field and watch ' +
      'the trade: more clipped values, finer steps.',
    query: `${OUTLIER}&bits=4&scheme=asymmetric&calibration=percentile:99.99`,
    focus: 'chart-histogram',
  },
  {
    title: 'Least-error clipping',
    text:
      'Instead of guessing a percentile, search the clip range that gives the least squared error ' +
      'on this data (calibration mse). The chart of every scheme and calibration puts the three ' +
      'side by side on the same values; the least-error range is never worse than min-max.',
    query: `${OUTLIER}&bits=4&scheme=asymmetric&calibration=mse`,
    focus: 'chart-compare',
  },
  {
    title: 'Bits against error: about 6 dB a bit',
    text:
      'Each extra bit doubles the levels and halves the step, so the error’s power falls by four: ' +
      '10·log10(4) ≈ 6.02 dB of SQNR per bit. The sweep draws the error at every width from 2 to ' +
      '16 bits; move the Bits slider and the current width moves along its line.',
    query: 'dist=normal:0,1&n=100000&seed=7&bits=6&scheme=symmetric&calibration=minmax',
    focus: 'chart-sweep',
  },
  {
    title: 'Per-channel and group scales',
    text:
      'A weight matrix: 256 rows whose magnitudes differ, as the output channels of a layer do. One ' +
      'scale for the whole tensor is set by the largest row, so the quiet rows get few levels. One ' +
      'scale per row (channel) or per group of 32 values fits each part; the scales chart shows how ' +
      'much they differ, and the comparison chart what each extra scale costs in bits per weight. ' +
      'Switch Granularity between tensor, channel and group.',
    query: `${MATRIX}&bits=4&scheme=symmetric&calibration=minmax&granularity=channel`,
    focus: 'chart-heatmap',
  },
  {
    title: 'The 4-bit formats side by side',
    text:
      'What ships: llama.cpp’s Q4_0 (one fp16 scale per 32 values), Q4_K (super-blocks with ' +
      'quantized sub-scales), MXFP4 (4-bit floats sharing a power of two), NVFP4, QLoRA’s NF4 ' +
      '(levels at the quantiles of a normal). The chart plots each one’s error against the bits it ' +
      'really stores, scales included; the lower-left front is where to be. Pick a format to ' +
      'inspect its blocks.',
    query: 'dist=normal:0,1&n=65536&seed=7&format=nf4',
    focus: 'chart-formats',
  },
  {
    title: 'Rotation spreads an outlier',
    text:
      'A Hadamard rotation mixes each block of values before quantizing and unmixes them after. ' +
      'An outlier becomes many small values, the block’s scale shrinks, and every value gets finer ' +
      'steps; the rotation is orthonormal, so nothing is lost but rounding. Compare the error with ' +
      'Rotate none and hadamard.',
    query: `${OUTLIER.replace('n=100000', 'n=65536')}&format=q4_0&rotate=hadamard:32`,
    focus: 'chart-histogram',
  },
  {
    title: 'Does the model still work?',
    text:
      'A small network that reads handwritten digits, its weights quantized with these settings. ' +
      'At 8 bits it is as accurate as in float; step Bits down and watch the accuracy and the ' +
      'images whose answer changed. Down to 3 or 4 bits it barely moves; at 2 bits it collapses, ' +
      'less with one scale per output channel than with one per tensor (switch Granularity to ' +
      'compare). The accuracy chart puts every width and format side by side.',
    query: `${MATRIX}&bits=4&scheme=asymmetric&calibration=minmax&granularity=channel`,
    focus: 'model-title',
  },
];

/** The step (0-based) the page's URL asks for, or null: `lesson=3` is the third step. */
export function lessonInQuery(query) {
  const v = new URLSearchParams(query).get('lesson');
  if (v === null) return null;
  const k = Number(v);
  return Number.isInteger(k) && k >= 1 && k <= LESSONS.length ? k - 1 : -1;
}

/** `query` without its `lesson` key (the core does not know it). */
export function withoutLesson(query) {
  const p = new URLSearchParams(query);
  p.delete('lesson');
  return p.toString();
}

/** `query` with the open step's `lesson` key in front, for the address bar. */
export function withLesson(query) {
  return state.lesson === null ? query : `lesson=${state.lesson + 1}&${query}`;
}

/** Shows step `k` (0-based) in the lesson panel; the caller runs its query. */
export function showLesson(k) {
  state.lesson = k;
  const l = LESSONS[k];
  setProp(ui.lesson, 'hidden', false);
  setText(ui.lessonStep, `Step ${k + 1} of ${LESSONS.length}`);
  setText(ui.lessonTitle, l.title);
  setText(ui.lessonText, l.text);
  setProp(ui.lessonPrev, 'disabled', k === 0);
  setProp(ui.lessonNext, 'disabled', k === LESSONS.length - 1);
}

/** Closes the tour: the panel goes, the view stays. */
export function closeLesson() {
  state.lesson = null;
  setProp(ui.lesson, 'hidden', true);
}

/** Brings step `k`'s chart into view (after its update has drawn). */
export function focusLesson(k) {
  const el = document.getElementById(LESSONS[k].focus);
  const box = el && el.closest('section, .card');
  if (box && !box.hidden) box.scrollIntoView({ block: 'start' });
}
