//! Model files on the page: the session holds one file's tensor list (parsed from its header
//! alone) and loads one tensor at a time from exactly its bytes, which the page reads with
//! `File.slice`. The page asks [`Session::model_header_needed`] how many leading bytes to
//! read, [`Session::model_open`] for the list, [`Session::model_range`] for the bytes of the
//! tensor picked (refusing, before anything is read, a tensor it cannot take), and hands those
//! bytes to [`Session::model_tensor`].

use super::Session;
use crate::data::generate::Dataset;
use crate::data::load::model::{
    check_page_size, decode_tensor, header_needed, parse_header, rows_cols, usable, TensorInfo,
    TensorList,
};
use crate::data::load::shown;
use crate::error::{Error, Result};
use crate::settings::Settings;
use serde::Serialize;

/// A model file's tensor list, as the session keeps it between picks.
#[derive(Debug, Clone)]
pub(crate) struct OpenModel {
    /// The file's name, as every message names it.
    pub(crate) name: String,
    /// Its tensors, from its header.
    pub(crate) list: TensorList,
}

/// One row of the tensor list the page shows.
#[derive(Serialize)]
struct TensorRow<'a> {
    index: usize,
    name: &'a str,
    dtype: &'a str,
    shape: &'a [usize],
    params: u64,
    /// Its bytes in the file, `[start, end)`.
    start: u64,
    end: u64,
    /// Why the page cannot load it (a dtype it does not read, or too many values), or null.
    refused: Option<String>,
}

/// The tensor list as JSON: the file, its format, its parameters and every tensor.
#[derive(Serialize)]
struct ListJson<'a> {
    file: &'a str,
    format: &'static str,
    bytes: u64,
    params: u64,
    tensors: Vec<TensorRow<'a>>,
}

/// Why the page cannot load `info`, or `None` where it can: the reader's reason for its dtype
/// (the row shows the name and dtype beside it), or its size.
fn page_refusal(info: &TensorInfo, source: &str) -> Option<String> {
    if info.elem.is_none() {
        return Some(
            info.refused
                .clone()
                .unwrap_or_else(|| "quantviz cannot read it".into()),
        );
    }
    check_page_size(info, source).err().map(|e| match e {
        // The row names the file and tensor already: only what is wrong.
        Error::Load { message, .. } => message,
        other => other.to_string(),
    })
}

/// The 2-D layout of a safetensors or GGUF tensor, on the page as on the command line
/// ([`rows_cols`]): its own rows and columns where it is 2-D; every axis but the last flattened
/// into rows where it has more; none for 1-D.
pub fn page_shape(shape: &[usize]) -> Option<(usize, usize)> {
    rows_cols(shape)
}

impl Session {
    /// How many bytes from the start of the file `name` (of `file_len` bytes) hold its header,
    /// given its first bytes `prefix` (at least [`crate::data::load::model::PREFIX_BYTES`] of
    /// them, or the whole file where it is shorter). Where the answer is more than
    /// `prefix.len()`, call again with that many: a GGUF header's length is known only as it
    /// is read.
    pub fn model_header_needed(prefix: &[u8], file_len: u64, name: &str) -> Result<usize> {
        header_needed(prefix, file_len, name)
    }

    /// Reads the tensor list from the header of the file `name` (`header`: its first bytes,
    /// as many as [`Session::model_header_needed`] asked for; `file_len`: its length) and
    /// keeps it for [`Session::model_range`] and [`Session::model_tensor`]. Returns the list as
    /// JSON: `{"file", "format", "bytes", "params", "tensors": [{"index", "name", "dtype",
    /// "shape", "params", "start", "end", "refused"}]}`, `refused` saying why the page cannot
    /// load a tensor (or null). The data shown does not change; on a bad header the previous
    /// list stays.
    pub fn model_open(&mut self, header: &[u8], file_len: u64, name: &str) -> Result<String> {
        let list = parse_header(header, file_len, name)?;
        let json = list_json(&list, file_len, name)?;
        self.model_file = Some(OpenModel {
            name: name.to_string(),
            list,
        });
        Ok(json)
    }

