/*
 * utf8: what counts as valid UTF-8 in this agent - RFC 3629, strict: no
 * overlong forms, no surrogates, nothing above U+10FFFF.  One definition
 * for the tokenizer (script text), the parser (keys and strings bpftrace
 * prints) and the control API (the JSON it answers with).
 */
#ifndef BPFTRACE_UTF8_H
#define BPFTRACE_UTF8_H

#include <stddef.h>

/*
 * The length (2 to 4) of the valid multibyte sequence at s, which holds
 * len bytes; 0 when there is none (an ASCII byte, a stray continuation
 * byte, a bad or truncated sequence).
 */
size_t utf8_seq(const unsigned char *s, size_t len);

/* 1 when all len bytes at s are valid UTF-8 text with no NUL, else 0 */
int utf8_text_ok(const char *s, size_t len);

#endif /* BPFTRACE_UTF8_H */
