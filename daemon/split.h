/* split.h — split outgoing chat text into CyTube-sized parts at word boundaries (pure). */
#ifndef DAZ_SPLIT_H
#define DAZ_SPLIT_H

#include <stddef.h>

/*
 * Length as JavaScript counts it (UTF-16 code units: 1 per BMP character, 2 per character above
 * U+FFFF), of len bytes of UTF-8. Invalid bytes count 1 each (CyTube would see U+FFFD).
 */
size_t split_js_length(const char *s, size_t len);

/*
 * Split text so that every part is at most max_units UTF-16 code units long (CyTube cuts the raw
 * msg at 320 units before escaping, so HTML escaping does not count). Breaks at the last
 * whitespace that fits; a word longer than max_units is cut hard, never inside a UTF-8 sequence
 * or a surrogate pair. Whitespace at a break is dropped; empty parts are not produced. A leading
 * "/me " is repeated on every part (and counted). Order is preserved.
 *
 * Returns a NULL-terminated array of new strings and sets *n_out; caller frees with split_free.
 * A text that is empty or only whitespace gives 0 parts (array holding only NULL).
 * NULL on out of memory or max_units < 8.
 */
char **split_text(const char *text, size_t max_units, size_t *n_out);

void split_free(char **parts); /* split_free(NULL) is a no-op */

#endif
