// weft_handshake_flood.c — floods a node's ICE port with handshake initiations, for
// tests/integration/test_handshake_flood.sh and bench/handshake_flood.sh. Only for a lab: run it inside a
// network namespace against addresses in that lab.
//
//   weft-handshake-flood --to IP:PORT [--from IP:PORT] [--rate N] [--seconds S] MODE
//   MODE:
//     random SIZE       type-1 datagrams of SIZE bytes (header 01 00 00 00, random rest): what the old
//                       116-byte initiation looked like to a node that could not check it
//     mac1 NODE_ID      148-byte initiations with a random Noise part and a valid mac1 for the node whose
//                       64-hex id is NODE_ID (anyone who knows the id can make them), no mac2
//     replay PCAP       the initiations (type 1, 148 or 314 bytes) captured in PCAP (tcpdump -w, Ethernet or
//                       Linux cooked), sent again in turn, each from its captured source unless --from
//                       is given, to its captured destination unless --to is given
// --from sends from a forged source address (a raw socket: needs CAP_NET_RAW). --rate is datagrams a
// second (default 20000), --seconds the duration (default 10, at most 600). Prints "sent N".
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cookie.h"
#include "crypto_wire.h"
#include "identity.h"

#define MAX_CAPTURED 256
#define MAX_DATAGRAM 1500

typedef struct {
    struct sockaddr_in from, to;
    bool has_from;
    uint8_t data[CRYPTO_INITIATION_CERT_LEN];
    size_t len;
} datagram_t;

static datagram_t captured[MAX_CAPTURED];
static size_t captured_count;

static int parse_endpoint(const char *text, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host)
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    if (*end || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &out->sin_addr) != 1)
        return -1;
    out->sin_port = htons((uint16_t)port);
    return 0;
}

static uint32_t rd32(const uint8_t *p, bool swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

// Keeps the UDP payload of one captured frame if it is an initiation.
static void keep_frame(const uint8_t *frame, size_t len, uint32_t linktype)
{
    size_t off;
    uint16_t proto;
    if (linktype == 1 && len >= 14) {              // Ethernet
        off = 14;
        proto = (uint16_t)(frame[12] << 8 | frame[13]);
    } else if (linktype == 113 && len >= 16) {     // Linux cooked (tcpdump -i any)
        off = 16;
        proto = (uint16_t)(frame[14] << 8 | frame[15]);
    } else {
        return;
    }
    if (proto != 0x0800 || len < off + 20 || (frame[off] >> 4) != 4 || frame[off + 9] != 17)
        return;
    size_t ihl = (size_t)(frame[off] & 15) * 4;
    if (ihl < 20 || len < off + ihl + 8)
        return;
    const uint8_t *ip = frame + off, *udp = ip + ihl, *payload = udp + 8;
    size_t plen = len - off - ihl - 8;
    if ((plen != CRYPTO_INITIATION_LEN && plen != CRYPTO_INITIATION_CERT_LEN) || payload[0] != CRYPTO_MSG_INITIATION ||
        captured_count == MAX_CAPTURED)
        return;
    datagram_t *d = &captured[captured_count++];
    d->from.sin_family = d->to.sin_family = AF_INET;
    memcpy(&d->from.sin_addr, ip + 12, 4);
    memcpy(&d->to.sin_addr, ip + 16, 4);
    memcpy(&d->from.sin_port, udp, 2);
    memcpy(&d->to.sin_port, udp + 2, 2);
    d->has_from = true;
    memcpy(d->data, payload, plen);
    d->len = plen;
}

static int load_pcap(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t hdr[24];
    int rc = -1;
    if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr) {
        fprintf(stderr, "%s: not a pcap file\n", path);
        goto out;
    }
    uint32_t magic;
    memcpy(&magic, hdr, 4);
    bool swap = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
    if (!swap && magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
        fprintf(stderr, "%s: not a pcap file (pcapng is not read: use tcpdump -w)\n", path);
        goto out;
    }
    uint32_t linktype = rd32(hdr + 20, swap) & 0xffff;
    static uint8_t frame[65536];
    for (int records = 0; records < 1000000; records++) {   // bounded
        uint8_t rec[16];
        if (fread(rec, 1, sizeof rec, f) != sizeof rec)
            break;
        uint32_t incl = rd32(rec + 8, swap);
        if (incl > sizeof frame || fread(frame, 1, incl, f) != incl)
            break;
        keep_frame(frame, incl, linktype);
    }
    rc = 0;
out:
    fclose(f);
    return rc;
}

