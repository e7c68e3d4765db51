//! What a `#![no_std]` staticlib needs from its host: a global allocator on the C heap (the one
//! Mongoose uses too), a panic handler that reports and aborts, and the personality symbol the
//! precompiled `core` still references on unwinding targets.

#[cfg(not(any(test, fuzzing)))]
mod c_heap {
    use core::alloc::{GlobalAlloc, Layout};
    use core::ffi::c_void;

    extern "C" {
        fn malloc(size: usize) -> *mut c_void;
        fn calloc(count: usize, size: usize) -> *mut c_void;
        fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
        fn free(ptr: *mut c_void);
    }

    /// malloc/free guarantee this alignment on every target the module ships on.
    const C_HEAP_ALIGN: usize = 8;

    struct CHeap;

    // SAFETY: malloc/calloc/realloc/free are the C library's thread-safe allocator; layouts with an
    // alignment the C heap does not guarantee are refused (null), never served misaligned.
    unsafe impl GlobalAlloc for CHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if layout.align() > C_HEAP_ALIGN {
                return core::ptr::null_mut();
            }
            // SAFETY: plain C allocation of a non-zero size (GlobalAlloc never asks for 0).
            unsafe { malloc(layout.size()) as *mut u8 }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            if layout.align() > C_HEAP_ALIGN {
                return core::ptr::null_mut();
            }
            // SAFETY: as above, zero-filled by calloc.
            unsafe { calloc(1, layout.size()) as *mut u8 }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
            // SAFETY: `ptr` came from malloc/calloc/realloc above.
            unsafe { free(ptr as *mut c_void) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if layout.align() > C_HEAP_ALIGN {
                return core::ptr::null_mut();
            }
            // SAFETY: `ptr` came from this allocator; realloc keeps the C heap's alignment.
            unsafe { realloc(ptr as *mut c_void, new_size) as *mut u8 }
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
