// fuzz_api_json.c — libFuzzer target: arbitrary bytes as what an HTTP client sends the hub's API. The
// first byte picks the decoder: a network body or a peer body (also as a subnet route body) (hub_api_body.c: cJSON and every field
// check), a path (http_path_is_clean and http_path_split, lib/http_server.c), ids, Content-Type.
// What a decoder accepts must satisfy the same checks the hub applies afterwards.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_server.h"
#include "hub_api_body.h"
#include "hub_proto.h"
#include "route_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 5;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char why[200];
    char *text = malloc(len + 1);   // NUL-terminated copy, as libmicrohttpd hands paths and headers over
    if (!text)
        return 0;
    memcpy(text, body, len);
    text[len] = '\0';
    switch (which) {
    case 0: {
        hub_api_network_t net;
        if (hub_api_parse_network(body, len, &net, why, sizeof why) == 0) {
            uint32_t network;
            int prefix;
            if (!hub_valid_mesh(net.name) || !hub_parse_cidr(net.cidr, &network, &prefix) ||
                net.ttl_s > HUB_ROOM_MAX_TTL)
                abort();
        } else if (!why[0]) {
            abort();  // a refusal always says why
        }
        break;
    }
    case 1: {
        hub_api_peer_t peer;
        if (hub_api_parse_peer(body, len, &peer, why, sizeof why) == 0) {
            if (!hub_valid_name(peer.name) || (peer.address[0] && !hub_valid_ipv4(peer.address)))
                abort();
        } else if (!why[0]) {
            abort();
        }
        hub_api_route_t route;   // the same bytes as a subnet route body
        why[0] = '\0';
        if (hub_api_parse_route(body, len, &route, why, sizeof why) == 0) {
            uint32_t net;
            int plen;
            if (ipv4_prefix_from_text(route.prefix, &net, &plen) != 0)
                abort();
        } else if (!why[0]) {
            abort();
        }
        break;
    }
    case 2: {
        bool clean = http_path_is_clean(text);
        char buf[512];
        const char *segs[10];
        int n = http_path_split(text, buf, sizeof buf, segs, 10);
        for (int i = 0; i < n; i++) {
            if (!segs[i][0] || strchr(segs[i], '/'))
                abort();
            if (clean && (strcmp(segs[i], "..") == 0 || strcmp(segs[i], ".") == 0))
                abort();
        }
        break;
    }
    case 3: {
        uint8_t id[16], key[32];
        if (hub_api_parse_mesh_id(text, id) && strlen(text) != 32)
            abort();
        if (hub_api_parse_key(text, key) && strlen(text) != 64)
            abort();
        break;
    }
    default:
        (void)hub_api_is_json(text);
        break;
    }
    free(text);
    return 0;
}
