//! What a bare-metal board's glue provides (`boards/<name>/board.c`): the OS services the event
//! loop needs and a hosted build gets from Mongoose's sockets. Only built for `target_os = "none"`.

extern "C" {
    /// Sleeps in `wfi` for at most `ms` milliseconds; returns sooner when the network card or the
    /// serial port (Ctrl-C) raised an interrupt. Never calls Python; may schedule KeyboardInterrupt.
    pub fn pg_board_wait_ms(ms: u32);
}

extern "C" {
    /// Attaches the board's network interface (Mongoose's built-in TCP/IP stack on the board's
    /// card) to a freshly initialised manager (`struct mg_mgr *`); without a card it does nothing.
    pub fn pg_board_net_attach(manager: *mut core::ffi::c_void);
}
