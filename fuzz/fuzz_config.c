// fuzz_config.c — libFuzzer target for the weft.yaml parser (lib/config.c: config_parse with its
// ${VAR} expansion, every key's checks and the cross-key checks). A weft.yaml is local input, but it may
// come from anywhere (a shared example, a generated file, WEFT_* variables); whatever it holds, the parser
// must answer with a clear error or a config, never crash or read past its input.
//
// Checks beyond "no crash": a refused file always says why and names the source; a value with no '$'
// expands to itself; an expanded value always fits and is terminated.
//
//   cmake -DCMAKE_C_COMPILER=clang ... && make fuzz_config && ./bin/fuzz_config fuzz/corpus/config
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_expand.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static weft_config_t cfg;
    static int once;
    if (!once) {
        once = 1;
        setenv("WEFT_FUZZ_SET", "10.0.0.1", 1);   // so ${WEFT_FUZZ_SET} takes the "set" path
        setenv("WEFT_FUZZ_EMPTY", "", 1);
    }
    config_defaults(&cfg, "/tmp/weft-fuzz-home");
    char err[512];
    err[0] = '\0';
    if (config_parse(&cfg, (const char *)data, size, "fuzz.yaml", err, sizeof err) != 0) {
        if (strncmp(err, "fuzz.yaml", 9) != 0)
            abort();  // every refusal names the file (and, where known, the line)
    }

    // the expander alone, on the input as one C string
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char out[128], why[200];
    memset(out, 'x', sizeof out);
    why[0] = '\0';
    if (config_expand(text, out, sizeof out, why, sizeof why) == 0) {
        if (memchr(out, '\0', sizeof out) == NULL)
            abort();
        if (!strchr(text, '$') && strlen(text) < sizeof out && strcmp(out, text) != 0)
            abort();
    } else if (!why[0]) {
        abort();  // a refused value says why
    }
    free(text);
    return 0;
}