    /// The byte range `[start, end)` in the open file of tensor `index`, to be read and given to
    /// [`Session::model_tensor`]; an error, before anything is read, where the page cannot
    /// load that tensor (a dtype it does not read, more than
    /// [`crate::data::load::model::PAGE_MAX_VALUES`] values) or there is no such tensor.
    pub fn model_range(&self, index: usize) -> Result<(u64, u64)> {
        let (info, source) = self.model_tensor_info(index)?;
        usable(info, source)?;
        check_page_size(info, source)?;
        Ok((info.start, info.end))
    }

    /// Uses tensor `index` of the open file as the data, decoded from `bytes` (exactly its
    /// bytes, as [`Session::model_range`] gave them), 2-D where it is (see [`rows_cols`]),
    /// then applies the query's quantization settings; returns the summary JSON. On a bad
    /// tensor or settings it returns the error, naming the file and tensor, and keeps the
    /// previous data and state.
    pub fn model_tensor(&mut self, index: usize, bytes: &[u8], query: &str) -> Result<String> {
        self.help = None;
        let settings = Settings::from_query(query)?;
        let (info, source) = self.model_tensor_info(index)?;
        usable(info, source)?;
        check_page_size(info, source)?;
        let values = decode_tensor(info, bytes, source)?;
        let shape = rows_cols(&info.shape);
        let (name, source) = (info.name.clone(), source.to_string());
        let note = match (info.shape.len(), shape) {
            (3.., Some((r, c))) => format!("{} {:?}, shown as {r} x {c}", info.dtype, info.shape),
            _ => format!("{} {:?}", info.dtype, info.shape),
        };
        let in_tensor = |e: Error| match e {
            Error::Load { .. } => e,
            other => Error::Load {
                source: source.clone(),
                message: format!("tensor '{}': {other}", shown(&name, 80)),
            },
        };
        let data = Dataset::from_tensor(values, format!("{name} of {source}"))
            .and_then(|d| d.with_shape(shape))
            .map_err(in_tensor)?;
        let previous = (
            self.file.take(),
            self.file_note.take(),
            self.source.clone(),
            self.tensor.take(),
        );
        self.file = Some(std::sync::Arc::new(data));
        self.file_note = Some(note);
        self.source = None;
        self.tensor = Some(name.clone());
        match self.apply(settings) {
            Ok(s) => Ok(s),
            Err(e) => {
                (self.file, self.file_note, self.source, self.tensor) = previous;
                Err(in_tensor(e))
            }
        }
    }

    /// The name of the model tensor shown, or `None` where the data is not a model tensor.
    pub fn model_tensor_name(&self) -> Option<&str> {
        self.tensor.as_deref()
    }

    /// Tensor `index` of the open file and the file's name.
    fn model_tensor_info(&self, index: usize) -> Result<(&TensorInfo, &str)> {
        let m = self.model_file.as_ref().ok_or_else(|| Error::Load {
            source: "the page".into(),
            message: "no model file is open: open a .safetensors or .gguf file first".into(),
        })?;
        let info = m.list.tensors.get(index).ok_or_else(|| Error::Load {
            source: m.name.clone(),
            message: format!(
                "it has {} tensors, numbered 0 to {}: there is no tensor {index}",
                m.list.tensors.len(),
                m.list.tensors.len().saturating_sub(1)
            ),
        })?;
        Ok((info, m.name.as_str()))
    }
}

fn list_json(list: &TensorList, file_len: u64, name: &str) -> Result<String> {
    let rows = list
        .tensors
        .iter()
        .enumerate()
        .map(|(index, t)| TensorRow {
            index,
            name: &t.name,
            dtype: &t.dtype,
            shape: &t.shape,
            params: t.params,
            start: t.start,
            end: t.end,
            refused: page_refusal(t, name),
        })
        .collect();
    let doc = ListJson {
        file: name,
        format: list.format.name(),
        bytes: file_len,
        params: list.params(),
        tensors: rows,
    };
    serde_json::to_string(&doc).map_err(|e| Error::Load {
        source: name.to_string(),
        message: format!("its tensor list cannot be written as JSON: {e}"),
    })
}
