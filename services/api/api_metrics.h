// api_metrics.h — the text of GET /metrics from what was gathered (api_metrics.c), apart from the request
// that gathers it, so a test can write it from a node_status_t it filled itself.
#ifndef WEFT_API_METRICS_H
#define WEFT_API_METRICS_H

#include <stdbool.h>

#include "node_view.h"
#include "prom_text.h"

// Every family of docs/api.md's /metrics table: the services' stats (`st`), the routing families made from
// the router's and the data plane's stats, weft_redis_up (`redis_up`) and the peers' series.
void api_metrics_write(prom_text_t *w, const node_status_t *st, bool redis_up, const node_peer_t *peers, int count);

#endif
