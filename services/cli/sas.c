// sas.c — see sas.h.
#include "sas.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char sas_context[] = "weft-sas-v1";

void sas_compute(const uint8_t id_a[32], const uint8_t id_b[32], const uint8_t *mesh_id, char out[SAS_LEN])
{
    static const uint8_t no_mesh[MESH_ID_LEN];
    const uint8_t *lo = id_a, *hi = id_b;
    if (memcmp(id_a, id_b, 32) > 0)
        lo = id_b, hi = id_a;
    crypto_generichash_state st;
    uint8_t digest[32];
    if (sodium_init() < 0) {
        snprintf(out, SAS_LEN, "??? ???");
        return;
    }
    crypto_generichash_init(&st, NULL, 0, sizeof digest);
    crypto_generichash_update(&st, (const uint8_t *)sas_context, sizeof sas_context - 1);
    crypto_generichash_update(&st, mesh_id ? mesh_id : no_mesh, MESH_ID_LEN);
    crypto_generichash_update(&st, lo, 32);
    crypto_generichash_update(&st, hi, 32);
    crypto_generichash_final(&st, digest, sizeof digest);
    uint32_t v = (uint32_t)digest[0] << 24 | (uint32_t)digest[1] << 16 | (uint32_t)digest[2] << 8 | digest[3];
    v %= 1000000u;
    snprintf(out, SAS_LEN, "%03u %03u", v / 1000, v % 1000);
}
