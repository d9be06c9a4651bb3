// JSDoc types of the JSON the wasm Session returns; nothing here runs.
// The Rust side writes it (src/present/json.rs, `summary_json`); a number that is not finite there
// (an exact reconstruction's infinite SQNR) comes as null.

/**
 * What `Session.update(query)` and `Session.load(bytes, name, query)` return, parsed: everything
 * the page shows in numbers and words for one state.
 * @typedef {object} Summary
 * @property {string} query The state's canonical query string, as the URL spells it.
 * @property {Settings} settings The settings, with the names the URL uses.
 * @property {DataInfo} data Where the values come from, how many, and their range.
 * @property {Result} result The current settings' parameters and errors.
 * @property {string[]} formulas The board: the formulas with this state's numbers in them.
 * @property {TableRow[]} table The first values, quantized.
 * @property {CompareRow[]} compare Every scheme and calibration on the same data and bits.
 * @property {string} conclusion What the numbers say, in a few sentences.
 */

/**
 * The settings of a state, with the URL's keys and spellings.
 * @typedef {object} Settings
 * @property {string} dist The distribution with its parameters, `normal:0,1`.
 * @property {number} n How many values.
 * @property {string} seed The generator's seed (a string: it may exceed a double's integers).
 * @property {number} outliers How many outliers are added.
 * @property {number} outlier_value The outliers' value.
 * @property {number} bits The bit width.
 * @property {'asymmetric' | 'symmetric'} scheme The scheme.
 * @property {string} calibration `minmax`, `percentile:P` or `mse`.
 * @property {'raw' | 'include-zero'} zero_point The zero-point policy.
 * @property {'notebook-minmax' | 'notebook-percentile' | null} preset The notebook preset, if any.
 */

/**
 * The data of a state.
 * @typedef {object} DataInfo
 * @property {string} label What the values are: how they were generated, or the file's name.
 * @property {'generated' | 'preset' | 'file'} source Where the values come from.
 * @property {number} n How many values.
 * @property {number} min The smallest value.
 * @property {number} max The largest value.
 * @property {number} absmax The largest magnitude.
 * @property {number} outliers How many of the values are outliers.
 * @property {string | null} note What the file's reader says the user should know (a skipped header line).
 */

/**
 * Error metrics over some values.
 * @typedef {object} Metrics
 * @property {number} n How many values.
 * @property {number} mse Mean squared error.
 * @property {number | null} sqnr_db Signal to quantization noise in dB; null when exact.
 * @property {number} max_abs_error The largest absolute error.
 * @property {number} clipped How many values lay outside the clip range.
 */

/**
 * The current settings' run: its parameters and metrics.
 * @typedef {object} Result
 * @property {number} n How many values.
 * @property {number} bits The bit width.
 * @property {string} scheme The scheme.
 * @property {string} calibration The calibration, as in the URL.
 * @property {string} zero_point_policy The zero-point policy, as in the URL.
 * @property {number} scale The step between two levels.
 * @property {number} zero_point The code that stands for real 0.
 * @property {number} qmin The smallest code.
 * @property {number} qmax The largest code.
 * @property {number} clip_min The calibrated range's low end.
 * @property {number} clip_max The calibrated range's high end.
 * @property {number} level_min The value of the smallest code.
 * @property {number} level_max The value of the largest code.
 * @property {number} mse Mean squared error.
 * @property {number | null} sqnr_db Signal to quantization noise in dB; null when exact.
 * @property {number} max_abs_error The largest absolute error.
 * @property {number} clipped How many values lay outside the clip range.
 * @property {Metrics | null} inliers The same metrics without the outliers; null without outliers.
 */

/**
 * One of the first values, quantized.
 * @typedef {object} TableRow
 * @property {number} index The value's position in the data.
 * @property {number} original The value.
 * @property {number} code Its code.
 * @property {number} dequantized The code's value.
 * @property {number} error original − dequantized.
 */

/**
 * One scheme and calibration in the comparison.
 * @typedef {object} CompareRow
 * @property {string} scheme The scheme.
 * @property {string} calibration The calibration, as in the URL.
 * @property {string} label The two in words, `asymmetric min-max`.
 * @property {number} scale The step between two levels.
 * @property {number} zero_point The code that stands for real 0.
 * @property {number} clip_min The calibrated range's low end.
 * @property {number} clip_max The calibrated range's high end.
 * @property {number} mse Mean squared error.
 * @property {number | null} sqnr_db Signal to quantization noise in dB; null when exact.
 * @property {number} max_abs_error The largest absolute error.
 * @property {number} clipped How many values lay outside the clip range.
 * @property {number | null} inliers_mse The MSE without the outliers; null without outliers.
 * @property {number | null} inliers_sqnr_db The SQNR without the outliers; null without outliers
 *   or when exact.
 * @property {boolean} current Whether this is the current settings' run.
 */

export {};
