/*
 * fuzz_cookie_reply.c - libFuzzer target for the cookie reply (datagram type 3, docs/protocol.md): the
 * bytes go to the decoder (crypto_datagram_decode), to the cookie's decryption (cookie_read_reply) and,
 * as a datagram from the member, into a session table that has an initiation in flight to it
 * (fuzz_sessions_receive: session_set_inbound), where an accepted reply makes it send the initiation again with mac2.
 *
 * Input: byte 0 is the mode, the rest the reply. Bit 0 clear: the reply as given (bit 1 set: its
 * receiver index is replaced by the index of the initiation in flight). Bit 0 set: a genuine reply made
 * by the member with the pair's key, XORed with the rest of the input (so mutations start from a reply
 * that decrypts).
 *
 *   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_cookie_reply && ./bin/fuzz_cookie_reply fuzz/corpus/cookie_reply
 */
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "cookie.h"
#include "crypto_wire.h"
#include "fuzz_sessions.h"
#include "identity.h"
#include "session.h"

static fuzz_sessions_t f;
static service_t svc;
static packet_batch_t *to_wire, *to_device;
static uint8_t local_id[32];
static cookie_checker_t peer_checker;      // the member's side: makes genuine replies
static cookie_maker_t peer_maker;          // the member's keys for us (the pair's cookie key)
static uint32_t pending_index;
static int64_t now_ms = 1000;
static const uint8_t packet[20] = {0x45};   // for the member: keeps a handshake in flight

// Remembers the newest initiation the table sent, then empties both batches.
static void collect(void)
{
    size_t offset = 0;
    for (size_t i = 0; i < to_wire->count; i++) {
        const uint8_t *p = to_wire->data + offset;
        if (to_wire->lengths[i] == CRYPTO_INITIATION_LEN && p[0] == CRYPTO_MSG_INITIATION)
            pending_index = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        offset += to_wire->lengths[i];
    }
    packet_batch_reset(to_wire);
    packet_batch_reset(to_device);
}

static void setup(void)
{
    fuzz_sessions_init(&f, &svc);
    memcpy(local_id, f.local.public_key, 32);
    uint8_t x_public[32], x_secret[32], local_public[32], unused[32];
    identity_x25519(&f.local, local_public, unused);
    to_wire = f.to_wire;
    to_device = f.to_device;
    identity_x25519(&f.peer, x_public, x_secret);
    cookie_checker_init(&peer_checker, x_public);
    if (cookie_maker_init(&peer_maker, local_public, x_secret) != 0)
        __builtin_trap();
    // one packet for the member starts the handshake whose initiation the replies answer
    session_time_t now = {.mono_ms = now_ms, .unix_ns = 1700000000000000000LL};
    fuzz_sessions_send(&f, packet, sizeof packet, &now);
    collect();
    if (!pending_index)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!f.sessions)
        setup();
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    uint8_t reply[CRYPTO_COOKIE_REPLY_LEN + 64];
    size_t len;
    if (mode & 1) {
        len = CRYPTO_COOKIE_REPLY_LEN;
        crypto_write_cookie_header(reply, pending_index);
        if (cookie_reply_body(&peer_checker, peer_maker.cookie_key, reply, local_id, now_ms,
                              reply + CRYPTO_COOKIE_HEADER_LEN) != 0)
            __builtin_trap();
        for (size_t i = 0; i < size && i < len; i++)
            reply[i] ^= data[i];
    } else {
        len = size < sizeof reply ? size : sizeof reply;
        memcpy(reply, data, len);
        if ((mode & 2) && len >= 8)
            for (int i = 0; i < 4; i++)
                reply[4 + i] = (uint8_t)(pending_index >> (8 * i));
    }
    crypto_datagram_t d;
    if (crypto_datagram_decode(reply, len, &d) == 0 && d.type == CRYPTO_MSG_COOKIE_REPLY) {
        if (len != CRYPTO_COOKIE_REPLY_LEN || d.body != reply + CRYPTO_COOKIE_HEADER_LEN ||
            d.body_len != COOKIE_REPLY_BODY_LEN)
            __builtin_trap();
        cookie_maker_t maker;   // a stranger's keys open no reply
        uint8_t stranger[32] = {9};
        cookie_maker_init(&maker, peer_maker.mac1_key, stranger);
        if (cookie_read_reply(&maker, reply, d.body, d.body_len, now_ms) == 0)
            __builtin_trap();
    }
    now_ms += 10;   // time moves, so retries and cookie ages are exercised too
    session_time_t now = {.mono_ms = now_ms, .unix_ns = 1700000000000000000LL + now_ms * 1000000};
    fuzz_sessions_receive(&f, reply, len, &now);
    fuzz_sessions_tick(&f, &now);
    fuzz_sessions_send(&f, packet, sizeof packet, &now);   // a new one if given up
    collect();
    return 0;
}
