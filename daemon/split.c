/* split.c — split outgoing chat text into CyTube-sized parts at word boundaries (pure). */
#include "split.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t split_utf8_char(const char *str, size_t len, unsigned *units, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	size_t n;
	uint32_t v, min;

	*units = 1;
	*cp = 0xFFFD;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 1;
	}
	if (len < n)
		return 1;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 1;
	*cp = v;
	*units = v >= 0x10000 ? 2 : 1;
	return n;
}

size_t split_js_length(const char *s, size_t len)
{
	size_t units = 0, i = 0;
	while (i < len) {
		unsigned u;
		uint32_t cp;
		i += split_utf8_char(s + i, len - i, &u, &cp);
		units += u;
	}
	return units;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char *split_controls_to_spaces(const char *text, size_t len, size_t max_units)
{
	char *out = malloc(len + 1);
	size_t o = 0, i = 0, units = 0;
	if (!out)
		return NULL;
	while (i < len) {
		unsigned u;
		uint32_t cp;
		size_t n = split_utf8_char(text + i, len - i, &u, &cp);
		if (units + u > max_units)
			break;
		units += u;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			out[o++] = ' ';
		} else {
			memcpy(out + o, text + i, n);
			o += n;
		}
		i += n;
	}
	out[o] = '\0';
	return out;
}

/* Append a part (prefix + body[0..blen)) to the growing array. */
static int push_part(char ***parts, size_t *n, size_t *cap, const char *prefix, const char *body,
                     size_t blen)
{
	size_t plen = strlen(prefix);
	char *s;
	if (*n + 2 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		char **np = realloc(*parts, ncap * sizeof(*np));
		if (!np)
			return -1;
		*parts = np;
		*cap = ncap;
	}
	s = malloc(plen + blen + 1);
	if (!s)
		return -1;
	memcpy(s, prefix, plen);
	memcpy(s + plen, body, blen);
	s[plen + blen] = '\0';
	(*parts)[(*n)++] = s;
	(*parts)[*n] = NULL;
	return 0;
}

char **split_text(const char *text, size_t max_units, size_t *n_out)
{
	char **parts = NULL, *buf = NULL;
	size_t n = 0, cap = 0, len, pos, budget;
	const char *prefix = "";

	*n_out = 0;
	if (max_units < 8 || !text)
		return NULL;
	len = strlen(text);
	buf = split_controls_to_spaces(text, len, SIZE_MAX);
	if (!buf)
		return NULL;
	len = strlen(buf);
	pos = 0;
	if (strncmp(buf, "/me ", 4) == 0) {
		prefix = "/me ";
		pos = 4;
	}
	budget = max_units - strlen(prefix);

	parts = malloc(sizeof(*parts));
	if (!parts)
		goto fail;
	parts[0] = NULL;
	cap = 1;

	for (;;) {
		size_t start, i, units = 0, brk = 0, end;
		while (pos < len && is_space(buf[pos]))
			pos++;
		if (pos >= len)
			break;
		start = pos;
		i = pos;
		/* walk characters while they fit; remember the last whitespace */
		while (i < len) {
			unsigned u;
			uint32_t cp;
			size_t cl = split_utf8_char(buf + i, len - i, &u, &cp);
			if (units + u > budget)
				break;
			if (is_space(buf[i]))
				brk = i;
			units += u;
			i += cl;
		}
		if (i >= len) {
			end = len;
			pos = len;
		} else if (brk > start) {
			end = brk;
			pos = brk;
		} else if (is_space(buf[i])) {
			/* the word ends exactly at the limit */
			end = i;
			pos = i;
		} else {
			/* one word longer than the limit: cut at a character boundary */
			end = i;
			pos = i;
		}
		while (end > start && is_space(buf[end - 1]))
			end--;
		if (end > start &&
		    push_part(&parts, &n, &cap, prefix, buf + start, end - start) < 0)
			goto fail;
	}
	free(buf);
	*n_out = n;
	return parts;
fail:
	free(buf);
	split_free(parts);
	*n_out = 0;
	return NULL;
}

void split_free(char **parts)
{
	if (!parts)
		return;
	for (char **p = parts; *p; p++)
		free(*p);
	free(parts);
}
