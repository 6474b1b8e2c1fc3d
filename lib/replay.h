/*
 * replay.h - RFC 6479 sliding anti-replay window over 64-bit packet counters.
 *
 * Owns only the bookkeeping of which counters a receiver has already
 * accepted; it knows nothing about keys or packets.  A counter is accepted
 * iff
 *   - counter < reject_after, and
 *   - counter has not been accepted before, and
 *   - counter + REPLAY_WINDOW_SIZE >= highest counter accepted so far
 *     (i.e. it is at most REPLAY_WINDOW_SIZE behind the newest one).
 *
 * Ordering rule for the data plane: call replay_check() first (cheap, does
 * not modify the window), then verify the AEAD tag, and only when the tag is
 * valid call replay_update().  Updating before authentication would let an
 * attacker with forged packets push the window forward and make genuine
 * packets look "too old".  replay_check_and_update() is the combined form for
 * callers that have already authenticated the packet.
 *
 * Not thread-safe: one window per receiving key, guarded by its owner.
 */
#ifndef WEFT_REPLAY_H
#define WEFT_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

/* Number of counters behind the newest one that are still tracked. */
#define REPLAY_WINDOW_SIZE 2048u
/*
 * Bitmap words: the window plus one extra 64-bit word (RFC 6479 section 2),
 * so that advancing the window only ever clears whole words and the word
 * holding the newest counter never aliases the oldest tracked one.
 */
#define REPLAY_BITMAP_WORDS (REPLAY_WINDOW_SIZE / 64u + 1u)

typedef struct {
    /* Highest counter accepted so far.  Together with an all-zero bitmap,
     * the initial value 0 means "nothing received yet": counter 0 then
     * simply looks like a not-yet-seen entry at the top of the window. */
    uint64_t highest;
    /* Ring of bit words; counter c lives in word (c / 64) % WORDS, bit c % 64. */
    uint64_t bitmap[REPLAY_BITMAP_WORDS];
} replay_window_t;

/* Reset to "nothing received". */
void replay_init(replay_window_t *w);

/* True if counter would be accepted now.  Does not modify the window. */
bool replay_check(const replay_window_t *w, uint64_t counter, uint64_t reject_after);

/*
 * Mark counter as received, sliding the window forward if it is the newest.
 * Call only after replay_check() returned true and the packet authenticated.
 * A counter that is already too old is ignored (never corrupts the window).
 */
void replay_update(replay_window_t *w, uint64_t counter);

/* replay_check() followed by replay_update() on success. */
bool replay_check_and_update(replay_window_t *w, uint64_t counter, uint64_t reject_after);

#endif /* WEFT_REPLAY_H */
