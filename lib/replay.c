/*
 * replay.c - RFC 6479 sliding anti-replay window (see replay.h for the
 * acceptance rule and the check / authenticate / update ordering).
 *
 * The bitmap is a ring of 64-bit words.  When a new highest counter arrives,
 * the words between the old and the new top are cleared (at most the whole
 * ring), which is what makes the window "slide" without shifting bits.
 */
#include "replay.h"

#include <string.h>

#define WORD_BITS 64u

static size_t word_slot(uint64_t counter)
{
    return (size_t)((counter / WORD_BITS) % REPLAY_BITMAP_WORDS);
}

static uint64_t bit_mask(uint64_t counter)
{
    return (uint64_t)1 << (counter % WORD_BITS);
}

void replay_init(replay_window_t *w)
{
    memset(w, 0, sizeof(*w));
}

bool replay_check(const replay_window_t *w, uint64_t counter, uint64_t reject_after)
{
    if (counter >= reject_after)
        return false;
    if (counter > w->highest)
        return true; /* newer than anything seen: always fresh */
    if (w->highest - counter > REPLAY_WINDOW_SIZE)
        return false; /* fell off the back of the window */
    return (w->bitmap[word_slot(counter)] & bit_mask(counter)) == 0;
}

void replay_update(replay_window_t *w, uint64_t counter)
{
    if (counter > w->highest) {
        uint64_t cur_word = w->highest / WORD_BITS;
        uint64_t new_word = counter / WORD_BITS;
        uint64_t advance = new_word - cur_word;

        /* Clear every word we move into; beyond one full ring all are stale. */
        if (advance > REPLAY_BITMAP_WORDS)
            advance = REPLAY_BITMAP_WORDS;
        for (uint64_t i = 1; i <= advance; i++)
            w->bitmap[word_slot((cur_word + i) * WORD_BITS)] = 0;
        w->highest = counter;
    } else if (w->highest - counter > REPLAY_WINDOW_SIZE) {
        /* Too old: its slot now belongs to a newer word, so setting the bit
         * would wrongly mark a future counter as seen.  Ignore it. */
        return;
    }
    w->bitmap[word_slot(counter)] |= bit_mask(counter);
}

bool replay_check_and_update(replay_window_t *w, uint64_t counter, uint64_t reject_after)
{
    if (!replay_check(w, counter, reject_after))
        return false;
    replay_update(w, counter);
    return true;
}
