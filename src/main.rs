//! `quantviz`, the command line: quantize, compare, the notebook, figures and benchmarks.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    // A panic would be a bug; say so in one line rather than with a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error (a bug in quantviz, please report it): {info}");
    }));
    match cli::run(std::env::args_os().skip(1)) {
        Ok(out) => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`quantviz ... | head`) is not an error worth a message.
            let _ = stdout.write_all(out.as_bytes());
        }
        Err(e) => {
            eprintln!("error: {}", e.message);
            if let Some(hint) = e.hint {
                eprintln!("{hint}");
            }
            std::process::exit(e.code);
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
