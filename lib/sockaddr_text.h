// sockaddr_text.h — socket addresses as weft writes them in config, Redis and messages: "ip:port" for
// IPv4 and "[ip6]:port" for IPv6 ("[fe80::1%3]:port": a link-local address on interface index 3), numeric
// only (no names are resolved). Used by the HTTP servers'
// listen addresses and by crypto's direct paths (the pairs nat hands over).
#ifndef WEFT_SOCKADDR_TEXT_H
#define WEFT_SOCKADDR_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

// Parses text into *out. "*" stands for 0.0.0.0 when allow_any. Returns 0, or -1 with err filled.
int sockaddr_parse(const char *text, bool allow_any, struct sockaddr_storage *out, socklen_t *out_len, char *err,
                   size_t err_len);
// True when both name the same family, address and port (and scope, when both have one).
bool sockaddr_same(const struct sockaddr *a, const struct sockaddr *b);

#endif
