// udp_guard.c — the kernel filter on a peer path's socket; see udp_guard.h.
#include "udp_guard.h"

#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "datagram.h"

#define STUN_MAGIC_COOKIE 0x2112A442u
// A socket filter on a UDP socket sees the UDP header first: the payload starts at byte 8 and the length
// includes the header (measured: a program testing byte 0 and len against the payload matched nothing).
#define UDP_HDR 8u
#define WORD(type) ((uint32_t)(type) << 24)   // a weft datagram's type and three zero bytes, big-endian

_Static_assert(DATAGRAM_HEADER_LEN == 4, "the program reads the type and the three zero bytes as one word");

enum { ACCEPT = 0xffffffffu, DROP = 0 };

// Jump offsets count from the next instruction; the comments say where each one lands.
static struct sock_filter guard_code[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, UDP_HDR + 4, 0, 23),                  // < 4 bytes: 25 drop
    /* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, UDP_HDR),                               // A = first byte
    /* 3 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, 21, 0),                         // 0x80-0xff: 25 drop
    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40, 19, 0),                         // 0x40-0x7f: 24 accept
    /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
    /* 6 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, UDP_HDR + 8, 0, 18),                  // < 8 bytes: 25 drop
    /* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, UDP_HDR + 4),
    /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, STUN_MAGIC_COOKIE, 15, 0),             // STUN: 24 accept
    /* 9 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, UDP_HDR),                               // A = first word
    /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WORD(DATAGRAM_TRANSPORT), 3, 0),      // 14
    /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WORD(DATAGRAM_INITIATION), 4, 0),     // 16
    /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WORD(DATAGRAM_RESPONSE), 6, 0),       // 19
    /* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WORD(DATAGRAM_COOKIE_REPLY), 8, 11),  // 22, else 25 drop
    /* 14 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),                                    // transport
    /* 15 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, UDP_HDR + DATAGRAM_TRANSPORT_MIN_LEN, 8, 9),
    /* 16 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),                                    // initiation
    /* 17 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, UDP_HDR + DATAGRAM_INITIATION_LEN, 6, 0),
    /* 18 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, UDP_HDR + DATAGRAM_INITIATION_CERT_LEN, 5, 6),
    /* 19 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),                                    // response
    /* 20 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, UDP_HDR + DATAGRAM_RESPONSE_LEN, 3, 0),
    /* 21 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, UDP_HDR + DATAGRAM_RESPONSE_CERT_LEN, 2, 3),
    /* 22 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),                                    // cookie reply
    /* 23 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, UDP_HDR + DATAGRAM_COOKIE_REPLY_LEN, 0, 1),
    /* 24 */ BPF_STMT(BPF_RET | BPF_K, ACCEPT),
    /* 25 */ BPF_STMT(BPF_RET | BPF_K, DROP),
};

bool udp_guard_passes(const uint8_t *d, size_t len)
{
    if (len < 4 || (d[0] & 0x80))
        return false;
    if (d[0] & 0x40)
        return true;
    if (len < 8)
        return false;
    uint32_t cookie = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
    if (cookie == STUN_MAGIC_COOKIE)
        return true;
    return datagram_for_crypto(d, len);
}

int udp_guard_attach(int fd, char *err, size_t err_len)
{
    struct sock_fprog prog = {.len = sizeof guard_code / sizeof guard_code[0], .filter = guard_code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
        snprintf(err, err_len, "cannot attach the path's socket filter: %s", strerror(errno));
        return -1;
    }
    return 0;
}
