//! Large output buffers.
//!
//! A profile of 10^7 samples is 80 MB. Touched for the first time, its 4 KiB pages cost
//! some 20,000 page faults, a measurable share of a whole segmentation pass. On Linux the
//! buffer is therefore allocated zeroed (mapped, not yet touched) and advised to use
//! transparent huge pages before anything writes to it, so the kernel maps it in 2 MiB
//! pages: 512 times fewer faults. Elsewhere, or where huge pages are disabled, the advice
//! is a no-op and the buffer is an ordinary zeroed `Vec`.

/// Buffers at least this large get the huge-page advice.
const ADVISE_FROM_BYTES: usize = 4 << 20;

/// A zeroed `Vec<f64>` of `n` values, with huge pages advised when it is large.
pub fn zeroed_f64(n: usize) -> Vec<f64> {
    let v = vec![0.0f64; n];
    advise_huge_pages(v.as_ptr() as *const u8, n * std::mem::size_of::<f64>());
    v
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *const u8, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < ADVISE_FROM_BYTES {
        return;
    }
    let start = (ptr as usize).div_ceil(HUGE) * HUGE;
    let end = (ptr as usize + len) / HUGE * HUGE;
    if end > start {
        // SAFETY: [start, end) lies inside the live allocation of `len` bytes at `ptr`;
        // MADV_HUGEPAGE changes only how the kernel backs those pages, never their
        // contents, and failure (huge pages disabled) leaves everything as it was.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *const u8, _len: usize) {
    let _ = ADVISE_FROM_BYTES;
}

#[cfg(test)]
mod tests {
    #[test]
    fn zeroed_buffers_of_every_size() {
        for n in [0usize, 1, 1000, (8 << 20) / 8 + 3] {
            let v = super::zeroed_f64(n);
            assert_eq!(v.len(), n);
            assert!(v.iter().all(|&x| x == 0.0));
        }
    }
}
