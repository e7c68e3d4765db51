// Default runtime options of the sanitizer build, compiled into build/unix-asan/micropython so that
// every run of it (make test, a script run by hand) checks the same way. ASAN_OPTIONS and
// UBSAN_OPTIONS in the environment are read after these and win (make test adds log_path only).
//
// ASan
//   detect_leaks=1       LeakSanitizer at exit. The GC heap is one malloc'd block that stays
//                        reachable (the unix port does not free it in a release build), so anything
//                        a live or dead Python object points to counts as reachable: only blocks no
//                        pointer reaches at all (a connection or buffer dropped by Rust or Mongoose
//                        without free) are reported. Processes ended by SIGTERM/SIGKILL are not
//                        checked (no exit).
//   handle_abort=1       abort() (how a Rust panic ends, see src/runtime.rs) prints a stack
//                        trace into the report like a SEGV does, so it is caught like one.
//   Stack use-after-return detection is compiled out (Makefile: --param asan-use-after-return=0),
//   not switched off here: its fake stack frames hide GC roots from MicroPython's conservative
//   scan of the C stack. The scan itself reads redzones through gc_get_ptr, which MicroPython
//   already marks no_sanitize_address (py/gc.c).
// UBSan
//   halt_on_error=1      the first report ends the process (exit code 1), as ASan does; the
//                        checks stay recoverable in the build only so that suppressions work
//                        (with -fno-sanitize-recover a suppressed report still aborts).
//   suppressions=...     mpy/unix-asan/ubsan.supp: MicroPython's own known reports, per function.
//   print_stacktrace=1   where in the code (the check name to suppress by is in the message).

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void) {
    return "detect_leaks=1:handle_abort=1";
}

const char *__ubsan_default_options(void) {
    return "halt_on_error=1:print_stacktrace=1:suppressions=" PG_UBSAN_SUPPRESSIONS;
}
