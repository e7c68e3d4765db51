// The board's entropy source: QEMU's virtio-rng device (virtio 1.1, section 5.4; qemu-run.sh adds
// -device virtio-rng-device), read synchronously: one device-writable buffer per request, waited
// for by polling the used ring. TLS (Mongoose's mg_random) needs unpredictable bytes, which the
// `virt` machine has no other way to give.
#include <string.h>

#include "board.h"
#include "virtio_mmio.h"

#define DEVICE_ENTROPY 4u
#define QUEUE_SIZE 1u
#define CHUNK 64u
// The device answers within microseconds; a request it never answers must not hang the board.
#define GIVE_UP_US 1000000u

struct rng_queue {
    struct desc desc[QUEUE_SIZE] __attribute__((aligned(16)));
    struct {
        uint16_t flags;
        uint16_t idx;
        uint16_t ring[QUEUE_SIZE];
        uint16_t used_event;
    } avail __attribute__((aligned(2)));
    struct {
        uint16_t flags;
        uint16_t idx;
        struct used_elem ring[QUEUE_SIZE];
        uint16_t avail_event;
    } used __attribute__((aligned(4)));
    uint8_t buffer[CHUNK] __attribute__((aligned(8)));
    uint16_t last_used;
};

static struct rng_queue queue;
static uintptr_t device; // 0 until found and started
static bool tried;

static bool start_device(void) {
    uint32_t irq = 0;
    uintptr_t base = pg_virtio_find(DEVICE_ENTROPY, &irq);
    if (base == 0 || !pg_virtio_negotiate(base, 0)) {
        return false;
    }
    REG(base, MMIO_QUEUE_SEL) = 0;
    if (REG(base, MMIO_QUEUE_READY) != 0 || REG(base, MMIO_QUEUE_NUM_MAX) < QUEUE_SIZE) {
        return false;
    }
    memset(&queue, 0, sizeof(queue));
    queue.desc[0].addr = (uintptr_t)queue.buffer;
    queue.desc[0].flags = DESC_F_WRITE;
    REG(base, MMIO_QUEUE_NUM) = QUEUE_SIZE;
    REG(base, MMIO_QUEUE_DESC_LOW) = (uintptr_t)queue.desc;
    REG(base, MMIO_QUEUE_DESC_HIGH) = 0;
    REG(base, MMIO_QUEUE_DRIVER_LOW) = (uintptr_t)&queue.avail;
    REG(base, MMIO_QUEUE_DRIVER_HIGH) = 0;
    REG(base, MMIO_QUEUE_DEVICE_LOW) = (uintptr_t)&queue.used;
    REG(base, MMIO_QUEUE_DEVICE_HIGH) = 0;
    barrier();
    REG(base, MMIO_QUEUE_READY) = 1;
    REG(base, MMIO_STATUS) = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK;
    device = base;
    return true;
}

// Up to CHUNK bytes from the device into `out`; how many it gave (0: none, or no answer in time).
static size_t request(uint8_t *out, size_t want) {
    queue.desc[0].len = (uint32_t)want;
    queue.avail.ring[queue.avail.idx % QUEUE_SIZE] = 0;
    barrier();
    queue.avail.idx++;
    barrier();
    REG(device, MMIO_QUEUE_NOTIFY) = 0;
    uint64_t give_up = pg_board_micros() + GIVE_UP_US;
    for (;;) {
        barrier();
        if (queue.used.idx != queue.last_used) {
            break;
        }
        if (pg_board_micros() > give_up) {
            return 0;
        }
    }
    uint32_t got = queue.used.ring[queue.last_used % QUEUE_SIZE].len;
    queue.last_used++;
    REG(device, MMIO_INTERRUPT_ACK) = REG(device, MMIO_INTERRUPT_STATUS);
    if (got > want) {
        got = (uint32_t)want;
    }
    memcpy(out, queue.buffer, got);
    return got;
}

bool pg_board_entropy(void *buf, size_t len) {
    if (!tried) {
        tried = true;
        start_device();
    }
    if (device == 0) {
        return false;
    }
    uint8_t *out = buf;
    while (len > 0) {
        size_t got = request(out, len < CHUNK ? len : CHUNK);
        if (got == 0) {
            return false;
        }
        out += got;
        len -= got;
    }
    return true;
}
