//! Big buffers, and data parallelism that keeps results bit for bit: large inputs are cut where numpy's pairwise
//! sum would cut them, the parts run on scoped threads, and the parts' results are combined in
//! the tree's order.
//!
//! numpy splits `n > 128` values at `n2 = n / 2` rounded down to a multiple of 8 and adds
//! `sum(left) + sum(right)`; computing the two sides on two threads and adding them in that
//! order gives the same bits. Everything else combined here (min, max, counts) does not depend
//! on the order. On wasm32 (no threads) and for small inputs everything runs on the caller's
//! thread.

/// Fewest values in one part: below this, starting a thread costs more than it saves.
pub const MIN_PART: usize = 1 << 18;

use crate::quant::pairwise::pairwise_split;

/// How many threads to use: the machine's available parallelism (at most 8), 1 on wasm32.
pub fn threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        static THREADS: OnceLock<usize> = OnceLock::new();
        *THREADS.get_or_init(|| {
            std::env::var("QUANTVIZ_THREADS")
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .filter(|&t| t >= 1)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                .min(8)
        })
    }
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
}

/// Levels of the pairwise tree to run in parallel: `ceil(log2(threads))`.
fn depth() -> u32 {
    let t = threads();
    usize::BITS - (t - 1).leading_zeros()
}

/// `leaf(part, out_part)` over the parts of `xs` (and the same ranges of `out`) that numpy's
/// pairwise tree makes at its top levels, in parallel, combined as `combine(left, right)` up
/// the tree. `out` is as long as `xs` (or longer: the rest is left alone).
pub fn pairwise_map_mut<X: Sync, T: Send, O: Send>(
    xs: &[X],
    out: &mut [O],
    leaf: &(dyn Fn(&[X], &mut [O]) -> T + Sync),
    combine: &(dyn Fn(T, T) -> T + Sync),
) -> T {
    let len = xs.len().min(out.len());
    let out = &mut out[..len];
    split(xs, out, depth(), leaf, combine)
}

/// [`pairwise_map_mut`] without an output.
pub fn pairwise_map<X: Sync, T: Send>(
    xs: &[X],
    leaf: &(dyn Fn(&[X]) -> T + Sync),
    combine: &(dyn Fn(T, T) -> T + Sync),
) -> T {
    // A slice of `()` costs no memory: it only carries the length to split alongside `xs`.
    let mut none = vec![(); xs.len()];
    pairwise_map_mut(xs, &mut none, &|x, _| leaf(x), combine)
}

fn split<X: Sync, T: Send, O: Send>(
    xs: &[X],
    out: &mut [O],
    depth: u32,
    leaf: &(dyn Fn(&[X], &mut [O]) -> T + Sync),
    combine: &(dyn Fn(T, T) -> T + Sync),
) -> T {
    let n = xs.len();
    if depth == 0 || n < 2 * MIN_PART || out.len() != n {
        return leaf(xs, out);
    }
    let n2 = pairwise_split(n);
    let (xa, xb) = xs.split_at(n2);
    let (oa, ob) = out.split_at_mut(n2);
    // The right part's output travels through a slot, so that it is still ours when no thread
    // can be started (the closure is then dropped without running).
    let slot = std::sync::Mutex::new(Some(ob));
    let take = || match slot.lock() {
        Ok(mut guard) => guard.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    };
    std::thread::scope(|s| {
        let right = std::thread::Builder::new().spawn_scoped(s, || {
            take().map(|ob| split(xb, ob, depth - 1, leaf, combine))
        });
        let a = split(xa, oa, depth - 1, leaf, combine);
        let b = match right.map(|handle| handle.join()) {
            Ok(Ok(Some(b))) => Some(b),
            Ok(Ok(None)) => None,
            // The leaf panicked on the other thread: pass the panic on unchanged.
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            // No thread to be had: the right part runs here, after the left.
            Err(_) => None,
        };
        let b = match b {
            Some(b) => b,
            None => {
                let ob = take().unwrap_or_default();
                split(xb, ob, depth - 1, leaf, combine)
            }
        };
        combine(a, b)
    })
}

/// An empty vector with room for `n` values. Large ones (4 MiB and up) are, on Linux, advised to
/// use transparent huge pages, as numpy does for its arrays (a hint: it takes effect on the
/// pages not touched yet, which for an allocation this large from the OS is all of them): 80 MB
/// in 4 KiB pages costs about 20,000 page faults to write and a TLB miss every 4 KiB to read.
pub fn with_capacity<T>(n: usize) -> Vec<T> {
    let v = Vec::with_capacity(n);
    advise_huge_pages(v.as_ptr() as usize, v.capacity() * std::mem::size_of::<T>());
    v
}

/// A zeroed vector of `n` values, in huge pages where large (see [`with_capacity`]).
pub fn zeroed_vec<T: Copy + Default>(n: usize) -> Vec<T> {
    let v = vec![T::default(); n];
    advise_huge_pages(v.as_ptr() as usize, n * std::mem::size_of::<T>());
    v
}

/// Asks Linux for transparent huge pages over the whole 2 MiB pages of a buffer of ours (a
/// hint: it changes no contents, and fails harmlessly where THP is off). Elsewhere a no-op.
#[allow(unused_variables)]
fn advise_huge_pages(addr: usize, bytes: usize) {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        const HUGE: usize = 1 << 21;
        const MADV_HUGEPAGE: std::ffi::c_int = 14;
        extern "C" {
            fn madvise(
                addr: *mut std::ffi::c_void,
                len: usize,
                advice: std::ffi::c_int,
            ) -> std::ffi::c_int;
        }
        if bytes < (4 << 20) {
            return;
        }
        // Only whole 2 MiB pages inside the buffer can be huge.
        let start = (addr + HUGE - 1) & !(HUGE - 1);
        let end = (addr + bytes) & !(HUGE - 1);
        if end > start {
            // SAFETY: the range lies inside one live allocation of ours; MADV_HUGEPAGE is a
            // hint that changes no contents.
            unsafe {
                madvise(start as *mut std::ffi::c_void, end - start, MADV_HUGEPAGE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::pairwise::pairwise_sum;

    fn terms(n: usize) -> Vec<f64> {
        (0..n).map(|i| 0.1 + (i as f64).sqrt() * 1e-3).collect()
    }

    #[test]
    fn parts_combined_up_the_tree_are_the_pairwise_sum() {
        for n in [
            0,
            1,
            129,
            2 * MIN_PART - 1,
            2 * MIN_PART + 3,
            9 * MIN_PART + 5,
        ] {
            let xs = terms(n);
            let want = pairwise_sum(&xs);
            for depth in 0..4 {
                let mut none = vec![(); n];
                let got = split(
                    &xs,
                    &mut none,
                    depth,
                    &|x, _| pairwise_sum(x),
                    &|a: f64, b: f64| a + b,
                );
                assert_eq!(got.to_bits(), want.to_bits(), "n={n} depth={depth}");
            }
        }
    }

    #[test]
    fn outputs_are_cut_with_the_inputs() {
        let n = 5 * MIN_PART + 11;
        let xs = terms(n);
        for depth in 0..4 {
            let mut out = vec![0.0; n];
            let count = split(
                &xs,
                &mut out,
                depth,
                &|x, o| {
                    o.copy_from_slice(x);
                    x.len()
                },
                &|a: usize, b: usize| a + b,
            );
            assert_eq!(count, n);
            assert_eq!(out, xs, "depth={depth}");
        }
        assert_eq!(pairwise_split(1000), 496);
        assert!((1..=8).contains(&threads()));
    }
}
