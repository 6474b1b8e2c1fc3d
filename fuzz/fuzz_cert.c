// fuzz_cert.c — libFuzzer target for the membership decoders a peer or the hub can feed (lib/cert.c): a
// certificate from a Noise handshake payload and a revocation from a PeerList. The input is decoded
// as both; an accepted certificate is checked (cert_check), re-encoded and must give the same bytes
// back, and its hex form must decode too; a refusal must say why. The input is also read as the hex
// text of a member.cert file.
//
//   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_cert && ./bin/fuzz_cert fuzz/corpus/cert
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    cert_t cert;
    err[0] = '\0';
    if (cert_decode(data, size, &cert, err, sizeof err) == 0) {
        uint8_t again[CERT_LEN];
        cert_encode(&cert, again);
        if (size != CERT_LEN || memcmp(again, data, CERT_LEN) != 0)
            abort();   // decode and encode disagree
        char hex[CERT_HEX_LEN];
        cert_t back;
        cert_to_hex(&cert, hex);
        if (cert_from_hex(hex, &back, err, sizeof err) != 0 || memcmp(&back, &cert, sizeof cert) != 0)
            abort();
        (void)cert_check(&cert, cert.mesh_id, cert.issuer_key, cert.issued, err, sizeof err);
        (void)cert_check(&cert, cert.mesh_id, cert.issuer_key, UINT64_MAX, err, sizeof err);
    } else if (!err[0]) {
        abort();   // a refusal without a reason
    }

    revocation_t rev;
    err[0] = '\0';
    if (revocation_decode(data, size, &rev, err, sizeof err) == 0) {
        uint8_t again[REVOCATION_LEN];
        revocation_encode(&rev, again);
        if (size != REVOCATION_LEN || memcmp(again, data, REVOCATION_LEN) != 0)
            abort();
        (void)revocation_check(&rev, rev.mesh_id, rev.issuer_key, err, sizeof err);
    } else if (!err[0]) {
        abort();
    }

    // the same bytes as a member.cert file's text
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    err[0] = '\0';
    if (cert_from_hex(text, &cert, err, sizeof err) != 0 && !err[0])
        abort();
    free(text);
    return 0;
}
