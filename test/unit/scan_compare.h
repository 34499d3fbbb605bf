/*
 * scan_compare.h: do two parse targets hold the same state?  Used by
 * test_scan.c and test/fuzz/fuzz_scan.c to check that src/parser.c's
 * scanner and its json-c path agree (parse_scanner on and off).
 *
 * Everything a client can observe is compared: instances (ids, names,
 * active, values, bounds), the active set in display order, singular
 * values, @output, the counters, and the snapshot generations that decide
 * what a later print or tick does.  The scanner's order guesses (first,
 * last, next) are private to variables.c and left out.
 *
 * scan_diff() returns NULL when equal, else a description of the first
 * difference (in a static buffer).
 */
#ifndef SCAN_COMPARE_H
#define SCAN_COMPARE_H

#include <stdio.h>
#include <string.h>
#include "parser.h"

static char scan_diff_buf[512];

static const char *
scan_diff_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
	return a == b ? NULL : "NULL vs string";
    return strcmp(a, b) == 0 ? NULL : "strings differ";
}

static const char *
scan_diff_value(const variable_t *v, const var_value_t *a, const var_value_t *b)
{
    if (v->type == PM_TYPE_STRING)
	return scan_diff_str(a->str, b->str);
    return a->u64 == b->u64 ? NULL : "numbers differ";
}

static const char *
scan_diff_var(const variable_t *a, const variable_t *b)
{
    const char	*d;
    int		i;

#define SCAN_DIFF(cond, ...) do { if (cond) { \
	snprintf(scan_diff_buf, sizeof(scan_diff_buf), __VA_ARGS__); \
	return scan_diff_buf; } } while (0)

    SCAN_DIFF(a->ninst != b->ninst, "%s: ninst %d vs %d", a->name, a->ninst, b->ninst);
    SCAN_DIFF(a->nset != b->nset, "%s: nset %d vs %d", a->name, a->nset, b->nset);
    SCAN_DIFF(a->have_value != b->have_value, "%s: have_value %d vs %d", a->name,
	      a->have_value, b->have_value);
    SCAN_DIFF(a->gen != b->gen, "%s: gen %u vs %u", a->name, a->gen, b->gen);
    SCAN_DIFF(a->tickmark != b->tickmark, "%s: tickmark %u vs %u", a->name,
	      a->tickmark, b->tickmark);
    SCAN_DIFF(a->nput != b->nput, "%s: nput %d vs %d", a->name, a->nput, b->nput);
    SCAN_DIFF(a->changed != b->changed, "%s: changed %d vs %d", a->name, a->changed, b->changed);
    SCAN_DIFF(a->dropped != b->dropped, "%s: dropped %llu vs %llu", a->name,
	      (unsigned long long)a->dropped, (unsigned long long)b->dropped);
    SCAN_DIFF(a->outlen != b->outlen, "%s: outlen %zu vs %zu", a->name, a->outlen, b->outlen);
    if (a->func == VAR_FUNC_OUTPUT || a->have_value) {
	d = a->func == VAR_FUNC_OUTPUT ? scan_diff_str(var_output(a), var_output(b)) :
					 scan_diff_value(a, &a->value, &b->value);
	SCAN_DIFF(d != NULL, "%s: value: %s", a->name, d);
    }
    for (i = 0; i < a->ninst; i++) {
	const var_inst_t *x = &a->inst[i], *y = &b->inst[i];

	SCAN_DIFF(strcmp(x->name, y->name) != 0, "%s: inst %d \"%s\" vs \"%s\"",
		  a->name, i, x->name, y->name);
	SCAN_DIFF(x->active != y->active, "%s: inst %d \"%s\" active %d vs %d",
		  a->name, i, x->name, x->active, y->active);
	SCAN_DIFF(x->gen != y->gen, "%s: inst %d \"%s\" gen %u vs %u",
		  a->name, i, x->name, x->gen, y->gen);
	SCAN_DIFF(x->keylen != y->keylen, "%s: inst %d keylen %d vs %d",
		  a->name, i, x->keylen, y->keylen);
	SCAN_DIFF(memcmp(&x->lower, &y->lower, sizeof(double)) != 0,
		  "%s: inst %d \"%s\" lower %g vs %g", a->name, i, x->name, x->lower, y->lower);
	d = scan_diff_value(a, &x->value, &y->value);
	SCAN_DIFF(d != NULL, "%s: inst %d \"%s\": %s", a->name, i, x->name, d);
    }
    for (i = 0; i < a->nset; i++)
	SCAN_DIFF(a->set[i].i_inst != b->set[i].i_inst ||
		  strcmp(a->set[i].i_name, b->set[i].i_name) != 0,
		  "%s: set[%d] %d \"%s\" vs %d \"%s\"", a->name, i,
		  a->set[i].i_inst, a->set[i].i_name, b->set[i].i_inst, b->set[i].i_name);
    return NULL;
}

static const char *
scan_diff(const parse_target_t *a, const parse_target_t *b)
{
    const char	*d;
    int		i;

    SCAN_DIFF(a->nvars != b->nvars, "nvars %d vs %d", a->nvars, b->nvars);
    SCAN_DIFF(a->probes != b->probes, "probes %u vs %u", a->probes, b->probes);
    SCAN_DIFF(a->lost_events != b->lost_events, "lost_events differ");
    SCAN_DIFF(a->parse_errors != b->parse_errors, "parse_errors %llu vs %llu",
	      (unsigned long long)a->parse_errors, (unsigned long long)b->parse_errors);
    SCAN_DIFF(a->runtime_errors != b->runtime_errors, "runtime_errors differ");
    SCAN_DIFF(strcmp(a->last_runtime_error, b->last_runtime_error) != 0,
	      "last_runtime_error differs");
    for (i = 0; i < a->nvars; i++)
	if ((d = scan_diff_var(&a->vars[i], &b->vars[i])) != NULL)
	    return d;
    return NULL;
#undef SCAN_DIFF
}

/* parse one line into both targets: a with the scanner, b with json-c alone */
static const char *
scan_feed_both(parse_target_t *a, parse_target_t *b, const char *line, size_t len,
		int *sts_a, int *sts_b)
{
    char	*buf = malloc(len + 1);
    int		saved = parse_scanner;

    if (buf == NULL)
	return "out of memory";
    memcpy(buf, line, len);
    buf[len] = '\0';
    parse_scanner = 1;
    *sts_a = parse_line(a, buf, len);
    memcpy(buf, line, len);
    buf[len] = '\0';
    parse_scanner = 0;
    *sts_b = parse_line(b, buf, len);
    parse_scanner = saved;
    free(buf);
    if (*sts_a != *sts_b) {
	snprintf(scan_diff_buf, sizeof(scan_diff_buf), "parse_line returned %d vs %d",
		 *sts_a, *sts_b);
	return scan_diff_buf;
    }
    return scan_diff(a, b);
}

#endif /* SCAN_COMPARE_H */
