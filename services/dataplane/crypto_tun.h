// crypto_tun.h — the TUN device crypto borrows from device (the data plane: docs/architecture.md): the
// connection to device's lending socket (services/device/tun_lend.h: "tun?" -> the fd and its tag), the
// borrowed fd and its batched reads and writes (lib/tun_io.h). While crypto holds it, crypto reads the
// packets the kernel routes into the overlay and writes the ones it decrypts, so a packet on a direct path
// crosses no ZeroMQ hop. Device reads the TUN again as soon as the connection closes (crypto exits, or
// gives the fd back when device's end closes: device restarted).
#ifndef WEFT_CRYPTO_TUN_H
#define WEFT_CRYPTO_TUN_H

#include <stdbool.h>
#include <stddef.h>

#include "service.h"
#include "tun_io.h"

typedef struct crypto_tun crypto_tun_t;

// For device's lending socket at path (endpoints.device_tun). NULL when out of memory.
crypto_tun_t *crypto_tun_new(service_t *svc, const char *path);
// Gives the TUN back (closes the fd and the connection).
void crypto_tun_destroy(crypto_tun_t **self);

// Asks device for the TUN if crypto has neither it nor a request out (at most every few seconds).
// Returns the connection's fd to watch when a request went out, else -1.
int crypto_tun_ask(crypto_tun_t *self, int64_t now_ms);
// The connection is readable: the fd device answered with (returns the TUN fd to watch, tun_io ready), or
// device's end closed or refused (returns -1: everything given back; the caller forgets the connection's
// and the TUN's fds it watched, which are passed back in *conn_fd and *tun_fd, -1 when none).
int crypto_tun_on_answer(crypto_tun_t *self, int *conn_fd, int *tun_fd);

// The borrowed TUN's reads and writes, or NULL while crypto does not hold it.
tun_io_t *crypto_tun_io(crypto_tun_t *self);
int crypto_tun_conn_fd(const crypto_tun_t *self);

#endif
