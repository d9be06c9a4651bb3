//! The page's model-file steps on the native session: the header read as the page reads it (as
//! many bytes as asked for), the tensor list, a tensor loaded from exactly its bytes as 2-D
//! data, and every refusal one line naming the file and tensor, with the view kept.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::safetensors;
use quantviz::data::load::model::{ModelFile, PAGE_MAX_VALUES, PREFIX_BYTES};
use quantviz::session::{page_shape, Session};
use serde_json::Value;
use std::path::Path;

const TINY_ST: &str = "tests/fixtures/models/tiny.safetensors";
const TINY_GGUF: &str = "tests/fixtures/models/tiny.gguf";
const DIGITS: &str = "models/digits-mlp.safetensors";

/// The header as the page reads it: the first bytes, then as many as the reader asks for.
/// Returns the header and the most bytes read.
fn header_of(bytes: &[u8], name: &str) -> quantviz::Result<Vec<u8>> {
    let len = bytes.len() as u64;
    let mut head = bytes[..PREFIX_BYTES.min(bytes.len())].to_vec();
    let mut need = Session::model_header_needed(&head, len, name)?;
    while need > head.len() {
        head = bytes[..need].to_vec();
        need = Session::model_header_needed(&head, len, name)?;
    }
    head.truncate(need);
    Ok(head)
}

/// A session showing generated data, with `file` open.
fn opened(bytes: &[u8], name: &str) -> (Session, Value) {
    let mut s = Session::new();
    s.update("n=1000").unwrap();
    let head = header_of(bytes, name).unwrap();
    let list: Value =
        serde_json::from_str(&s.model_open(&head, bytes.len() as u64, name).unwrap()).unwrap();
    (s, list)
}

