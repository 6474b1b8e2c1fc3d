// cmd_version.c — `weft version` (and `weft --version`): the project's version (CMake's project()),
// `git describe` of the tree it was built from and the compiler, as build_info.cmake wrote them at build.
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "commands.h"
#include "json.h"

static void version_usage(FILE *out)
{
    fprintf(out, "usage: weft version [--json]\n"
                 "Prints weft's version, the git revision it was built from (`git describe`, \"unknown\"\n"
                 "outside a git checkout) and the compiler. `weft --version` is the same.\n");
}

int cmd_version(int argc, char **argv)
{
    static struct option options[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hj", options, NULL)) != -1) {
        switch (opt) {
        case 'j': json = true; break;
        case 'h': version_usage(stdout); return EXIT_OK;
        default: version_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft version: unexpected argument '%s'\n", argv[optind]);
        version_usage(stderr);
        return EXIT_USAGE;
    }
    if (json) {
        json_t j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_string(&j, "version", WEFT_BUILD_VERSION);
        json_string(&j, "git", WEFT_BUILD_GIT);
        json_string(&j, "compiler", WEFT_BUILD_COMPILER);
        json_string(&j, "build_type", WEFT_BUILD_TYPE);
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("weft %s\ngit %s\ncompiler %s (%s build)\n", WEFT_BUILD_VERSION, WEFT_BUILD_GIT, WEFT_BUILD_COMPILER,
               WEFT_BUILD_TYPE);
    }
    return EXIT_OK;
}
