// The emulated board's glue (QEMU `virt`, rv32imac): clock, waiting, and what the C library and the
// Rust runtime expect the platform to provide. Implemented in board.c.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Microseconds since power-on (CLINT mtime, 10 MHz on `virt`).
uint64_t pg_board_micros(void);

// Sleeps in `wfi` until `ms` milliseconds have passed, or sooner when a wake source fires: the
// serial port received a byte (Ctrl-C schedules KeyboardInterrupt and ends the wait) or the network
// card raised its interrupt. Returns at once for 0.
void pg_board_wait_ms(uint32_t ms);

// Instructions the hart has executed since power-on, time asleep in wfi left out. Exact only when
// QEMU counts instructions (`-icount shift=0`, QEMU_ICOUNT=1 for qemu-run.sh): minstret then
// follows QEMU's virtual clock, which also jumps over waits (those jumps are subtracted here).
// Without -icount minstret follows the host's clock and the figure means nothing.
uint64_t pg_board_busy_instructions(void);

// The network card's interrupt line on the PLIC, woken on by pg_board_wait_ms (0: none).
void pg_board_set_net_irq(uint32_t irq);

// The network card (virtio_net.c). Attaches Mongoose's TCP/IP stack to the card (10.0.2.15/24) on
// a new manager and waits (at most 1 s) until the interface is ready; without a card nothing is
// attached.
void pg_board_net_attach(void *manager);
// Whether received frames wait in the card's receive queue.
bool pg_board_net_rx_pending(void);
// Clears the card's interrupt status (its PLIC line drops).
void pg_board_net_acknowledge(void);

// `len` unpredictable bytes from QEMU's virtio-rng device (virtio_rng.c); false when the board has
// none (QEMU started without -device virtio-rng-device) or it did not answer.
bool pg_board_entropy(void *buf, size_t len);

// Nanoseconds since 1970 from QEMU's goldfish RTC (the host's clock): the calendar time TLS dates
// certificates with.
uint64_t pg_board_rtc_ns(void);
