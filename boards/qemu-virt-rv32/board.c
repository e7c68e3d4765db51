// The emulated board's glue (QEMU `virt`, rv32imac, machine mode, picolibc): see board.h.
// Device addresses are those of QEMU's `virt` machine (hw/riscv/virt.c): CLINT at 0x0200_0000,
// PLIC at 0x0c00_0000, the 16550 UART at 0x1000_0000 on PLIC line 10.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "py/mphal.h"
#include "py/runtime.h"
#include "shared/runtime/interrupt_char.h"

#include "board.h"

#define CLINT_MTIMECMP0 ((volatile uint32_t *)0x02004000)
#define CLINT_MTIME ((volatile uint32_t *)0x0200bff8)
#define MTIME_PER_US 10u

#define PLIC_BASE 0x0c000000u
#define PLIC_PRIORITY(irq) ((volatile uint32_t *)(PLIC_BASE + 4u * (irq)))
#define PLIC_ENABLE0 ((volatile uint32_t *)(PLIC_BASE + 0x2000u)) // context 0: hart 0, M-mode
#define PLIC_THRESHOLD0 ((volatile uint32_t *)(PLIC_BASE + 0x200000u))
#define PLIC_CLAIM0 ((volatile uint32_t *)(PLIC_BASE + 0x200004u))

#define UART_BASE 0x10000000u
#define UART_RBR ((volatile uint8_t *)(UART_BASE + 0))
#define UART_IER ((volatile uint8_t *)(UART_BASE + 1))
#define UART_LSR ((volatile uint8_t *)(UART_BASE + 5))
#define UART_LSR_DR 0x01u
#define UART_IRQ 10u

#define MIE_MTIE (1u << 7)
#define MIE_MEIE (1u << 11)
#define MSTATUS_MIE (1u << 3)

static uint32_t net_irq;
static bool wake_sources_ready;
// What minstret advanced by while the hart slept in wfi (see pg_board_busy_instructions).
static uint64_t instret_while_waiting;

static uint64_t read_instret(void) {
    uint32_t high, low, again;
    do {
        __asm volatile (".option push\n.option arch, +zicsr\ncsrr %0, minstreth\n.option pop" : "=r" (high));
        __asm volatile (".option push\n.option arch, +zicsr\ncsrr %0, minstret\n.option pop" : "=r" (low));
        __asm volatile (".option push\n.option arch, +zicsr\ncsrr %0, minstreth\n.option pop" : "=r" (again));
    } while (high != again);
    return ((uint64_t)high << 32) | low;
}

uint64_t pg_board_busy_instructions(void) {
    return read_instret() - instret_while_waiting;
}

uint64_t pg_board_micros(void) {
    uint32_t high, low;
    do {
        high = CLINT_MTIME[1];
        low = CLINT_MTIME[0];
    } while (high != CLINT_MTIME[1]);
    return (((uint64_t)high << 32) | low) / MTIME_PER_US;
}

static void set_timer_compare(uint64_t value) {
    // Written high word first (to all ones) so that no intermediate value fires early.
    CLINT_MTIMECMP0[1] = 0xffffffffu;
    CLINT_MTIMECMP0[0] = (uint32_t)value;
    CLINT_MTIMECMP0[1] = (uint32_t)(value >> 32);
}

static void enable_plic_line(uint32_t irq) {
    if (irq == 0 || irq >= 32) {
        return;
    }
    *PLIC_PRIORITY(irq) = 1;
    *PLIC_ENABLE0 |= 1u << irq;
}

static void prepare_wake_sources(void) {
    if (wake_sources_ready) {
        return;
    }
    *PLIC_THRESHOLD0 = 0;
    enable_plic_line(UART_IRQ);
    enable_plic_line(net_irq);
    *UART_IER = 0x01; // received data available
    wake_sources_ready = true;
}

void pg_board_set_net_irq(uint32_t irq) {
    net_irq = irq;
    enable_plic_line(irq);
}

// Reads what the serial port holds: Ctrl-C (while a script runs) schedules KeyboardInterrupt.
// Other bytes typed while a script waits in poll() are dropped (the REPL reads its own input).
static bool drain_serial(void) {
    bool interrupted = false;
    while (*UART_LSR & UART_LSR_DR) {
        int c = *UART_RBR;
        if (c == mp_interrupt_char) {
            mp_sched_keyboard_interrupt();
            interrupted = true;
        }
    }
    return interrupted;
}

