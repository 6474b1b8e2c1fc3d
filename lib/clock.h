// clock.h — the monotonic clock every service's timers read.
#ifndef WEFT_CLOCK_H
#define WEFT_CLOCK_H

#include <stdint.h>

// Monotonic milliseconds, for timers.
int64_t clock_now_ms(void);

#endif
