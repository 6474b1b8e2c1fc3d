// tun_borrow.h — the TUN device the data plane borrows from device (the data plane: docs/architecture.md): the
// connection to device's lending socket (services/device/tun_lend.h: "tun?" -> the fd and its tag), the
// borrowed fd and its batched reads and writes (lib/tun_io.h). While the data plane holds it, it reads the
// packets the kernel routes into the overlay and writes the ones it decrypts, so a packet on a direct path
// crosses no ZeroMQ hop. Device reads the TUN again as soon as the connection closes (the data plane exits, or
// gives the fd back when device's end closes: device restarted).
#ifndef WEFT_TUN_BORROW_H
#define WEFT_TUN_BORROW_H

#include <stdbool.h>
#include <stddef.h>

#include "service.h"
#include "tun_io.h"

typedef struct tun_borrow tun_borrow_t;

// For device's lending socket at path (endpoints.device_tun). NULL when out of memory.
tun_borrow_t *tun_borrow_new(service_t *svc, const char *path);
// Gives the TUN back (closes the fd and the connection).
void tun_borrow_destroy(tun_borrow_t **self);

// Asks device for the TUN if the data plane has neither it nor a request out (at most every few seconds).
// Returns the connection's fd to watch when a request went out, else -1.
int tun_borrow_ask(tun_borrow_t *self, int64_t now_ms);
// The connection is readable: the fd device answered with (returns the TUN fd to watch, tun_io ready), or
// device's end closed or refused (returns -1: everything given back; the caller forgets the connection's
// and the TUN's fds it watched, which are passed back in *conn_fd and *tun_fd, -1 when none).
int tun_borrow_on_answer(tun_borrow_t *self, int *conn_fd, int *tun_fd);

// The borrowed TUN's reads and writes, or NULL while the data plane does not hold it.
tun_io_t *tun_borrow_io(tun_borrow_t *self);
int tun_borrow_conn_fd(const tun_borrow_t *self);

#endif
