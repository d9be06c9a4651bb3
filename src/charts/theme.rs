//! Colours, sizes and fonts: one theme (light or dark, at the canvas's pixel ratio) for every chart.

use crate::settings::Calibration;
use plotters::prelude::*;

/// How to draw: light or dark colours, and the device pixel ratio that sizes text and lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    /// Dark background with light ink (the page's `prefers-color-scheme: dark`).
    pub dark: bool,
    /// devicePixelRatio: font sizes, stroke widths and margins are multiplied by it.
    pub scale: f64,
}

/// What a chart function returns: `Err` with a message instead of a panic.
pub type ChartResult = Result<(), String>;

impl Default for Theme {
    fn default() -> Self {
        Theme {
            dark: false,
            scale: 1.0,
        }
    }
}

impl Theme {
    /// The background colour every chart fills first.
    pub fn background(&self) -> RGBColor {
        if self.dark {
            RGBColor(0x15, 0x18, 0x1e)
        } else {
            WHITE
        }
    }

    /// The scale, kept finite and within 0.25..=8 so that a bad ratio cannot blow up sizes.
    pub(crate) fn ratio(&self) -> f64 {
        if self.scale.is_finite() {
            self.scale.clamp(0.25, 8.0)
        } else {
            1.0
        }
    }

    /// `v` CSS pixels in device pixels, at least 1.
    pub(crate) fn px(&self, v: f64) -> u32 {
        (v * self.ratio()).round().max(1.0) as u32
    }

    /// `v` CSS pixels in device pixels, signed (for offsets).
    pub(crate) fn off(&self, v: f64) -> i32 {
        (v * self.ratio()).round() as i32
    }

    /// A sans-serif font of `size` CSS pixels in `color`.
    pub(crate) fn font(&self, size: f64, color: RGBColor) -> TextStyle<'static> {
        FontDesc::new(
            FontFamily::SansSerif,
            size * self.ratio(),
            FontStyle::Normal,
        )
        .color(&color)
    }

    /// The colours of this theme.
    pub(crate) fn palette(&self) -> Palette {
        if self.dark {
            Palette {
                bg: self.background(),
                ink: RGBColor(0xe6, 0xed, 0xf3),
                muted: RGBColor(0x9d, 0xa7, 0xb3),
                grid: RGBColor(0x2d, 0x33, 0x3b),
                original: RGBColor(0x6c, 0xa8, 0xe8),
                dequantized: RGBColor(0xff, 0xa6, 0x57),
                clip: RGBColor(0xff, 0x7b, 0x72),
                zero: RGBColor(0x56, 0xd3, 0x64),
                error: RGBColor(0xc2, 0x97, 0xff),
                calibration: [
                    RGBColor(0x6c, 0xa8, 0xe8),
                    RGBColor(0xff, 0xa6, 0x57),
                    RGBColor(0x56, 0xd3, 0x64),
                    RGBColor(0xc2, 0x97, 0xff),
                ],
            }
        } else {
            Palette {
                bg: self.background(),
                ink: RGBColor(0x1f, 0x23, 0x28),
                muted: RGBColor(0x5c, 0x66, 0x70),
                grid: RGBColor(0xe3, 0xe6, 0xea),
                original: RGBColor(0x3a, 0x75, 0xc4),
                dequantized: RGBColor(0xe0, 0x6c, 0x00),
                clip: RGBColor(0xd0, 0x21, 0x2a),
                zero: RGBColor(0x1e, 0x8e, 0x3e),
                error: RGBColor(0x86, 0x3b, 0xc4),
                calibration: [
                    RGBColor(0x3a, 0x75, 0xc4),
                    RGBColor(0xe0, 0x6c, 0x00),
                    RGBColor(0x1e, 0x8e, 0x3e),
                    RGBColor(0x86, 0x3b, 0xc4),
                ],
            }
        }
    }
}

/// The colours of one theme: ink for text, one colour per idea.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Palette {
    pub(crate) bg: RGBColor,
    pub(crate) ink: RGBColor,
    pub(crate) muted: RGBColor,
    pub(crate) grid: RGBColor,
    pub(crate) original: RGBColor,
    pub(crate) dequantized: RGBColor,
    pub(crate) clip: RGBColor,
    pub(crate) zero: RGBColor,
    pub(crate) error: RGBColor,
    /// min-max, percentile, mse, kl.
    pub(crate) calibration: [RGBColor; 4],
}

impl Palette {
    /// The colour of a calibration (the same in the compare and the sweep charts).
    pub(crate) fn of_calibration(&self, c: &Calibration) -> RGBColor {
        match c {
            Calibration::MinMax => self.calibration[0],
            Calibration::Percentile(_) => self.calibration[1],
            Calibration::Mse => self.calibration[2],
            Calibration::Kl => self.calibration[3],
        }
    }
}
