//! What several test suites share: reading pixels of a drawn chart, writing a safetensors file.
// Each test crate that says `mod common;` compiles this file; not every one uses every helper.
#![allow(dead_code)]

/// How many strongly coloured pixels (not grey ink, grid or background) lie in the lower middle
/// of the plot area, where no title, legend or axis label is drawn: a chart whose data was
/// drawn has many, an empty one none. `channels` is 3 for RGB, 4 for RGBA.
pub fn coloured_in_plot(pixels: &[u8], w: u32, h: u32, channels: usize) -> usize {
    let (x0, x1) = (w as usize * 15 / 100, w as usize * 95 / 100);
    let (y0, y1) = (h as usize * 45 / 100, h as usize * 92 / 100);
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = (y * w as usize + x) * channels;
            let (r, g, b) = (pixels[i] as i32, pixels[i + 1] as i32, pixels[i + 2] as i32);
            if r.max(g).max(b) - r.min(g).min(b) > 40 {
                n += 1;
            }
        }
    }
    n
}

/// Safetensors bytes of `(name, dtype, shape, data)`, written by hand as the format says.
pub fn safetensors(tensors: &[(&str, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let mut header = Vec::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        header.push(format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            dims.join(","),
            data.len(),
            data.len() + bytes.len()
        ));
        data.extend_from_slice(bytes);
    }
    let mut text = format!("{{{}}}", header.join(",")).into_bytes();
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(data);
    out
}

/// `.npy` (version 1.0) bytes of float32 `data` (little-endian bytes) of `shape`, the header
/// padded as numpy pads it (to a multiple of 64 with the preamble, ending in a newline).
pub fn npy_f32(shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let dims = match dims.len() {
        1 => format!("{},", dims[0]),
        _ => dims.join(", "),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    npy.extend_from_slice(data);
    npy
}
