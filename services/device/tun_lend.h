// tun_lend.h — weft-device's TUN lending socket (issue 11, the data plane): a unix stream socket
// (endpoints.device_tun, default <home>/run/device.tun, mode 0600) where the data plane (weft-dataplane) borrows the TUN fd, so it
// reads and writes the device itself and a packet crosses no ZeroMQ hop. L3 `tun` mode only.
//
// The protocol, one client at a time:
//   client -> device   "tun?\n"
//   device -> client   one lib/fd_pass message: the TUN fd (SCM_RIGHTS) with the tag line
//                      "tun <ifname> vnet_hdr=<bytes> offload=<csum,tso4,tso6|none> mtu=<mtu>\n"
//                      vnet_hdr=10: every read and write carries a struct virtio_net_hdr (0: none)
//   The fd stays lent while the connection is open; the client sends nothing more. When the connection
//   closes (the client exited or crashed, or sent anything else), device takes the TUN back.
//   A second connection while one is open gets "refused: the TUN is lent to another client\n" and is
//   closed; a request other than "tun?" gets "refused: unknown request (want \"tun?\")\n" and is closed.
// This module owns the sockets and the protocol; device_actor.c stops and resumes its TUN reader.
#ifndef WEFT_DEVICE_TUN_LEND_H
#define WEFT_DEVICE_TUN_LEND_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tun_lend tun_lend_t;

typedef enum {
    TUN_LEND_NOTHING,   // nothing changed (a partial request line)
    TUN_LEND_LENT,      // the client asked and now holds the TUN fd
    TUN_LEND_ENDED,     // the client's connection is closed (by it, or here after a protocol error)
} tun_lend_event_t;

// Listens at path. Returns NULL with err filled.
tun_lend_t *tun_lend_new(const char *path, char *err, size_t err_len);
// Closes the connection and the listener and removes the socket file.
void tun_lend_destroy(tun_lend_t **self);

int tun_lend_listen_fd(const tun_lend_t *self);
// The client's connection, or -1 when there is none.
int tun_lend_client_fd(const tun_lend_t *self);
// Does a client hold the TUN fd?
bool tun_lend_is_lent(const tun_lend_t *self);

// The listener is readable: accepts the connection. Returns its fd, to watch, or -1 when there is none to
// watch: nothing was waiting, or it was a second client, refused with a line and closed (*refused set).
int tun_lend_accept(tun_lend_t *self, bool *refused);

// The client's connection is readable: reads its request and, for "tun?", sends tun_fd with tag.
// TUN_LEND_ENDED: the connection is closed; the caller forgets its old fd and, if it was lent
// (*was_lent), reads the TUN again.
tun_lend_event_t tun_lend_on_client(tun_lend_t *self, int tun_fd, const char *tag, bool *was_lent);
// Closes the client's connection, if any (the TUN is no longer lent).
void tun_lend_drop(tun_lend_t *self);

#endif
