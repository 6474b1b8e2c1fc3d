// prom_text.c — see prom_text.h. The format: https://prometheus.io/docs/instrumenting/exposition_formats/
#include "prom_text.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "unknown"
#endif

void prom_text_init(prom_text_t *self, FILE *out)
{
    memset(self, 0, sizeof *self);
    self->out = out;
}

int prom_text_end(prom_text_t *self)
{
    for (size_t i = 0; i < self->written_count; i++)
        free(self->written[i]);
    free(self->written);
    self->written = NULL;
    self->written_count = self->written_cap = 0;
    self->family[0] = '\0';
    return self->failed || (self->out && ferror(self->out)) ? -1 : 0;
}

static bool name_ok(const char *name, const char *first, const char *rest)
{
    if (!name[0] || !strchr(first, name[0]))
        return false;
    return strspn(name + 1, rest) == strlen(name + 1);
}

#define LETTERS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
#define DIGITS "0123456789"

bool prom_metric_name_ok(const char *name)
{
    return strlen(name) < PROM_NAME_MAX && name_ok(name, LETTERS ":", LETTERS DIGITS ":");
}

bool prom_label_name_ok(const char *name)
{
    return strncmp(name, "__", 2) != 0 && name_ok(name, LETTERS, LETTERS DIGITS);   // "__" is Prometheus'
}

void prom_label_value(FILE *out, const char *value)
{
    for (const char *c = value; *c; c++) {
        if (*c == '\\' || *c == '"')
            fprintf(out, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", out);
        else
            fputc(*c, out);
    }
}

// HELP text escapes backslash and newline (not double quotes).
static void help_text(FILE *out, const char *help)
{
    for (const char *c = help; *c; c++) {
        if (*c == '\\')
            fputs("\\\\", out);
        else if (*c == '\n')
            fputs("\\n", out);
        else
            fputc(*c, out);
    }
}

static bool was_written(const prom_text_t *self, const char *name)
{
    for (size_t i = 0; i < self->written_count; i++)
        if (strcmp(self->written[i], name) == 0)
            return true;
    return false;
}

static int remember(prom_text_t *self, const char *name)
{
    if (self->written_count == self->written_cap) {
        size_t cap = self->written_cap ? self->written_cap * 2 : 32;
        char **grown = realloc(self->written, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->written = grown;
        self->written_cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -1;
    self->written[self->written_count++] = copy;
    return 0;
}

int prom_family(prom_text_t *self, const char *name, prom_type_t type, const char *help)
{
    if (self->family[0] && strcmp(self->family, name) == 0)
        return 0;   // the family being written: its header is out already
    self->family[0] = '\0';
    if (!prom_metric_name_ok(name)) {
        log_warn("metrics: left out the family '%.*s': not a valid Prometheus metric name", PROM_NAME_MAX, name);
        return -1;
    }
    if (was_written(self, name)) {
        log_warn("metrics: left out a second run of samples of %s (a family's samples must stay together)", name);
        return -1;
    }
    if (remember(self, name) != 0) {
        log_error("metrics: out of memory writing family %s", name);
        self->failed = true;
        return -1;
    }
    fprintf(self->out, "# HELP %s ", name);
    help_text(self->out, help);
    fprintf(self->out, "\n# TYPE %s %s\n", name, type == PROM_COUNTER ? "counter" : "gauge");
    snprintf(self->family, sizeof self->family, "%s", name);
    return 0;
}

// The sample's name and labels, or false (nothing written) when there is no family or a label name is bad.
static bool sample_start(prom_text_t *self, va_list labels)
{
    if (!self->family[0])
        return false;
    va_list check;
    va_copy(check, labels);
    bool ok = true;
    for (const char *key; ok && (key = va_arg(check, const char *));) {
        ok = prom_label_name_ok(key);
        if (!ok)
            log_warn("metrics: left out a sample of %s: '%s' is not a valid label name", self->family, key);
        else if (!va_arg(check, const char *)) {
            log_warn("metrics: left out a sample of %s: label %s has no value", self->family, key);
            ok = false;
        }
    }
    va_end(check);
    if (!ok)
        return false;
    fputs(self->family, self->out);
    const char *sep = "{";
    for (const char *key; (key = va_arg(labels, const char *));) {
        fprintf(self->out, "%s%s=\"", sep, key);
        prom_label_value(self->out, va_arg(labels, const char *));
        fputc('"', self->out);
        sep = ",";
    }
    if (sep[0] == ',')
        fputc('}', self->out);
    return true;
}

void prom_sample(prom_text_t *self, uint64_t value, ...)
{
    va_list labels;
    va_start(labels, value);
    if (sample_start(self, labels))
        fprintf(self->out, " %llu\n", (unsigned long long)value);
    va_end(labels);
}

void prom_sample_double(prom_text_t *self, double value, ...)
{
    va_list labels;
    va_start(labels, value);
    if (sample_start(self, labels)) {
        if (isnan(value))
            fputs(" NaN\n", self->out);
        else if (isinf(value))
            fputs(value > 0 ? " +Inf\n" : " -Inf\n", self->out);
        else
            fprintf(self->out, " %.15g\n", value);
    }
    va_end(labels);
}

void prom_build_info(prom_text_t *self)
{
    prom_family(self, "weft_build_info", PROM_GAUGE, "Always 1; the version of weft that serves this API.");
    prom_sample(self, 1, "version", WEFT_VERSION, NULL);
}
