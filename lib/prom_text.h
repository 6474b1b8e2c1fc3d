// prom_text.h — writes the Prometheus text exposition format (version 0.0.4) that the node API's and the
// hub API's /metrics answer with (services/api/api_metrics.c, services/hub/hub_http.c): families with
// # HELP and # TYPE lines, each written once, and their samples with escaped label values, plus
// weft_build_info. Names are checked against the format's rules: a family or label with a name Prometheus
// does not accept, or a family started again after another one, is left out (and logged) rather than
// breaking the whole scrape.
#ifndef WEFT_PROM_TEXT_H
#define WEFT_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROM_NAME_MAX 128

typedef enum { PROM_COUNTER, PROM_GAUGE } prom_type_t;

typedef struct {
    FILE *out;                      // not owned
    char family[PROM_NAME_MAX];     // the family samples go to; "" before the first or after a refused one
    char **written;                 // every family written so far
    size_t written_count, written_cap;
    bool failed;                    // out of memory or a write error: the text is not complete
} prom_text_t;

void prom_text_init(prom_text_t *self, FILE *out);
// Frees what init and the families took. Returns 0, or -1 when something was not written (out of memory,
// or `out` has an error): the caller then answers 500 rather than half a scrape.
int prom_text_end(prom_text_t *self);

// Starts family `name` for the samples that follow: its # HELP (help escaped) and # TYPE lines, written only
// the first time, so a caller may start the same family before each of its samples. Returns 0, or -1 (logged;
// the samples that follow are left out until the next family) for a name outside [a-zA-Z_:][a-zA-Z0-9_:]*
// or a family written before with another in between (a family's samples must stay together).
int prom_family(prom_text_t *self, const char *name, prom_type_t type, const char *help);

// A sample of the current family: label name/value pairs, then NULL. Label values are escaped (backslash,
// double quote, newline); a label name outside [a-zA-Z_][a-zA-Z0-9_]* leaves the sample out (logged).
void prom_sample(prom_text_t *self, uint64_t value, ...) __attribute__((sentinel));
// The same with a float value (seconds): NaN, +Inf and -Inf written as Prometheus spells them.
void prom_sample_double(prom_text_t *self, double value, ...) __attribute__((sentinel));

// The family weft_build_info{version="..."} 1: the weft version this program was built as.
void prom_build_info(prom_text_t *self);

// Writes `value` as a label value: backslash, double quote and newline escaped.
void prom_label_value(FILE *out, const char *value);

// Whether name is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or label name ([a-zA-Z_][a-zA-Z0-9_]*).
bool prom_metric_name_ok(const char *name);
bool prom_label_name_ok(const char *name);

#endif
