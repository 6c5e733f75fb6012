/* split.h — split outgoing chat text into CyTube-sized parts at word boundaries (pure). */
#ifndef DAZ_SPLIT_H
#define DAZ_SPLIT_H

#include <stddef.h>
#include <stdint.h>

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

void split_free(char **parts);

/*
 * Copy len bytes of text, cut to max_units UTF-16 code units (SIZE_MAX: no cut), with every
 * control character (U+0000–U+001F, U+007F–U+009F) made a space, as CyTube does. Caller frees.
 */
char *split_controls_to_spaces(const char *text, size_t len, size_t max_units);

/*
 * Decode the UTF-8 character at s (len > 0 bytes available): returns its byte length, sets
 * *units to its UTF-16 length (1 or 2) and *cp to the code point. A malformed or truncated
 * sequence (overlong, surrogate, > U+10FFFF) is one byte, one unit, *cp = 0xFFFD.
 */
size_t split_utf8_char(const char *s, size_t len, unsigned *units,
                       uint32_t *cp); /* split_free(NULL) is a no-op */

#endif
