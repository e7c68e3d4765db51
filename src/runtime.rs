//! What a `#![no_std]` staticlib needs from its host: a global allocator on the C heap (through
//! `crate::heap`, like Mongoose's allocations), a panic handler that reports and aborts, and the personality symbol the
//! precompiled `core` still references on unwinding targets.

#[cfg(not(any(test, fuzzing)))]
mod c_heap {
    use core::alloc::{GlobalAlloc, Layout};

    use crate::heap;

    /// Rust's allocations: aligned as the layout asks on every target, counted by `heap`, never
    /// refused by its budget (input paths check `heap::admit` themselves, then reserve fallibly).
    struct CHeap;

    // SAFETY: `heap::allocate` returns null or a block of at least `layout.size()` bytes aligned
    // to `layout.align()`, which stays valid until `heap::release`; the default `realloc`
    // (allocate, copy, release) keeps those guarantees.
    unsafe impl GlobalAlloc for CHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            heap::allocate(layout.size(), layout.align(), false, false)
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            heap::allocate(layout.size(), layout.align(), true, false)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
            // SAFETY: `ptr` came from `alloc`/`alloc_zeroed` above.
            unsafe { heap::release(ptr) }
        }
    }

    #[global_allocator]
    static GLOBAL_ALLOCATOR: CHeap = CHeap;
}

#[cfg(all(not(test), feature = "mongoose"))]
mod panic_report {
    extern "C" {
        fn abort() -> !;
        fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    }

    #[panic_handler]
    fn on_panic(_info: &core::panic::PanicInfo) -> ! {
        const MESSAGE: &[u8] = b"pythongoose: internal error (Rust panic), aborting\n";
        // SAFETY: writes a static buffer to stderr, then aborts; nothing else runs after a panic.
        unsafe {
            write(2, MESSAGE.as_ptr(), MESSAGE.len());
            abort()
        }
    }

    /// `core` is precompiled with unwinding tables that name this symbol; with `panic = "abort"`
    /// nothing ever calls it.
    #[no_mangle]
    pub extern "C" fn rust_eh_personality() {}
}

/// The portable build (no Mongoose, e.g. the riscv32 check) still needs a panic handler.
#[cfg(all(not(test), not(fuzzing), not(feature = "mongoose")))]
#[panic_handler]
fn on_panic(_info: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
