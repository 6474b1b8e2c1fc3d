// tun.h — the node's TUN device: an L3 (IFF_TUN | IFF_NO_PI) interface opened non-blocking, with its
// overlay address, netmask (which makes the kernel add the connected route), MTU and IFF_UP set by ioctl.
// The device is not persistent: it disappears when the fd is closed (or the process dies).
#ifndef WEFT_DEVICE_TUN_H
#define WEFT_DEVICE_TUN_H

#include <stddef.h>

typedef struct tun tun_t;

// Opens (creates) the TUN device `name`. Returns NULL with err filled on failure.
tun_t *tun_new(const char *name, char *err, size_t err_len);
void tun_destroy(tun_t **self);

// Sets the IPv4 address (dotted quad), prefix length (1..32) and MTU, then brings the link up.
// Returns 0, or -1 with err filled.
int tun_configure(tun_t *self, const char *addr, int prefix, int mtu, char *err, size_t err_len);

int tun_fd(const tun_t *self);
// The name the kernel gave the device.
const char *tun_name(const tun_t *self);

#endif
