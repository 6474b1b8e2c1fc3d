// weft_tun_borrow.c — weft-tun-borrow: borrows weft-device's TUN fd the way crypto will (tun_lend.h), for
// tests/integration/test_tun_lend.sh. Connects to the lending socket, asks "tun?", prints the tag, reads
// --read packets from the TUN (printing each one's size, protocol and addresses), holds the fd --hold
// seconds, and exits, which gives the TUN back. Exit status 0 when it got the fd and read what it should.
//
//     weft-tun-borrow SOCKET [--read N] [--hold SECONDS] [--timeout SECONDS]
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fd_pass.h"

static int usage(void)
{
    fprintf(stderr, "usage: weft-tun-borrow SOCKET [--read N] [--hold SECONDS] [--timeout SECONDS]\n");
    return 2;
}

// The number after "key=" in tag, or -1.
static long tag_number(const char *tag, const char *key)
{
    const char *at = strstr(tag, key);
    return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

// Reads one packet (after vnet_hdr bytes of virtio_net_hdr) within timeout_s and prints it. 0, or -1.
static int read_packet(int fd, long vnet_hdr, int timeout_s)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc = poll(&pfd, 1, timeout_s * 1000);
    if (rc <= 0) {
        fprintf(stderr, "weft-tun-borrow: no packet from the TUN within %d s\n", timeout_s);
        return -1;
    }
    static unsigned char buf[65536 + 64];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
        fprintf(stderr, "weft-tun-borrow: read from the TUN failed: %s\n", strerror(errno));
        return -1;
    }
    if (n < vnet_hdr + 20 || (buf[vnet_hdr] >> 4) != 4) {
        printf("packet: %zd bytes, not IPv4\n", n);
        return 0;
    }
    const unsigned char *ip = buf + vnet_hdr;
    char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, ip + 12, src, sizeof src);
    inet_ntop(AF_INET, ip + 16, dst, sizeof dst);
    printf("packet: %zd bytes proto %u %s -> %s\n", n - vnet_hdr, ip[9], src, dst);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-')
        return usage();
    int packets = 1, hold = 0, timeout_s = 10;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc)
            return usage();
        int value = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--read") == 0)
            packets = value;
        else if (strcmp(argv[i], "--hold") == 0)
            hold = value;
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout_s = value;
        else
            return usage();
        i++;
    }
    char err[256];
    int sock = fd_pass_connect(argv[1], err, sizeof err);
    if (sock < 0) {
        fprintf(stderr, "weft-tun-borrow: %s\n", err);
        return 1;
    }
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (send(sock, "tun?\n", 5, MSG_NOSIGNAL) != 5)   // device may have refused and closed already:
        fprintf(stderr, "weft-tun-borrow: cannot send the request: %s\n", strerror(errno));   // read why

    int fd = -1;
    char tag[FD_PASS_TAG_MAX + 1];
    if (fd_pass_recv(sock, &fd, tag, sizeof tag, err, sizeof err) < 0) {
        fprintf(stderr, "weft-tun-borrow: %s\n", err);
        return 1;
    }
    printf("tag: %s\n", tag);
    fflush(stdout);
    long vnet_hdr = tag_number(tag, "vnet_hdr=");
    if (strncmp(tag, "tun ", 4) != 0 || vnet_hdr < 0) {
        fprintf(stderr, "weft-tun-borrow: the tag does not describe a TUN device\n");
        return 1;
    }
    for (int i = 0; i < packets; i++)
        if (read_packet(fd, vnet_hdr, timeout_s) < 0)
            return 1;
    if (hold > 0) {
        printf("holding the TUN for %d s\n", hold);
        fflush(stdout);
        sleep((unsigned)hold);
    }
    close(fd);
    close(sock);
    return 0;
}
