// config_expand.h — ${VAR} expansion of configuration values from the environment (weft.yaml's values
// go through it before they are checked and set).
#ifndef WEFT_CONFIG_EXPAND_H
#define WEFT_CONFIG_EXPAND_H

#include <stddef.h>

// Expands ${VAR}, ${VAR:-default} (default itself expanded; used when VAR is unset or empty) and $$ (a
// literal $) in text, from the environment. A lone $ stays as it is. An unset VAR without a default is an
// error naming it. Returns 0 or -1 with `why` filled.
int config_expand(const char *text, char *out, size_t out_len, char *why, size_t why_len);

#endif
