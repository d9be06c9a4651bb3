//! safetensors: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping each
//! tensor's name to its `dtype`, `shape` and `data_offsets` (relative to the data after the
//! header), then the data, which the tensors cover from its first byte to the file's last with
//! no gap and no overlap.
//!
//! The JSON is read here with serde, one tensor at a time, so that an error names the tensor
//! and a name given twice is refused (a map would keep the last silently); the dtypes are the
//! `safetensors` crate's, and natively its own validation
//! ([`safetensors::tensor::Metadata::new`]) runs last over what was read.

use super::model::{
    check_unique, read_dtype, sizes, Elem, FileFormat, TensorInfo, TensorList, READ_DTYPE_NAMES,
};
use super::{load_err, shown};
use crate::error::Result;
use safetensors::tensor::Dtype;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::cell::RefCell;
use std::fmt;

/// The longest header read: the `safetensors` crate's own limit (100 MB).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The most dimensions a tensor may have here (models use up to 5).
const MAX_DIMS: usize = 16;

/// `8 + n`, the header's end, from the first 8 bytes.
pub(crate) fn header_needed(prefix: &[u8], source: &str) -> Result<usize> {
    let Some(len) = prefix.get(..8) else {
        return Ok(8);
    };
    let n = u64::from_le_bytes([
        len[0], len[1], len[2], len[3], len[4], len[5], len[6], len[7],
    ]);
    if n > MAX_HEADER_BYTES {
        return Err(load_err(
            source,
            &format!("the safetensors header length is {n} bytes, more than the {MAX_HEADER_BYTES} the format allows"),
        ));
    }
    Ok(8 + n as usize)
}

/// One tensor's entry as the JSON gives it.
#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Dims,
    data_offsets: (u64, u64),
}

/// A shape of at most [`MAX_DIMS`] sizes (a longer list is refused as it is read, so that a
/// header cannot make a large allocation).
struct Dims(Vec<u64>);

impl<'de> Deserialize<'de> for Dims {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Dims;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a list of at most {MAX_DIMS} sizes")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Dims, A::Error> {
                let mut dims = Vec::new();
                while let Some(d) = seq.next_element::<u64>()? {
                    if dims.len() == MAX_DIMS {
                        return Err(de::Error::custom(format!(
                            "the shape has more than {MAX_DIMS} dimensions"
                        )));
                    }
                    dims.push(d);
                }
                Ok(Dims(dims))
            }
        }
        d.deserialize_seq(V)
    }
}

/// The header's map, read entry by entry; `current` names the entry being read, for messages.
struct Header<'a> {
    current: &'a RefCell<String>,
}

impl<'de> DeserializeSeed<'de> for Header<'_> {
    type Value = Vec<(String, Entry)>;
    fn deserialize<D: de::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Header<'_> {
    type Value = Vec<(String, Entry)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of tensors")
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        let mut metadata = false;
        while let Some(name) = map.next_key::<String>()? {
            if name == "__metadata__" {
                if metadata {
                    return Err(de::Error::custom("'__metadata__' appears twice"));
                }
                metadata = true;
                *self.current.borrow_mut() = name;
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            *self.current.borrow_mut() = name.clone();
            let entry = map.next_value::<Entry>()?;
            out.push((name, entry));
        }
        self.current.borrow_mut().clear();
        Ok(out)
    }
}

/// What quantviz does with a safetensors dtype: decode it ([`super::model::READ_DTYPES`]), or why not.
fn elem_of(dtype: &str) -> std::result::Result<Elem, String> {
    if let Some(elem) = read_dtype(dtype) {
        return Ok(elem);
    }
    Err(match dtype {
        "I8" | "U8" | "I16" | "U16" | "I32" | "U32" | "I64" | "U64" => format!(
            "integers are no weights to quantize ({} are read)",
            READ_DTYPE_NAMES
        ),
        "BOOL" => format!(
            "booleans are no weights to quantize ({} are read)",
            READ_DTYPE_NAMES
        ),
        "C64" => format!("complex numbers are not read ({} are)", READ_DTYPE_NAMES),
        _ => format!(
            "{dtype} is already quantized: quantviz reads unquantized weights ({})",
            READ_DTYPE_NAMES
        ),
    })
}

/// The crate's dtype of a name, where it knows the name.
fn crate_dtype(name: &str) -> Option<Dtype> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

