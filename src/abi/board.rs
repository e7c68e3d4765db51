//! What a bare-metal board's glue provides (`boards/<name>/board.c`): the OS services the event
//! loop needs and a hosted build gets from Mongoose's sockets. Only built for `target_os = "none"`.

extern "C" {
    /// Sleeps in `wfi` for at most `ms` milliseconds; returns sooner when the network card or the
    /// serial port (Ctrl-C) raised an interrupt. Never calls Python; may schedule KeyboardInterrupt.
    pub fn pg_board_wait_ms(ms: u32);
}
