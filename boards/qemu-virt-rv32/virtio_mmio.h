// The virtio-mmio transport of QEMU's `virt` machine, as the board's drivers use it (virtio 1.1,
// sections 2.6 and 4.2): register offsets, status bits, descriptors, and finding a device.
#pragma once

#include <stdbool.h>
#include <stdint.h>

// virt: eight virtio-mmio slots from 0x1000_1000, 0x1000 apart, on PLIC lines 1..8.
#define VIRTIO_SLOT0 0x10001000u
#define VIRTIO_SLOT_SIZE 0x1000u
#define VIRTIO_SLOTS 8u
#define VIRTIO_IRQ0 1u

#define REG(base, offset) (*(volatile uint32_t *)((base) + (offset)))
#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC_LOW 0x080
#define MMIO_QUEUE_DESC_HIGH 0x084
#define MMIO_QUEUE_DRIVER_LOW 0x090
#define MMIO_QUEUE_DRIVER_HIGH 0x094
#define MMIO_QUEUE_DEVICE_LOW 0x0a0
#define MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define MMIO_CONFIG 0x100

#define MAGIC_VIRT 0x74726976u
#define STATUS_ACKNOWLEDGE 1u
#define STATUS_DRIVER 2u
#define STATUS_DRIVER_OK 4u
#define STATUS_FEATURES_OK 8u
#define F_VERSION_1_HIGH 0u   // feature bit 32: bit 0 of feature word 1
#define DESC_F_WRITE 2u

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
struct used_elem {
    uint32_t id;
    uint32_t len;
};
static inline void barrier(void) {
    __sync_synchronize();
}

// The register base of the first modern (version 2) device with `device_id`, and its PLIC line;
// 0 when there is none.
uintptr_t pg_virtio_find(uint32_t device_id, uint32_t *irq);

// Resets the device at `base` and negotiates features (VERSION_1 plus `features_low`, bits 0..31):
// ACKNOWLEDGE, DRIVER, FEATURES_OK. False when the device lacks one of them.
bool pg_virtio_negotiate(uintptr_t base, uint32_t features_low);
