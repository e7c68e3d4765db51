// A Mongoose network driver (struct mg_tcpip_driver) for QEMU's virtio-net card on the `virt`
// machine: the modern virtio-mmio transport (version 2; qemu-run.sh passes
// -global virtio-mmio.force-legacy=false), one receive and one transmit split virtqueue, polled
// by Mongoose's built-in TCP/IP stack. Written from the virtio 1.1 specification (sections 2.6,
// 4.2 and 5.1). The board's address is static: 10.0.2.15/24, gateway 10.0.2.2 (QEMU user
// networking's defaults), so no DHCP exchange delays the first request.
#include <string.h>

#include "py/mphal.h"

#include "mongoose.h"

#include "board.h"
#include "virtio_mmio.h"

#define DEVICE_NET 1u
#define NET_F_MAC 5u          // in feature word 0

#define QUEUE_SIZE 16u
#define RX_QUEUE 0u
#define TX_QUEUE 1u
#define NET_HDR_SIZE 12u      // struct virtio_net_hdr with num_buffers (always, with VERSION_1)
#define BUFFER_SIZE 2048u     // a header and a full Ethernet frame

struct avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[QUEUE_SIZE];
    uint16_t used_event;
};
struct used {
    uint16_t flags;
    uint16_t idx;
    struct used_elem ring[QUEUE_SIZE];
    uint16_t avail_event;
};
struct queue {
    struct desc desc[QUEUE_SIZE] __attribute__((aligned(16)));
    struct avail avail __attribute__((aligned(2)));
    struct used used __attribute__((aligned(4)));
    uint8_t buffers[QUEUE_SIZE][BUFFER_SIZE] __attribute__((aligned(8)));
    uint16_t last_used; // used ring entries consumed so far
    bool busy[QUEUE_SIZE]; // transmit: descriptor handed to the device, not yet returned
    uint16_t next; // transmit: next descriptor to use
};

static struct queue rx_queue, tx_queue;
static uintptr_t card; // the card's register base, 0 until found and started
static uint8_t card_mac[6];
static struct mg_tcpip_if interface;

static bool set_up_queue(uintptr_t base, uint32_t index, struct queue *q, bool receive) {
    REG(base, MMIO_QUEUE_SEL) = index;
    if (REG(base, MMIO_QUEUE_READY) != 0 || REG(base, MMIO_QUEUE_NUM_MAX) < QUEUE_SIZE) {
        return false;
    }
    memset(q, 0, sizeof(*q));
    for (uint32_t i = 0; i < QUEUE_SIZE; i++) {
        q->desc[i].addr = (uintptr_t)q->buffers[i];
        q->desc[i].len = BUFFER_SIZE;
        q->desc[i].flags = receive ? DESC_F_WRITE : 0;
        if (receive) {
            q->avail.ring[i] = (uint16_t)i;
        }
    }
    q->avail.idx = receive ? QUEUE_SIZE : 0;
    REG(base, MMIO_QUEUE_NUM) = QUEUE_SIZE;
    REG(base, MMIO_QUEUE_DESC_LOW) = (uintptr_t)q->desc;
    REG(base, MMIO_QUEUE_DESC_HIGH) = 0;
    REG(base, MMIO_QUEUE_DRIVER_LOW) = (uintptr_t)&q->avail;
    REG(base, MMIO_QUEUE_DRIVER_HIGH) = 0;
    REG(base, MMIO_QUEUE_DEVICE_LOW) = (uintptr_t)&q->used;
    REG(base, MMIO_QUEUE_DEVICE_HIGH) = 0;
    barrier();
    REG(base, MMIO_QUEUE_READY) = 1;
    return true;
}

// Finds the card, negotiates features and starts both queues (virtio 1.1, 3.1.1). Once per boot.
static bool start_card(void) {
    uint32_t irq = 0;
    uintptr_t base = pg_virtio_find(DEVICE_NET, &irq);
    if (base == 0) {
        return false;
    }
    if (!pg_virtio_negotiate(base, 1u << NET_F_MAC)) {
        return false;
    }
    if (!set_up_queue(base, RX_QUEUE, &rx_queue, true) || !set_up_queue(base, TX_QUEUE, &tx_queue, false)) {
        return false;
    }
    for (uint32_t i = 0; i < sizeof(card_mac); i++) {
        card_mac[i] = *(volatile uint8_t *)(base + MMIO_CONFIG + i);
    }
    REG(base, MMIO_STATUS) = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK;
    REG(base, MMIO_QUEUE_NOTIFY) = RX_QUEUE;
    pg_board_set_net_irq(irq);
    card = base;
    return true;
}