/// The tensors of a safetensors header (`header` at least [`header_needed`] bytes).
pub(crate) fn parse_header(header: &[u8], file_len: u64, source: &str) -> Result<TensorList> {
    let need = header_needed(header, source)?;
    let Some(json) = header.get(8..need) else {
        return Err(load_err(
            source,
            &format!(
                "the safetensors header is cut short: it needs {need} bytes, {} are there",
                header.len()
            ),
        ));
    };
    let text = std::str::from_utf8(json).map_err(|e| {
        load_err(
            source,
            &format!(
                "the safetensors header is not UTF-8 text (byte {} of it)",
                e.valid_up_to()
            ),
        )
    })?;
    let current = RefCell::new(String::new());
    let mut de = serde_json::Deserializer::from_str(text);
    let entries = Header { current: &current }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            let at = current.borrow();
            let whose = if at.is_empty() {
                String::new()
            } else {
                format!("tensor '{}': ", shown(&at, 80))
            };
            load_err(
                source,
                &format!("{whose}the safetensors header is not the JSON the format describes: {e}"),
            )
        })?;
    let data_start = need as u64;
    let mut tensors = Vec::with_capacity(entries.len());
    for (name, e) in &entries {
        let bits = crate_dtype(&e.dtype).map(|d| d.bitsize() as u64);
        let Some(bits) = bits else {
            return Err(load_err(
                source,
                &format!(
                    "tensor '{}': dtype '{}' is not a safetensors dtype (F64, F32, F16, BF16, I8 ... U64, BOOL, F8_E4M3 ...)",
                    shown(name, 80),
                    shown(&e.dtype, 20)
                ),
            ));
        };
        let (params, bytes) = sizes(name, &e.shape.0, bits, source)?;
        let (s, t) = e.data_offsets;
        if t < s {
            return Err(load_err(
                source,
                &format!(
                    "tensor '{}': its data_offsets [{s}, {t}] end before they begin",
                    shown(name, 80)
                ),
            ));
        }
        if t - s != bytes {
            return Err(load_err(
                source,
                &format!(
                    "tensor '{}': {} of shape {:?} is {bytes} bytes, but its data_offsets [{s}, {t}] hold {}",
                    shown(name, 80),
                    e.dtype,
                    e.shape.0,
                    t - s
                ),
            ));
        }
        let (start, end) = match (data_start.checked_add(s), data_start.checked_add(t)) {
            (Some(a), Some(b)) if b <= file_len => (a, b),
            _ => {
                return Err(load_err(
                    source,
                    &format!(
                        "tensor '{}': its data_offsets [{s}, {t}] reach past the file's end (the data section holds {} bytes)",
                        shown(name, 80),
                        file_len.saturating_sub(data_start)
                    ),
                ))
            }
        };
        let elem = elem_of(&e.dtype);
        tensors.push(TensorInfo {
            name: name.clone(),
            dtype: e.dtype.clone(),
            shape: e.shape.0.iter().map(|&d| d as usize).collect(),
            params,
            start,
            end,
            elem: elem.as_ref().ok().copied(),
            refused: elem.err(),
        });
    }
    check_unique(&tensors, source)?;
    check_layout(&tensors, data_start, file_len, source)?;
    Ok(TensorList {
        format: FileFormat::Safetensors,
        tensors,
    })
}

/// The format's layout rule: sorted by offset, the tensors cover the data section from its
/// first byte to the file's end, each starting where the one before ends; then the crate's
/// own validation of the same.
fn check_layout(
    tensors: &[TensorInfo],
    data_start: u64,
    file_len: u64,
    source: &str,
) -> Result<()> {
    let mut order: Vec<&TensorInfo> = tensors.iter().collect();
    order.sort_by_key(|t| (t.start, t.end));
    let mut at = data_start;
    for t in &order {
        if t.start != at {
            let what = if t.start < at {
                "overlaps the tensor before it"
            } else {
                "leaves a gap before it"
            };
            return Err(load_err(
                source,
                &format!(
                    "tensor '{}': its data starts at offset {} but the tensors before it end at {}: it {what} (safetensors packs tensors with no gap or overlap)",
                    shown(&t.name, 80),
                    t.start - data_start,
                    at - data_start
                ),
            ));
        }
        at = t.end;
    }
    if at != file_len {
        return Err(load_err(
            source,
            &format!(
                "the tensors' data ends at byte {at} but the file has {file_len} bytes: {}",
                if at < file_len {
                    "bytes follow that no tensor covers"
                } else {
                    "it is cut short"
                }
            ),
        ));
    }
    crate_validates(&order, data_start, source)
}

/// The `safetensors` crate's own validation over what was read. Not in wasm32: its offsets are
/// `usize`, 32 bits there, so a file past 4 GiB cannot be described to it, and the checks above
/// already refuse every layout it would (the page keeps the crate's code out of its download).
#[cfg(target_arch = "wasm32")]
fn crate_validates(_: &[&TensorInfo], _: u64, _: &str) -> Result<()> {
    Ok(())
}

/// The `safetensors` crate's own validation over what was read.
#[cfg(not(target_arch = "wasm32"))]
fn crate_validates(order: &[&TensorInfo], data_start: u64, source: &str) -> Result<()> {
    let infos: Vec<(String, safetensors::tensor::TensorInfo)> = order
        .iter()
        .filter_map(|t| {
            Some((
                t.name.clone(),
                safetensors::tensor::TensorInfo {
                    dtype: crate_dtype(&t.dtype)?,
                    shape: t.shape.clone(),
                    data_offsets: (
                        (t.start - data_start) as usize,
                        (t.end - data_start) as usize,
                    ),
                },
            ))
        })
        .collect();
    safetensors::tensor::Metadata::new(None, infos)
        .map(|_| ())
        .map_err(|e| {
            load_err(
                source,
                &format!("the safetensors header does not validate: {e}"),
            )
        })
}
