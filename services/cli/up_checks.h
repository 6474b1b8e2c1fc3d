// up_checks.h — what `weft up` checks before it starts anything, so a node that cannot work fails at once
// with the reason instead of restarting a service in a loop behind a "started": the right to create the
// TUN device (root or CAP_NET_ADMIN), its name free, api.listen free, the mesh's network clear of
// another running mesh of this home and of the host's routes and addresses, the hub's endpoint and key.
#ifndef WEFT_CLI_UP_CHECKS_H
#define WEFT_CLI_UP_CHECKS_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

// Runs every check on cfg (the node's loaded config). Returns 0, or -1 with err naming the first problem
// and what to do about it. Notes that are no failure (a broader route that also covers the mesh) are
// written to `notes` (may be NULL).
int up_checks_run(const weft_config_t *cfg, char *err, size_t err_len, FILE *notes);

#endif
