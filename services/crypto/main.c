// main.c — weft-crypto: the Noise sessions between this node and its peers.
#include "crypto_actor.h"

int main(int argc, char **argv)
{
    return service_main(argc, argv, SVC_CRYPTO,
                        "weft-crypto: Noise IKpsk2 handshakes and per-peer packet encryption", crypto_actor);
}
