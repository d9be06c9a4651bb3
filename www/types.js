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
 * @property {FormatInfo | null} format The format's run where a format other than int is chosen
 *   (then `formulas`, `table` and `conclusion` are the format's; `result` and `compare` stay the
 *   int scheme's); null with int.
 * @property {object | null} granular The run at the granularity and rotation (`format`,
 *   `units`, `bits_per_weight`, `rotate_block`, `scales` (the int units' smallest and largest
 *   scale), `zero_point` (the first unit's),
 *   `metrics`, `rotated_basis`), where the settings ask for one; null at tensor without
 *   rotation. The metric cards then show it.
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
 * @property {string} format `int`, or the format's name (`nf4`, `fp8-e4m3`, `q4_K`, ...).
 * @property {number | null} block The block asked for (NF4's); null for the format's own.
 * @property {[number, number] | null} shape `[rows, cols]` of 2-D data; null for 1-D.
 * @property {number} row_spread The spread of the rows' magnitudes (0: none).
 * @property {string | null} outlier_channels `K:F`, or null.
 * @property {string} granularity `tensor`, `channel` or `group:G`.
 * @property {string} rotate `none`, `hadamard` or `hadamard:K`.
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
 * @property {[number, number] | null} shape `[rows, cols]` of 2-D data (generated with a shape, or
 *   a file's 2-D tensor); null for 1-D.
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

/**
 * A format's run (`Summary.format`).
 * @typedef {object} FormatInfo
 * @property {string} format The format's name.
 * @property {number | null} block Values per block; null for one scale per tensor (FP8).
 * @property {number} blocks How many blocks (1 for one scale per tensor).
 * @property {number} bits_per_weight Bits per weight, the scales included.
 * @property {number} cosine_similarity Σ x·x̂ / sqrt(Σ x² · Σ x̂²).
 * @property {number} relative_error RMS error / RMS value.
 * @property {number} compression_vs_f32 32 / bits per weight.
 * @property {number} compression_vs_f16 16 / bits per weight.
 * @property {number} code_bits Bits per code.
 * @property {number} sub_block Values per sub-block with its own scale (the block where there is none).
 * @property {Metrics} metrics MSE, SQNR, max error against the original values; `clipped` is
 *   the count of values given the format's largest magnitude.
 * @property {number | null} tensor_scale FP8's float32 scale for the tensor; null for the block formats.
 * @property {Budget} budget What one block stores.
 */

/**
 * What one block of a format stores.
 * @typedef {object} Budget
 * @property {number} values Values per block (the value count for a per-tensor scale).
 * @property {BudgetPart[]} parts Its parts, codes first.
 * @property {number} total_bits The block's bits.
 * @property {number} bits_per_weight total_bits / values.
 */

/**
 * One part of what a block stores: `count` fields of `bits_each` bits.
 * @typedef {object} BudgetPart
 * @property {string} label What it is: `codes`, `fp16 d`, `sub-block scales`, ...
 * @property {'code' | 'scale' | 'min'} kind Which kind of bits (the bar's colour).
 * @property {number} count How many.
 * @property {number} bits_each Bits each.
 * @property {number} bits count · bits_each.
 */

/**
 * Every block's scale and error, as the blocks chart plots them (`Session.strip`).
 * @typedef {object} Strip
 * @property {number} count How many blocks.
 * @property {number} block Values per block.
 * @property {number} per_entry Blocks per entry of `scale` and `mse` (at most 2048 entries).
 * @property {number[]} scale Each entry's largest block scale (a block's largest step).
 * @property {number[]} mse Each entry's largest block MSE.
 * @property {number} top The block with the largest scale.
 */

/**
 * One block of a format's run, for the inspector (`Session.block(index)`).
 * @typedef {object} BlockInfo
 * @property {string} format The format's name.
 * @property {number} index The block.
 * @property {number} blocks How many blocks.
 * @property {number} start The block's first value's index.
 * @property {number} len How many values it has.
 * @property {number} scale Its largest step, as the strip plots it.
 * @property {number} mse Its MSE.
 * @property {number} max_abs_error Its largest |x − x̂|.
 * @property {StoredField[]} stored Its stored scale, field by field, in its own encoding.
 * @property {SubBlock[]} subs Its sub-blocks' scales (K-quants, NVFP4); empty where the block has one.
 * @property {BlockRow[]} rows Its first values (at most 32).
 * @property {number[]} levels The values the codes of its first sub-block stand for, ascending.
 */

/**
 * One field of a block's stored scale.
 * @typedef {object} StoredField
 * @property {string} name `d`, `m`, `dmin`, `e`, `s[2]`, `absmax`, `scale`.
 * @property {string} encoding `fp16`, `E8M0`, `UE4M3`, `float32`.
 * @property {string} hex The stored bits in hex: `0x2B5E`.
 * @property {number} value Their value.
 * @property {string | null} note How the value follows from the bits, where it is not plain.
 */

/**
 * One sub-block's stored scale (and min) and what they make.
 * @typedef {object} SubBlock
 * @property {number} index The sub-block.
 * @property {number} scale_q The stored scale integer (Q6_K's signed) or byte (NVFP4's).
 * @property {number | null} min_q The stored min integer, where the format has mins.
 * @property {number} step What its codes are multiplied by.
 * @property {number | null} offset What is subtracted (K-quants' dmin·m), where there is one.
 */

/**
 * One value of an inspected block.
 * @typedef {object} BlockRow
 * @property {number} index The value's position in the data.
 * @property {number} original The value.
 * @property {number} code Its code.
 * @property {number} dequantized The code's value in its block.
 * @property {number} error original − dequantized.
 * @property {string} reconstruction The dequantization written out with the block's numbers.
 */

/**
 * One row of the comparison of every format (`Session.formatsTable`).
 * @typedef {object} FormatTableRow
 * @property {string} label `q4_K`, `int4 asymmetric`, ...
 * @property {string} format `int` or the format's name.
 * @property {number | null} bits The int scheme's width; null for a format.
 * @property {string | null} scheme The int scheme's scheme; null for a format.
 * @property {number} bits_per_weight Bits per weight, the scales included.
 * @property {number | null} mse Mean squared error; null where the format cannot take the data.
 * @property {number | null} sqnr_db SQNR in dB; null when exact or where it cannot.
 * @property {number | null} max_abs_error The largest |x − x̂|; null where it cannot.
 * @property {string | null} error Why the format cannot take the data, where it cannot.
 * @property {boolean} front On the lower-left front: no other row has both fewer bits and less error.
 * @property {boolean} current Whether this is the current choice.
 */

/**
 * The Model section (`Session.modelJson`): the network quantized with the current settings.
 * @typedef {object} ModelSection
 * @property {string} float_text The float32 accuracy, `96.67 % (348 / 360)`.
 * @property {string | null} accuracy_text The quantized accuracy; null where the settings cannot quantize the network.
 * @property {string | null} error Why the settings cannot quantize the network, or null.
 * @property {number} flipped_count How many test images' answers changed.
 * @property {ModelFlip[]} flips The first of them (at most 40).
 * @property {{weights: string, n_test: number, bits_per_weight: number, layers: ModelLayer[]} | null} model The evaluation.
 */

/**
 * A test image whose answer changed.
 * @typedef {object} ModelFlip
 * @property {number} index Its place in the test set.
 * @property {number} label Its true digit.
 * @property {number} float What the float32 network says.
 * @property {number} predicted What the quantized network says.
 * @property {number} width Pixels (64: 8 by 8).
 * @property {number[]} grey Its pixels row by row, 255 white to 0 black.
 */

/**
 * One layer's weight error.
 * @typedef {object} ModelLayer
 * @property {string} name `fc1`, `fc2`.
 * @property {number} n Weights.
 * @property {number | null} mse Mean squared error.
 * @property {number | null} sqnr_db SQNR in dB; null when exact.
 * @property {number} bits_per_weight Bits per weight, scales included.
 */

export {};