// Acknowledges the card's interrupt, then every interrupt the PLIC holds (a level still raised
// after that, such as unread serial input, is pending again at once).
static void acknowledge_interrupts(void) {
    pg_board_net_acknowledge();
    uint32_t irq;
    while ((irq = *PLIC_CLAIM0) != 0) {
        *PLIC_CLAIM0 = irq; // complete
    }
}

void pg_board_wait_ms(uint32_t ms) {
    if (ms == 0) {
        return;
    }
    prepare_wake_sources();
    uint64_t deadline = (pg_board_micros() + (uint64_t)ms * 1000u) * MTIME_PER_US;
    // Interrupts stay masked globally (mstatus.MIE = 0): wfi still wakes on an enabled pending
    // interrupt, and no trap runs (the port's vectors for these are empty).
    uint32_t saved_mstatus;
    __asm volatile (".option push\n.option arch, +zicsr\ncsrrc %0, mstatus, %1\n.option pop"
        : "=r" (saved_mstatus) : "r" (MSTATUS_MIE) : "memory");
    set_timer_compare(deadline);
    __asm volatile (".option push\n.option arch, +zicsr\ncsrs mie, %0\n.option pop"
        : : "r" (MIE_MTIE | MIE_MEIE) : "memory");
    for (;;) {
        // A frame or a byte that arrives after these checks keeps its interrupt pending: wfi
        // then returns at once.
        if (drain_serial() || pg_board_net_rx_pending()) {
            break;
        }
        if (pg_board_micros() * MTIME_PER_US >= deadline) {
            break;
        }
        uint64_t before_wait = read_instret();
        __asm volatile ("wfi" ::: "memory");
        instret_while_waiting += read_instret() - before_wait;
        acknowledge_interrupts();
    }
    __asm volatile (".option push\n.option arch, +zicsr\ncsrc mie, %0\n.option pop"
        : : "r" (MIE_MTIE | MIE_MEIE) : "memory");
    set_timer_compare(UINT64_MAX);
    acknowledge_interrupts();
    __asm volatile (".option push\n.option arch, +zicsr\ncsrs mstatus, %0\n.option pop"
        : : "r" (saved_mstatus & MSTATUS_MIE) : "memory");
}

// Mongoose's clock (MG_ENABLE_CUSTOM_MILLIS).
uint64_t mg_millis(void) {
    return pg_board_micros() / 1000u;
}

// Mongoose's random source (MG_ENABLE_CUSTOM_RANDOM): QEMU's virtio-rng device, which TLS keys
// and nonces need. Without the device: a xorshift generator seeded from the clock, good for packet
// ids, ports and jitter only, and `false` tells Mongoose so (a TLS handshake then fails: "RNG").
bool mg_random(void *buf, size_t len) {
    if (pg_board_entropy(buf, len)) {
        return true;
    }
    static uint64_t state;
    if (state == 0) {
        state = (pg_board_micros() * 0x9e3779b97f4a7c15ull) | 1u;
    }
    uint8_t *out = buf;
    for (size_t i = 0; i < len; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out[i] = (uint8_t)(state >> 24);
    }
    return false;
}

// QEMU `virt`'s goldfish RTC at 0x0010_1000: TIME_LOW then TIME_HIGH (reading the low word latches
// the high one), nanoseconds since 1970 of the host's clock.
#define GOLDFISH_RTC 0x00101000u
uint64_t pg_board_rtc_ns(void) {
    uint32_t low = *(volatile uint32_t *)(GOLDFISH_RTC + 0x00u);
    uint32_t high = *(volatile uint32_t *)(GOLDFISH_RTC + 0x04u);
    return ((uint64_t)high << 32) | low;
}

// MicroPython's calendar clock (py/mphal.h): time.time(), and the module's certificate dates.
uint64_t mp_hal_time_ns(void) {
    return pg_board_rtc_ns();
}

// The Rust panic handler writes its one line to fd 2: everything goes to the serial port.
ssize_t write(int fd, const void *buf, size_t count) {
    (void)fd;
    mp_hal_stdout_tx_strn(buf, count);
    return (ssize_t)count;
}

// picolibc's abort() would pull in signals and a process model: report and stop QEMU instead
// (the port's exit() leaves through semihosting).
void abort(void) {
    static const char message[] = "\nabort() called: the board stops\n";
    mp_hal_stdout_tx_strn(message, sizeof(message) - 1);
    exit(134);
}
