/*
 * utf8: strict UTF-8 sequences - see utf8.h.
 */
#include "utf8.h"

size_t
utf8_seq(const unsigned char *s, size_t len)
{
    unsigned	c = s[0], lo = 0x80, hi = 0xBF;
    size_t	need, k;

    if (c >= 0xC2 && c <= 0xDF)	/* 0xC0, 0xC1: overlong */
	need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
	need = 2;
	if (c == 0xE0)
	    lo = 0xA0;		/* overlong */
	else if (c == 0xED)
	    hi = 0x9F;		/* surrogates */
    }
    else if (c >= 0xF0 && c <= 0xF4) {
	need = 3;
	if (c == 0xF0)
	    lo = 0x90;		/* overlong */
	else if (c == 0xF4)
	    hi = 0x8F;		/* above U+10FFFF */
    }
    else
	return 0;
    if (len < need + 1 || s[1] < lo || s[1] > hi)
	return 0;
    for (k = 2; k <= need; k++)
	if ((s[k] & 0xC0) != 0x80)
	    return 0;
    return need + 1;
}

int
utf8_text_ok(const char *str, size_t len)
{
    const unsigned char	*s = (const unsigned char *)str;
    size_t		i = 0, n;

    while (i < len) {
	if (s[i] >= 0x01 && s[i] < 0x80)
	    i++;
	else if ((n = utf8_seq(s + i, len - i)) != 0)
	    i += n;
	else
	    return 0;
    }
    return 1;
}
