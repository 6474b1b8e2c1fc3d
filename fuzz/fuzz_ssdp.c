// fuzz_ssdp.c — libFuzzer target: arbitrary bytes as an SSDP answer into weft-nat's LOCATION parser
// (services/nat/ssdp.c). What it returns must be a printable http:// URL that fits.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ssdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char location[SSDP_LOCATION_MAX];
    if (ssdp_parse_location((const char *)data, size, location) != 0)
        return 0;
    size_t n = strlen(location);
    if (n < 8 || n >= SSDP_LOCATION_MAX || strncasecmp(location, "http://", 7) != 0)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)location[i] <= ' ' || (unsigned char)location[i] >= 0x7f)
            abort();
    return 0;
}