fn index_of(list: &Value, name: &str) -> usize {
    list["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .position(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

/// Tensor `name` loaded as the page loads it: its range, then exactly those bytes.
fn pick(
    s: &mut Session,
    bytes: &[u8],
    list: &Value,
    name: &str,
    query: &str,
) -> quantviz::Result<Value> {
    let i = index_of(list, name);
    let (start, end) = s.model_range(i)?;
    let json = s.model_tensor(i, &bytes[start as usize..end as usize], query)?;
    Ok(serde_json::from_str(&json).unwrap())
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn the_list_names_every_tensor_and_why_the_page_refuses_some() {
    let bytes = std::fs::read(TINY_ST).unwrap();
    let (_, list) = opened(&bytes, "tiny.safetensors");
    assert_eq!(list["file"], "tiny.safetensors");
    assert_eq!(list["format"], "safetensors");
    assert_eq!(list["bytes"], bytes.len() as u64);
    let names: Vec<&str> = list["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "layers.0.attn.q.weight",
            "layers.0.attn.k.weight",
            "layers.0.mlp.up.weight",
            "layers.0.norm.weight",
            "position_ids"
        ]
    );
    let q = &list["tensors"][0];
    assert_eq!(q["dtype"], "F32");
    assert_eq!(q["shape"], serde_json::json!([16, 64]));
    assert_eq!(q["params"], 1024);
    assert!(q["refused"].is_null());
    assert_eq!(list["params"], 1024 + 512 + 256 + 64 + 4);
    let ids = &list["tensors"][4];
    assert_eq!(ids["dtype"], "I32");
    let why = ids["refused"].as_str().unwrap();
    assert!(why.contains("integer"), "{why}");
}

#[test]
fn a_tensor_loads_from_its_bytes_alone_as_2d_data() {
    let bytes = std::fs::read(TINY_ST).unwrap();
    let (mut s, list) = opened(&bytes, "tiny.safetensors");
    let file = ModelFile::open(Path::new(TINY_ST)).unwrap();
    for name in [
        "layers.0.attn.q.weight",
        "layers.0.attn.k.weight",
        "layers.0.mlp.up.weight",
    ] {
        // Channel scales need 2-D data: they work only because the tensor's shape came along.
        let sum = pick(&mut s, &bytes, &list, name, "granularity=channel&bits=4").unwrap();
        let info = file.list.find(name, TINY_ST).unwrap();
        let values = file.values(info).unwrap();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(sum["data"]["source"], "file");
        assert_eq!(sum["data"]["n"], values.len());
        assert_eq!(sum["data"]["min"].as_f64().unwrap(), min, "{name}");
        assert_eq!(sum["data"]["max"].as_f64().unwrap(), max, "{name}");
        assert_eq!(sum["data"]["label"], format!("{name} of tiny.safetensors"));
        assert_eq!(s.model_tensor_name(), Some(name));
        let rows = s
            .granular()
            .and_then(|g| g.units.as_ref())
            .expect("a channel run")
            .params
            .len();
        assert_eq!(rows, info.shape[0], "{name}: one scale per row");
    }
    // A 1-D tensor is 1-D data: channel scales are refused, and the view stays.
    let before = s.query();
    let e = pick(
        &mut s,
        &bytes,
        &list,
        "layers.0.norm.weight",
        "granularity=channel",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("tiny.safetensors") && e.contains("layers.0.norm.weight"),
        "{e}"
    );
    assert_eq!(s.query(), before);
    assert_eq!(s.model_tensor_name(), Some("layers.0.mlp.up.weight"));
    pick(&mut s, &bytes, &list, "layers.0.norm.weight", "").unwrap();
}

#[test]
fn gguf_tensors_load_and_quantized_ones_are_refused_by_type() {
    let bytes = std::fs::read(TINY_GGUF).unwrap();
    let (mut s, list) = opened(&bytes, "tiny.gguf");
    assert_eq!(list["format"], "gguf");
    let file = ModelFile::open(Path::new(TINY_GGUF)).unwrap();
    let mut loaded = 0;
    for (i, t) in list["tensors"].as_array().unwrap().iter().enumerate() {
        let info = &file.list.tensors[i];
        assert_eq!(t["name"], info.name.as_str());
        assert_eq!(t["shape"], serde_json::json!(info.shape));
        if info.elem.is_some() {
            let sum = pick(&mut s, &bytes, &list, &info.name, "").unwrap();
            assert_eq!(sum["data"]["n"].as_u64().unwrap(), info.params);
            loaded += 1;
        } else {
            assert_eq!(t["refused"].as_str(), info.refused.as_deref());
            let e = s.model_range(i).unwrap_err().to_string();
            assert!(
                e.contains("tiny.gguf") && e.contains(&info.name) && e.contains(&info.dtype),
                "{e}"
            );
        }
    }
    assert!(loaded >= 2 && loaded < list["tensors"].as_array().unwrap().len());
}

#[test]
fn the_digits_preset_file_opens() {
    let bytes = std::fs::read(DIGITS).unwrap();
    let (mut s, list) = opened(&bytes, "digits-mlp.safetensors");
    let sum = pick(&mut s, &bytes, &list, "fc1.weight", "format=q4_0").unwrap();
    assert_eq!(sum["data"]["n"], 128 * 64);
    assert_eq!(s.model_tensor_name(), Some("fc1.weight"));
    // Going back to generated data forgets the tensor (the link no longer names it).
    s.use_generated();
    assert_eq!(s.model_tensor_name(), None);
}

#[test]
fn a_tensor_too_large_for_the_page_is_refused_with_its_size_and_the_command() {
    // Only the header is given: the range is refused before a byte of the tensor is read.
    let n = PAGE_MAX_VALUES as usize + 1;
    let header = format!(
        "{{\"big\":{{\"dtype\":\"F16\",\"shape\":[{n}],\"data_offsets\":[0,{}]}}}}",
        2 * n
    );
    let mut head = (header.len() as u64).to_le_bytes().to_vec();
    head.extend(header.as_bytes());
    let len = head.len() as u64 + 2 * n as u64;
    let mut s = Session::new();
    let list: Value =
        serde_json::from_str(&s.model_open(&head, len, "big.safetensors").unwrap()).unwrap();
    let why = list["tensors"][0]["refused"].as_str().unwrap();
    assert!(
        why.contains(&n.to_string()) && why.contains("quantviz"),
        "{why}"
    );
    let e = s.model_range(0).unwrap_err().to_string();
    assert!(
        e.contains("big.safetensors") && e.contains("'big'") && e.contains(&n.to_string()),
        "{e}"
    );
    assert!(e.contains("quantviz report"), "{e}");
    assert!(s.model_tensor(0, &[], "").is_err());
}

#[test]
fn bad_files_and_bytes_say_what_is_wrong_and_keep_the_view() {
    let bytes = std::fs::read(TINY_ST).unwrap();
    let (mut s, list) = opened(&bytes, "tiny.safetensors");
    pick(&mut s, &bytes, &list, "layers.0.attn.q.weight", "").unwrap();
    let before = s.query();
    let one_line = |e: &str| assert!(!e.contains('\n'), "{e}");

    // A file cut inside its header, an empty file, bytes that are no model file.
    let cut = &bytes[..100];
    let e = header_of(cut, "cut.safetensors").unwrap_err().to_string();
    assert!(e.contains("cut.safetensors"), "{e}");
    one_line(&e);
    let e = Session::model_header_needed(&[], 0, "empty.gguf")
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty.gguf") && e.contains("empty"), "{e}");
    let e = Session::model_header_needed(b"hello, these are no weights", 27, "x.gguf")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("x.gguf") && e.contains("not a model file"),
        "{e}"
    );
    // A header whose tensors reach past the file's end: the list is refused, the old one kept.
    let head = header_of(&bytes, "short.safetensors").unwrap();
    let e = s
        .model_open(&head, bytes.len() as u64 - 10, "short.safetensors")
        .unwrap_err()
        .to_string();
    assert!(e.contains("short.safetensors"), "{e}");
    one_line(&e);
    assert!(s.model_range(0).is_ok());

    // Bytes that are not the tensor's: its length is checked, naming the file and tensor.
    let (a, b) = s.model_range(1).unwrap();
    let e = s
        .model_tensor(1, &bytes[a as usize..b as usize - 2], "")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tiny.safetensors") && e.contains("layers.0.attn.k.weight"),
        "{e}"
    );
    one_line(&e);
    // No such tensor, and a tensor of non-finite values.
    let e = s.model_range(99).unwrap_err().to_string();
    assert!(e.contains("tiny.safetensors") && e.contains("99"), "{e}");
    assert_eq!(s.query(), before);
    assert_eq!(s.model_tensor_name(), Some("layers.0.attn.q.weight"));

    let nan = safetensors(&[(
        "w",
        "F32",
        vec![2, 2],
        f32_bytes(&[1.0, f32::NAN, 2.0, 3.0]),
    )]);
    let list: Value = serde_json::from_str(
        &s.model_open(
            &header_of(&nan, "nan.safetensors").unwrap(),
            nan.len() as u64,
            "nan.safetensors",
        )
        .unwrap(),
    )
    .unwrap();
    let e = pick(&mut s, &nan, &list, "w", "").unwrap_err().to_string();
    assert!(
        e.contains("nan.safetensors") && e.contains("'w'") && e.contains("NaN"),
        "{e}"
    );
    one_line(&e);
    assert_eq!(s.query(), before);
    assert_eq!(s.model_tensor_name(), Some("layers.0.attn.q.weight"));

    // Nothing open at all.
    let e = Session::new().model_range(0).unwrap_err().to_string();
    assert!(e.contains("no model file is open"), "{e}");
}

#[test]
fn a_loaded_values_file_replaces_the_tensor() {
    let bytes = std::fs::read(TINY_ST).unwrap();
    let (mut s, list) = opened(&bytes, "tiny.safetensors");
    pick(&mut s, &bytes, &list, "layers.0.attn.q.weight", "").unwrap();
    s.load(b"1\n2\n3\n4\n", "v.txt", "").unwrap();
    assert_eq!(s.model_tensor_name(), None);
}

#[test]
fn tensors_of_more_dimensions_are_every_axis_but_the_last_as_rows() {
    assert_eq!(page_shape(&[]), None);
    assert_eq!(page_shape(&[7]), None);
    assert_eq!(page_shape(&[3, 5]), Some((3, 5)));
    assert_eq!(page_shape(&[8, 3, 3, 3]), Some((72, 3)));
    // A stack of experts' weights: each expert's output channels.
    assert_eq!(page_shape(&[4, 16, 32]), Some((64, 32)));
    assert_eq!(page_shape(&[4, 16, 0]), None);
}