// An IPv4 + UDP packet from `from` to `to` for a raw socket (the kernel fills the IP checksum, length, id).
static size_t raw_packet(uint8_t *out, const struct sockaddr_in *from, const struct sockaddr_in *to,
                         const uint8_t *payload, size_t len)
{
    memset(out, 0, 28);
    out[0] = 0x45;
    out[8] = 64;
    out[9] = 17;
    memcpy(out + 12, &from->sin_addr, 4);
    memcpy(out + 16, &to->sin_addr, 4);
    memcpy(out + 20, &from->sin_port, 2);
    memcpy(out + 22, &to->sin_port, 2);
    out[24] = (uint8_t)((len + 8) >> 8);
    out[25] = (uint8_t)(len + 8);   // UDP checksum 0: none (IPv4)
    memcpy(out + 28, payload, len);
    return 28 + len;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int usage(void)
{
    fprintf(stderr, "usage: weft-handshake-flood --to IP:PORT [--from IP:PORT] [--rate N] [--seconds S] "
                    "random SIZE | mac1 NODE_ID | replay PCAP\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct sockaddr_in to = {0}, from = {0};
    bool has_to = false, has_from = false;
    long rate = 20000, seconds = 10;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--to") == 0 && parse_endpoint(argv[i + 1], &to) == 0)
            has_to = true;
        else if (strcmp(argv[i], "--from") == 0 && parse_endpoint(argv[i + 1], &from) == 0)
            has_from = true;
        else if (strcmp(argv[i], "--rate") == 0)
            rate = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = strtol(argv[i + 1], NULL, 10);
        else
            return usage();
    }
    if (i + 2 != argc || rate <= 0 || rate > 1000000 || seconds <= 0 || seconds > 600 || sodium_init() < 0)
        return usage();
    const char *mode = argv[i], *arg = argv[i + 1];
    size_t random_size = 0;
    cookie_maker_t maker;
    if (strcmp(mode, "random") == 0) {
        random_size = (size_t)strtoul(arg, NULL, 10);
        if (random_size < 4 || random_size > MAX_DATAGRAM)
            return usage();
    } else if (strcmp(mode, "mac1") == 0) {
        uint8_t id[32], x_public[32];
        if (id_from_hex(arg, id) != 0 || identity_peer_x25519(id, x_public) != 0) {
            fprintf(stderr, "mac1: %s is not a node id (64 hex characters)\n", arg);
            return 2;
        }
        uint8_t own_private[32];   // the attacker's own key: it has no member's, so no cookie
        randombytes_buf(own_private, sizeof own_private);
        cookie_maker_init(&maker, x_public, own_private);
    } else if (strcmp(mode, "replay") == 0) {
        if (load_pcap(arg) != 0)
            return 1;
        if (captured_count == 0) {
            fprintf(stderr, "replay: no initiation in %s\n", arg);
            return 1;
        }
        fprintf(stderr, "replay: %zu initiations from %s\n", captured_count, arg);
    } else {
        return usage();
    }
    if (!has_to && captured_count == 0)
        return usage();
    bool raw = has_from || captured_count > 0;
    int fd = raw ? socket(AF_INET, SOCK_RAW, IPPROTO_RAW) : socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        fprintf(stderr, "socket: %s\n", strerror(errno));
        return 1;
    }
    static uint8_t payload[MAX_DATAGRAM], packet[MAX_DATAGRAM + 28];
    uint64_t sent = 0, failed = 0;
    int64_t start = now_us(), end = start + seconds * 1000000;
    for (int64_t t = start; t < end; t = now_us()) {
        uint64_t due = (uint64_t)((t - start) * rate / 1000000) + 1;
        if (sent + failed >= due) {
            usleep(100);
            continue;
        }
        size_t len;
        const struct sockaddr_in *src = &from, *dst = &to;
        if (random_size) {
            len = random_size;
            randombytes_buf(payload, len);
            payload[0] = CRYPTO_MSG_INITIATION;
            payload[1] = payload[2] = payload[3] = 0;
        } else if (captured_count == 0) {
            len = CRYPTO_INITIATION_LEN;
            crypto_write_initiation_header(payload, randombytes_random());
            randombytes_buf(payload + CRYPTO_INITIATION_HEADER_LEN, len - CRYPTO_INITIATION_HEADER_LEN);
            cookie_add_macs(&maker, payload, len, 0);
        } else {
            const datagram_t *d = &captured[(sent + failed) % captured_count];
            len = d->len;
            memcpy(payload, d->data, len);
            if (!has_from)
                src = &d->from;
            if (!has_to)
                dst = &d->to;
        }
        ssize_t n;
        if (raw)
            n = sendto(fd, packet, raw_packet(packet, src, dst, payload, len), 0, (const struct sockaddr *)dst,
                       sizeof *dst);
        else
            n = sendto(fd, payload, len, 0, (const struct sockaddr *)dst, sizeof *dst);
        if (n < 0)
            failed++;
        else
            sent++;
    }
    close(fd);
    printf("sent %llu failed %llu\n", (unsigned long long)sent, (unsigned long long)failed);
    return sent ? 0 : 1;
}
