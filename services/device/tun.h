// tun.h — the node's TUN device: an L3 (IFF_TUN | IFF_NO_PI) interface opened non-blocking, with its
// overlay address, netmask (which makes the kernel add the connected route), MTU and IFF_UP set by ioctl.
// With device.mode tap it is an L2 TAP device instead (IFF_TAP | IFF_NO_PI: Ethernet frames, see ether.h),
// never with offload, and with the MAC address device.mac when one is set.
// The device is not persistent: it disappears when the last fd on it is closed (or the process dies).
//
// An L3 device is multi-queue (IFF_MULTI_QUEUE): each fd opened on the name is a queue of the same
// interface. weft-device lends its fd to the data plane (tun_lend.h), which then holds the same queue; if device
// restarts meanwhile, the data plane's fd keeps the interface (address, routes) alive, and the new device attaches
// a second queue instead of failing with EBUSY (tun_configure sets the same address, netmask and MTU again,
// which the kernel takes as no change). While two queues are attached the kernel spreads outbound flows
// over both (by flow hash) and takes writes on either. So device reads its queue whenever it is NOT lent,
// including in that window after a restart (its flows go the slow path through router, the data plane's the direct
// one); once the data plane connects again it is lent device's new queue and closes its older one, leaving one
// queue, read by the data plane only. Device never reads while lent, and never closes its fd while lent.
// The queue's flags (vnet header, offloads) are the interface's: every queue is opened with the same ones.
//
// With offload the device also has IFF_VNET_HDR (a 10-byte struct virtio_net_hdr before every packet read
// or written) and TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6: reads may return TCP super-packets of up to 64 KiB
// and packets whose checksum is left to finish (segment.h handles both).
#ifndef WEFT_DEVICE_TUN_H
#define WEFT_DEVICE_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tun tun_t;

// Opens (creates) the TUN device `name`, with offload if asked for. If the kernel refuses the vnet header
// or the offloads, the device is created without them: tun_offload() is then false and tun_offload_note()
// says why. Returns NULL with err filled on failure.
tun_t *tun_new(const char *name, bool offload, char *err, size_t err_len);
// Opens (creates) the TAP device `name`. Returns NULL with err filled on failure.
tun_t *tun_new_tap(const char *name, char *err, size_t err_len);
void tun_destroy(tun_t **self);

// Sets the IPv4 address (dotted quad), prefix length (1..32) and MTU, then brings the link up.
// Returns 0, or -1 with err filled.
int tun_configure(tun_t *self, const char *addr, int prefix, int mtu, char *err, size_t err_len);

int tun_fd(const tun_t *self);
// A TAP device (Ethernet frames)?
bool tun_is_tap(const tun_t *self);
// TAP: sets the device's MAC address (before tun_configure brings it up) / reads it. 0, or -1 with err.
int tun_set_mac(tun_t *self, const uint8_t mac[6], char *err, size_t err_len);
int tun_get_mac(const tun_t *self, uint8_t mac[6], char *err, size_t err_len);
// Does every read and write carry a virtio_net_hdr (offload on)?
bool tun_offload(const tun_t *self);
// Why offload is off although it was asked for ("" otherwise).
const char *tun_offload_note(const tun_t *self);
// The name the kernel gave the device.
const char *tun_name(const tun_t *self);

#endif