void pg_board_net_acknowledge(void) {
    if (card == 0) {
        return;
    }
    uint32_t status = REG(card, MMIO_INTERRUPT_STATUS);
    if (status != 0) {
        REG(card, MMIO_INTERRUPT_ACK) = status;
    }
}

bool pg_board_net_rx_pending(void) {
    if (card == 0) {
        return false;
    }
    barrier();
    return rx_queue.used.idx != rx_queue.last_used;
}

static bool driver_init(struct mg_tcpip_if *ifp) {
    (void)ifp;
    return card != 0;
}

// One received frame into `buf` (Mongoose polls this), its buffer handed back to the device.
static size_t driver_rx(void *buf, size_t len, struct mg_tcpip_if *ifp) {
    (void)ifp;
    pg_board_net_acknowledge();
    if (!pg_board_net_rx_pending()) {
        return 0;
    }
    struct used_elem element = rx_queue.used.ring[rx_queue.last_used % QUEUE_SIZE];
    rx_queue.last_used++;
    size_t frame = 0;
    if (element.id < QUEUE_SIZE && element.len > NET_HDR_SIZE && element.len - NET_HDR_SIZE <= len) {
        frame = element.len - NET_HDR_SIZE;
        memcpy(buf, rx_queue.buffers[element.id] + NET_HDR_SIZE, frame);
    }
    if (element.id < QUEUE_SIZE) {
        rx_queue.avail.ring[rx_queue.avail.idx % QUEUE_SIZE] = (uint16_t)element.id;
        barrier();
        rx_queue.avail.idx++;
        barrier();
        REG(card, MMIO_QUEUE_NOTIFY) = RX_QUEUE;
    }
    return frame;
}

// Sends one frame; 0 when every transmit buffer is still with the device or the frame is too big.
static size_t driver_tx(const void *buf, size_t len, struct mg_tcpip_if *ifp) {
    (void)ifp;
    barrier();
    while (tx_queue.last_used != tx_queue.used.idx) {
        uint32_t id = tx_queue.used.ring[tx_queue.last_used % QUEUE_SIZE].id;
        if (id < QUEUE_SIZE) {
            tx_queue.busy[id] = false;
        }
        tx_queue.last_used++;
    }
    uint16_t id = tx_queue.next;
    if (tx_queue.busy[id] || len > BUFFER_SIZE - NET_HDR_SIZE) {
        return 0;
    }
    memset(tx_queue.buffers[id], 0, NET_HDR_SIZE);
    memcpy(tx_queue.buffers[id] + NET_HDR_SIZE, buf, len);
    tx_queue.desc[id].len = (uint32_t)(NET_HDR_SIZE + len);
    tx_queue.busy[id] = true;
    tx_queue.next = (uint16_t)((id + 1) % QUEUE_SIZE);
    tx_queue.avail.ring[tx_queue.avail.idx % QUEUE_SIZE] = id;
    barrier();
    tx_queue.avail.idx++;
    barrier();
    REG(card, MMIO_QUEUE_NOTIFY) = TX_QUEUE;
    return len;
}

// The emulated link is always up.
static bool driver_poll(struct mg_tcpip_if *ifp, bool once_a_second) {
    (void)ifp;
    (void)once_a_second;
    return card != 0;
}

static struct mg_tcpip_driver driver = { driver_init, driver_tx, driver_rx, driver_poll };

void pg_board_net_attach(void *manager) {
    static bool tried;
    if (!tried) {
        tried = true;
        start_card();
    }
    if (card == 0) {
        return; // no card: Mongoose runs without a network (listeners accept nothing)
    }
    memset(&interface, 0, sizeof(interface));
    memcpy(interface.mac, card_mac, sizeof(card_mac));
    interface.ip = MG_IPV4(10, 0, 2, 15);
    interface.mask = MG_IPV4(255, 255, 255, 0);
    interface.gw = MG_IPV4(10, 0, 2, 2);
    interface.driver = &driver;
    mg_tcpip_init((struct mg_mgr *)manager, &interface);
    // Bring the interface up before the manager is used: Mongoose refuses to connect ("network is
    // down") until the link is up and the gateway's MAC is known (one ARP exchange, a few ms).
    // The manager has no connections yet, so these polls call nothing but the stack itself.
    uint64_t give_up = mg_millis() + 1000u;
    while (interface.state != MG_TCPIP_STATE_READY && mg_millis() < give_up) {
        mg_mgr_poll((struct mg_mgr *)manager, 0);
        pg_board_wait_ms(5);
    }
}
