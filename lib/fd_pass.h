// fd_pass.h — passing one file descriptor, with a short text tag that says what it is, over a unix stream
// socket (SCM_RIGHTS). One message is the tag's bytes and a '\n', sent in one sendmsg with the fd attached:
//
//     "tun weft0 vnet_hdr=10 offload=csum,tso4,tso6 mtu=1400\n" + SCM_RIGHTS(fd)
//
// The receiver gets its own fd for the same open file (the sender keeps its own). A message without an fd,
// with more than one, or whose tag is too long or not ended by '\n' is refused with an error, and any fd it
// carried is closed: nothing a peer sends leaks an fd or stops the receiver. What is asked for and when
// (the request line before a send) is the protocol of the user of this module (services/device/tun_lend.h).
// The socket file is made mode 0600; the directory it lives in should be the node's run dir (0700).
#ifndef WEFT_FD_PASS_H
#define WEFT_FD_PASS_H

#include <stddef.h>

#define FD_PASS_TAG_MAX 255   // bytes of a tag, without its '\n'

// A listening unix stream socket (SOCK_NONBLOCK | SOCK_CLOEXEC) bound at path, mode 0600. A stale socket
// file at path is removed first; any other kind of file there is an error. Returns the fd, or -1 with err.
int fd_pass_listen(const char *path, char *err, size_t err_len);

// Accepts one connection (non-blocking, close-on-exec). Returns the fd, or -1 with err (errno EAGAIN when
// nothing was waiting).
int fd_pass_accept(int listen_fd, char *err, size_t err_len);

// A blocking, close-on-exec connection to the socket at path. Returns the fd, or -1 with err.
int fd_pass_connect(const char *path, char *err, size_t err_len);

// Sends fd with tag (1..FD_PASS_TAG_MAX bytes, no '\n'). Returns 0, or -1 with err.
int fd_pass_send(int sock, int fd, const char *tag, char *err, size_t err_len);

// Receives one message: returns the received fd (close-on-exec) with its tag in tag_buf (NUL-terminated,
// without the '\n'), or -1 with err: the peer closed, sent no fd, more than one fd, a tag longer than
// FD_PASS_TAG_MAX or than tag_len - 1, or a tag with a NUL or no '\n'. Blocks if sock does.
int fd_pass_recv(int sock, int *fd, char *tag_buf, size_t tag_len, char *err, size_t err_len);

#endif
