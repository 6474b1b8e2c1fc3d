// sas.h — the short authentication string `weft verify` shows: two people compare it (aloud, or on a
// call) to confirm that each one's node sees the other's real node id, with nobody in between.
//
// sas = BLAKE2b-256("weft-sas-v1" || mesh_id || smaller id || larger id), first 4 bytes big endian
// mod 10^6, shown as "123 456". The ids are sorted, so both sides compute the same string.
#ifndef WEFT_SAS_H
#define WEFT_SAS_H

#include <stdint.h>

#include "cert.h"

#define SAS_LEN 8   // "123 456" + NUL

// mesh_id may be NULL (a node without a mesh id): sixteen zero bytes are used instead.
void sas_compute(const uint8_t id_a[32], const uint8_t id_b[32], const uint8_t *mesh_id, char out[SAS_LEN]);

#endif
