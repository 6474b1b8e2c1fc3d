// aead.c — bench/aead: how fast one core seals (and opens) transport packets with each cipher of
// lib/transport.c, the per-packet work of the data plane. Prints Gbit/s of plaintext per core.
//
//   BUILD_DIR/bin/bench-aead (built with the tests: tests/unit/cipher_tests.cmake) [seconds per figure, default 1] [packet bytes, default 1400]
//
// Single-threaded: each figure is one core's. The machine may be shared, so figures are noisy; run it a
// few times. "one-shot" is AES-256-GCM with the key schedule redone per packet (libsodium's plain
// crypto_aead_aes256gcm_encrypt), to show what the precomputed state (beforenm) saves.
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transport.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef enum { SEAL, OPEN, ONE_SHOT } op_t;

// Runs op for about seconds; returns packets per second.
static double run(transport_cipher_t cipher, op_t op, size_t len, double seconds)
{
    static uint8_t plain[65536], sealed[65536 + TRANSPORT_TAG_LEN], out[65536 + TRANSPORT_TAG_LEN];
    transport_sender_t tx = {0};
    transport_receiver_t rx = {0};
    randombytes_buf(tx.key, sizeof tx.key);
    memcpy(rx.key, tx.key, sizeof rx.key);
    replay_init(&rx.window);
    if (transport_sender_set_cipher(&tx, cipher) != 0 || transport_receiver_set_cipher(&rx, cipher) != 0) {
        fprintf(stderr, "bench-aead: %s is not available on this CPU\n", transport_cipher_name(cipher));
        return 0;
    }
    randombytes_buf(plain, len);
    uint64_t packets = 0, counter = 0;
    uint8_t nonce[12] = {0};
    double start = now_s(), elapsed = 0;
    while (elapsed < seconds) {
        for (int i = 0; i < 1000; i++, packets++) {
            if (op == SEAL) {
                transport_encrypt(&tx, plain, len, sealed, &counter);
            } else if (op == ONE_SHOT) {
                nonce[4] = (uint8_t)packets;
                crypto_aead_aes256gcm_encrypt(sealed, NULL, plain, len, NULL, 0, NULL, nonce, tx.key);
            } else {
                if (i == 0)   // a fresh sealed packet now and then; the window takes counters in order
                    transport_encrypt(&tx, plain, len, sealed, &counter);
                size_t out_len;
                replay_init(&rx.window);
                if (transport_decrypt(&rx, counter, sealed, len + TRANSPORT_TAG_LEN, out, &out_len) != 0) {
                    fprintf(stderr, "bench-aead: a packet did not open\n");
                    exit(1);
                }
            }
        }
        elapsed = now_s() - start;
    }
    transport_sender_wipe(&tx);
    transport_receiver_wipe(&rx);
    return (double)packets / elapsed;
}

static void report(const char *what, double pps, size_t len)
{
    if (pps > 0)
        printf("%-40s %6.2f Gbit/s per core  (%.0f packets/s)\n", what, pps * (double)len * 8 / 1e9, pps);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    long len = argc > 2 ? atol(argv[2]) : 1400;
    if (sodium_init() < 0 || seconds <= 0 || len < 1 || len > 65536) {
        fprintf(stderr, "usage: bench-aead [seconds > 0] [packet bytes 1..65536]\n");
        return 2;
    }
    bool aes = transport_aes_available();
    printf("bench-aead: %ld-byte packets, %.1f s per figure, one core; AES-NI %s\n", len, seconds,
           aes ? "yes" : "no (AES-256-GCM figures skipped)");
    report("seal chacha20-poly1305", run(TRANSPORT_CHACHA20_POLY1305, SEAL, (size_t)len, seconds), (size_t)len);
    if (aes)
        report("seal aes-256-gcm", run(TRANSPORT_AES256_GCM, SEAL, (size_t)len, seconds), (size_t)len);
    report("open chacha20-poly1305", run(TRANSPORT_CHACHA20_POLY1305, OPEN, (size_t)len, seconds), (size_t)len);
    if (aes) {
        report("open aes-256-gcm", run(TRANSPORT_AES256_GCM, OPEN, (size_t)len, seconds), (size_t)len);
        report("seal aes-256-gcm one-shot (no beforenm)", run(TRANSPORT_AES256_GCM, ONE_SHOT, (size_t)len, seconds),
               (size_t)len);
    }
    return 0;
}
