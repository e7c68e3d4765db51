// Finding and starting virtio-mmio devices on QEMU's `virt` machine (virtio_mmio.h).
#include "py/mphal.h"

#include "virtio_mmio.h"

uintptr_t pg_virtio_find(uint32_t device_id, uint32_t *irq) {
    for (uint32_t slot = VIRTIO_SLOTS; slot-- > 0;) {
        uintptr_t base = VIRTIO_SLOT0 + slot * VIRTIO_SLOT_SIZE;
        if (REG(base, MMIO_MAGIC) != MAGIC_VIRT || REG(base, MMIO_DEVICE_ID) != device_id) {
            continue;
        }
        if (REG(base, MMIO_VERSION) != 2) {
            mp_hal_stdout_tx_str("virtio: legacy transport; start QEMU with -global virtio-mmio.force-legacy=false\n");
            return 0;
        }
        *irq = VIRTIO_IRQ0 + slot;
        return base;
    }
    return 0;
}

bool pg_virtio_negotiate(uintptr_t base, uint32_t features_low) {
    REG(base, MMIO_STATUS) = 0;
    while (REG(base, MMIO_STATUS) != 0) {
    }
    REG(base, MMIO_STATUS) = STATUS_ACKNOWLEDGE;
    REG(base, MMIO_STATUS) = STATUS_ACKNOWLEDGE | STATUS_DRIVER;
    REG(base, MMIO_DEVICE_FEATURES_SEL) = 0;
    uint32_t offered_low = REG(base, MMIO_DEVICE_FEATURES);
    REG(base, MMIO_DEVICE_FEATURES_SEL) = 1;
    uint32_t offered_high = REG(base, MMIO_DEVICE_FEATURES);
    if (!(offered_high & (1u << F_VERSION_1_HIGH)) || (offered_low & features_low) != features_low) {
        return false;
    }
    REG(base, MMIO_DRIVER_FEATURES_SEL) = 0;
    REG(base, MMIO_DRIVER_FEATURES) = features_low;
    REG(base, MMIO_DRIVER_FEATURES_SEL) = 1;
    REG(base, MMIO_DRIVER_FEATURES) = 1u << F_VERSION_1_HIGH;
    REG(base, MMIO_STATUS) = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK;
    return (REG(base, MMIO_STATUS) & STATUS_FEATURES_OK) != 0;
}
