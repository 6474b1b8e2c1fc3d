// fuzz_wire.c — libFuzzer target for what a service does with one inbox message (lib/wire.h): the input
// is cut into one or two ZeroMQ frames, the Envelope frame is decoded and judged exactly as wire_recv
// does, a PacketBatch is checked and walked with packet_view_init/packet_view_next (every packet byte
// and every peer id is read, so ASan sees any walk past the payload frame), and a PeerList gets the
// store-independent checks the services make of it (32-byte ids, overlay and hub field checks,
// inet_pton of each overlay address). A Signal gets the hub's field checks, as discovery does.
//
// Input: byte 0 chooses the framing. Even: one frame, the rest of the input. Odd: two frames; bytes 1-2
// are the Envelope frame's length (little-endian, cut to what is left) and the payload frame is the rest.
//
//   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_wire && ./bin/fuzz_wire fuzz/corpus/wire
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub_proto.h"
#include "wire.h"

// Sinks reads the optimiser must keep, so that every byte the walk hands out is really touched.
static volatile uint8_t sink;

static void touch(const uint8_t *p, size_t len)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc ^= p[i];
    sink ^= acc;
}

static void walk_batch(const Weft__PacketBatch *hdr, zframe_t *payload)
{
    char why[160];
    packet_view_t view;
    if (packet_view_init(&view, hdr, payload, why, sizeof why) != 0) {
        if (!why[0])
            abort();  // a refused batch always says why
        return;
    }
    const uint8_t *base = zframe_data(payload), *end = base + zframe_size(payload);
    const uint8_t *pkt, *peer;
    size_t len, count = 0, bytes = 0;
    while (packet_view_next(&view, &pkt, &len, &peer)) {
        // small frames live inside zframe_t (ZeroMQ's in-place messages), where ASan cannot see an
        // overrun: check the bounds too
        if (pkt < base || len > (size_t)(end - pkt))
            abort();
        touch(pkt, len);
        if (peer)
            touch(peer, WIRE_ID_LEN);
        else if (hdr->n_peer_index)
            abort();  // a batch with peer indexes gives every packet a peer
        count++;
        bytes += len;
    }
    // the walk covers the payload exactly, one step per length
    if (count != hdr->n_lengths || bytes != zframe_size(payload))
        abort();
}

// What router, crypto and nat check of each entry before it reaches their tables or Redis.
static void check_peer_list(const Weft__PeerList *list)
{
    sink ^= (uint8_t)hub_valid_mesh(list->mesh);
    for (size_t i = 0; i < list->n_peers; i++) {
        const Weft__Peer *entry = list->peers[i];
        if (!entry)
            abort();  // protobuf-c never leaves a hole in a repeated message
        if (entry->id.len != WIRE_ID_LEN)
            continue;
        touch(entry->id.data, WIRE_ID_LEN);
        sink ^= (uint8_t)(hub_valid_id(entry->id) + hub_valid_name(entry->name) + hub_valid_ipv4(entry->overlay_addr));
        struct in_addr addr;
        if (entry->overlay_addr && inet_pton(AF_INET, entry->overlay_addr, &addr) == 1)
            sink ^= (uint8_t)addr.s_addr;
    }
}

static void check_signal(const Weft__Signal *sig)
{
    char why[160];
    if (hub_valid_signal(sig, why, sizeof why)) {
        touch(sig->from.data, sig->from.len);
        touch(sig->to.data, sig->to.len);
    }
}

static void check_status(const Weft__ServiceStatus *st)
{
    sink ^= (uint8_t)strlen(st->service) ^ (uint8_t)strlen(st->detail);
    for (size_t i = 0; i < st->n_counters; i++)
        sink ^= (uint8_t)strlen(st->counters[i]->name) ^ (uint8_t)st->counters[i]->value;
}

// wire_recv after zmsg_recv: the same checks in the same order, on frames built from the input.
static void handle(zframe_t *head, zframe_t *payload)
{
    size_t frames = payload ? 2 : 1;
    Weft__Envelope *env = weft__envelope__unpack(NULL, zframe_size(head), zframe_data(head));
    if (!env)
        return;
    bool wants_payload = env->body_case == WEFT__ENVELOPE__BODY_PACKETS;
    if (env->body_case != WEFT__ENVELOPE__BODY__NOT_SET && wants_payload == (frames == 2)) {
        switch (env->body_case) {
        case WEFT__ENVELOPE__BODY_PACKETS: walk_batch(env->packets, payload); break;
        case WEFT__ENVELOPE__BODY_PEERS: check_peer_list(env->peers); break;
        case WEFT__ENVELOPE__BODY_SIGNAL: check_signal(env->signal); break;
        case WEFT__ENVELOPE__BODY_STATUS: check_status(env->status); break;
        case WEFT__ENVELOPE__BODY_STATUS_REQUEST: sink ^= (uint8_t)env->status_request->verbose; break;
        default: break;
        }
    }
    // what decodes must pack again (discovery forwards a Signal as received). Whether that decodes once
    // more is not asserted: protobuf-c 1.4 takes field number 0 when written as an overlong varint
    // (80 00) and keeps it as an unknown field, but refuses the 00 it packs it as.
    size_t size = weft__envelope__get_packed_size(env);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    if (weft__envelope__pack(env, buf) != size)
        abort();
    Weft__Envelope *again = weft__envelope__unpack(NULL, size, buf);
    if (again && again->body_case != env->body_case)
        abort();
    weft__envelope__free_unpacked(again, NULL);
    free(buf);
    weft__envelope__free_unpacked(env, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool two = data[0] & 1;
    data++, size--;
    size_t head_len = size;
    if (two) {
        if (size < 2)
            return 0;
        head_len = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2, size -= 2;
        if (head_len > size)
            head_len = size;
    }
    // zframe_new copies: each frame is its own heap block, so ASan catches a read past either one
    zframe_t *head = zframe_new(data, head_len);
    zframe_t *payload = two ? zframe_new(data + head_len, size - head_len) : NULL;
    if (!head || (two && !payload))
        abort();
    handle(head, payload);
    zframe_destroy(&head);
    zframe_destroy(&payload);
    return 0;
}
