//! The module's C-heap accounting and budget. Every byte Rust and Mongoose take from the C heap
//! goes through `allocate`/`release`: Rust's global allocator (`runtime`) and Mongoose's
//! `mg_calloc`/`mg_free` (built with `MG_ENABLE_CUSTOM_CALLOC`). Each block carries a small
//! header (the C block's address and size), so blocks are aligned as asked on every target
//! (ESP-IDF's malloc gives only 4-byte alignment) and freed sizes are known.
//!
//! The budget (`set_limit`, `mongoose.memory(limit=...)`) bounds what network input can make the
//! module take: Mongoose's buffers and connections (its allocations fail cleanly, and Mongoose
//! closes that connection) and the input copies Rust makes (`admit` before a fallible
//! reservation: message payloads, reply buffers). The module's own small bookkeeping is counted
//! but never refused by the budget.

use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn free(ptr: *mut c_void);
}

/// Bytes before each block: the C block's address and its size.
const HEADER: usize = 2 * core::mem::size_of::<usize>();
/// What `mg_calloc` guarantees, like C's `max_align_t` on the targets the module ships on.
#[cfg(feature = "mongoose")]
const MONGOOSE_ALIGN: usize = 2 * core::mem::size_of::<usize>();

// Plain loads and stores (riscv32imc has no atomic read-modify-write): every allocation happens
// on the VM thread, never concurrently.
static USED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LIMIT: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);

/// Usage figures for `mongoose.memory()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// C-heap bytes held now (blocks plus their headers).
    pub used: usize,
    /// The most held at once.
    pub peak: usize,
    /// The budget (0: none).
    pub limit: usize,
    /// Allocations the budget refused so far.
    pub refused: usize,
}

pub fn stats() -> HeapStats {
    HeapStats {
        used: USED.load(Ordering::Relaxed),
        peak: PEAK.load(Ordering::Relaxed),
        limit: LIMIT.load(Ordering::Relaxed),
        refused: REFUSED.load(Ordering::Relaxed),
    }
}

/// Sets the budget in bytes (0: none). A budget below what is held now refuses new input
/// allocations until enough is freed.
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// Whether the budget lets input make the module hold `bytes` more; counts a refusal when not.
pub fn admit(bytes: usize) -> bool {
    let limit = LIMIT.load(Ordering::Relaxed);
    let fits = limit == 0 || USED.load(Ordering::Relaxed).checked_add(bytes).is_some_and(|total| total <= limit);
    if !fits {
        REFUSED.store(REFUSED.load(Ordering::Relaxed).saturating_add(1), Ordering::Relaxed);
    }
    fits
}

/// A block of `size` bytes aligned to `align` (a power of two), zero-filled when asked; null
/// when the C heap is out of memory, or when `budgeted` and the budget would be exceeded.
pub fn allocate(size: usize, align: usize, zeroed: bool, budgeted: bool) -> *mut u8 {
    let align = align.max(core::mem::align_of::<usize>());
    let Some(total) = size.checked_add(HEADER).and_then(|total| total.checked_add(align - 1)) else {
        return core::ptr::null_mut();
    };
    if budgeted && !admit(total) {
        return core::ptr::null_mut();
    }
    // SAFETY: plain C allocation of a non-zero size.
    let raw = unsafe { malloc(total) } as *mut u8;
    if raw.is_null() {
        return raw;
    }
    let offset = (raw as usize + HEADER).next_multiple_of(align) - raw as usize;
    // SAFETY: `offset` <= HEADER + align - 1, so the block (`size` bytes from raw + offset) and
    // the two header words right before it lie inside the `total` bytes malloc returned; the
    // header words are usize-aligned because `offset` and `align` are multiples of usize's
    // alignment and malloc's block is at least that aligned.
    unsafe {
        let block = raw.add(offset);
        let header = block.sub(HEADER) as *mut usize;
        header.write(raw as usize);
        header.add(1).write(total);
        if zeroed {
            core::ptr::write_bytes(block, 0, size);
        }
        let used = USED.load(Ordering::Relaxed).saturating_add(total);
        USED.store(used, Ordering::Relaxed);
        if used > PEAK.load(Ordering::Relaxed) {
            PEAK.store(used, Ordering::Relaxed);
        }
        block
    }
}

/// Frees a block from `allocate`.
///
/// # Safety
/// `block` came from `allocate` and is not used afterwards.
pub unsafe fn release(block: *mut u8) {
    // SAFETY: per the contract, the two header words written by `allocate` precede `block`.
    let (raw, total) = unsafe {
        let header = block.sub(HEADER) as *const usize;
        (header.read(), header.add(1).read())
    };
    USED.store(USED.load(Ordering::Relaxed).saturating_sub(total), Ordering::Relaxed);
    // SAFETY: `raw` is the address malloc returned for this block.
    unsafe { free(raw as *mut c_void) }
}

/// Mongoose's allocator (`MG_ENABLE_CUSTOM_CALLOC`): zeroed, budgeted.
#[cfg(feature = "mongoose")]
#[no_mangle]
pub extern "C" fn mg_calloc(count: usize, size: usize) -> *mut c_void {
    match count.checked_mul(size) {
        Some(bytes) => allocate(bytes.max(1), MONGOOSE_ALIGN, true, true) as *mut c_void,
        None => core::ptr::null_mut(),
    }
}

/// # Safety
/// `ptr` is null or came from `mg_calloc`.
#[cfg(feature = "mongoose")]
#[no_mangle]
pub unsafe extern "C" fn mg_free(ptr: *mut c_void) {
    if !ptr.is_null() {
        // SAFETY: per the contract.
        unsafe { release(ptr as *mut u8) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures are process-wide: the tests that read them take turns.
    static FIGURES: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn blocks_are_aligned_as_asked_zeroed_when_asked_and_counted_until_freed() {
        let _turn = FIGURES.lock();
        let before = stats().used;
        for align in [1, 2, 4, 8, 16, 32, 64] {
            let block = allocate(100, align, true, false);
            assert!(!block.is_null());
            assert_eq!(block as usize % align, 0, "align {align}");
            // SAFETY: 100 bytes were just allocated at `block`.
            let bytes = unsafe { core::slice::from_raw_parts(block, 100) };
            assert!(bytes.iter().all(|&b| b == 0));
            assert!(stats().used >= before + 100);
            // SAFETY: from allocate, freed once.
            unsafe { release(block) };
        }
        assert_eq!(stats().used, before);
    }

    #[test]
    fn the_budget_refuses_budgeted_blocks_only_and_counts_refusals() {
        let _turn = FIGURES.lock();
        let held = allocate(1000, 8, false, false);
        set_limit(stats().used + 500);
        let refused_before = stats().refused;
        assert!(allocate(1000, 8, false, true).is_null());
        assert_eq!(stats().refused, refused_before + 1);
        assert!(!admit(1000));
        let small = allocate(100, 8, false, true);
        assert!(!small.is_null(), "within the budget");
        let unbudgeted = allocate(1000, 8, false, false);
        assert!(!unbudgeted.is_null(), "bookkeeping is never refused by the budget");
        set_limit(0);
        // SAFETY: each from allocate, freed once.
        unsafe {
            release(held);
            release(small);
            release(unbudgeted);
        }
    }

    #[test]
    fn sizes_that_overflow_are_refused_not_wrapped() {
        assert!(allocate(usize::MAX - 3, 8, false, false).is_null());
        #[cfg(feature = "mongoose")]
        assert!(mg_calloc(usize::MAX / 2, 3).is_null());
    }
}
