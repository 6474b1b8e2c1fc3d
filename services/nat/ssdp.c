// ssdp.c — one SSDP M-SEARCH for an Internet Gateway Device, first answer wins (see ssdp.h).
#include "ssdp.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define SSDP_ADDR "239.255.255.250"
#define SSDP_PORT 1900

int ssdp_parse_location(const char *buf, size_t len, char location[SSDP_LOCATION_MAX])
{
    // header lines end with CRLF (a bare LF is accepted); the first line is the status line
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && buf[end] != '\n')
            end++;
        size_t line_len = end - pos;
        if (line_len && buf[pos + line_len - 1] == '\r')
            line_len--;
        const char *line = buf + pos;
        if (line_len > 9 && strncasecmp(line, "location:", 9) == 0) {
            size_t v = 9;
            while (v < line_len && (line[v] == ' ' || line[v] == '\t'))
                v++;
            size_t value_len = line_len - v;
            if (value_len < 8 || value_len >= SSDP_LOCATION_MAX || strncasecmp(line + v, "http://", 7) != 0)
                return -1;
            for (size_t i = 0; i < value_len; i++)
                if ((unsigned char)line[v + i] <= ' ' || (unsigned char)line[v + i] >= 0x7f)
                    return -1;
            memcpy(location, line + v, value_len);
            location[value_len] = '\0';
            return 0;
        }
        pos = end + 1;
    }
    return -1;
}

int ssdp_find_igd(int timeout_ms, char location[SSDP_LOCATION_MAX])
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    unsigned char ttl = 2;
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(SSDP_PORT)};
    inet_pton(AF_INET, SSDP_ADDR, &to.sin_addr);
    const char *search = "M-SEARCH * HTTP/1.1\r\n"
                         "HOST: " SSDP_ADDR ":1900\r\n"
                         "ST: " SSDP_IGD_TYPE "\r\n"
                         "MAN: \"ssdp:discover\"\r\n"
                         "MX: 1\r\n\r\n";
    int rc = -1;
    int64_t deadline = zclock_mono() + timeout_ms, resend = 0;
    while (rc != 0) {
        int64_t now = zclock_mono();
        if (now >= deadline)
            break;
        if (now >= resend) {   // UDP may lose it: once more halfway
            if (sendto(fd, search, strlen(search), 0, (struct sockaddr *)&to, sizeof to) < 0)
                break;   // no route to the multicast group: no gateway here
            resend = now + (timeout_ms / 2 > 50 ? timeout_ms / 2 : 50);
        }
        int64_t wait = (resend < deadline ? resend : deadline) - now;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)(wait > 0 ? wait : 0)) <= 0)
            continue;
        char buf[2048];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0)
            rc = ssdp_parse_location(buf, (size_t)n, location);
    }
    close(fd);
    return rc;
}
