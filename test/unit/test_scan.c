/*
 * test_scan: src/parser.c's scanner (the fast path for "map" and "hist"
 * records) against its json-c path.  Every line is parsed twice, into two
 * targets with the same variables - once with the scanner, once with
 * json-c alone - and the targets must then hold the same state (see
 * scan_compare.h).  Lines: every fixture (test/fixtures, FIXTURE_DIR
 * overrides), the recorded benchmark data (bench/data, BENCH_DATA_DIR),
 * and hand-made lines at the edges of what the scanner takes.  Each line
 * set runs twice: with the fixtures' classification, and with kinds
 * rotated and tight limits (max_inst 4), as the parser fuzzer does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include "parser.h"
#include "scan_compare.h"

typedef struct spec {
    const char	*name;
    var_func_t	func;
    int		keyed, is_string, stacks;
} spec_t;

static const spec_t specs[] = {
    { "@", VAR_FUNC_COUNT, 1, 0, 1 },
    { "@a", VAR_FUNC_AVG, 0, 0, 0 },
    { "@ak", VAR_FUNC_AVG, 1, 0, 0 },
    { "@big", VAR_FUNC_ASSIGN, 0, 0, 0 },
    { "@buf", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@c", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@cafe", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@ck", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@cnt", VAR_FUNC_COUNT, 0, 0, 0 },
    { "@comm", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@f", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@flag", VAR_FUNC_ASSIGN, 0, 0, 0 },
    { "@h", VAR_FUNC_HIST, 1, 0, 0 },
    { "@h1", VAR_FUNC_HIST, 0, 0, 0 },
    { "@h10g", VAR_FUNC_HIST, 0, 0, 0 },
    { "@hbig", VAR_FUNC_HIST, 0, 0, 0 },
    { "@hf", VAR_FUNC_HIST, 0, 0, 0 },
    { "@hk", VAR_FUNC_HIST, 1, 0, 0 },
    { "@i", VAR_FUNC_ASSIGN, 0, 0, 0 },
    { "@k", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@k2", VAR_FUNC_ASSIGN, 1, 0, 0 },
    { "@ks", VAR_FUNC_ASSIGN, 1, 1, 0 },
    { "@l", VAR_FUNC_LHIST, 0, 0, 0 },
    { "@lat", VAR_FUNC_HIST, 0, 0, 0 },
    { "@m", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@mac", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@mn", VAR_FUNC_MIN, 0, 0, 0 },
    { "@mx", VAR_FUNC_MAX, 0, 0, 0 },
    { "@n", VAR_FUNC_ASSIGN, 0, 0, 0 },
    { "@neg", VAR_FUNC_SUM, 0, 0, 0 },
    { "@negk", VAR_FUNC_ASSIGN, 1, 0, 0 },
    { "@output", VAR_FUNC_OUTPUT, 0, 1, 0 },
    { "@p", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@pv", VAR_FUNC_ASSIGN, 0, 0, 0 },
    { "@qk", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@rec", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@s", VAR_FUNC_SUM, 1, 0, 0 },
    { "@scalar", VAR_FUNC_ASSIGN, 0, 0, 0 },
    { "@sk", VAR_FUNC_SUM, 1, 0, 0 },
    { "@st", VAR_FUNC_STATS, 0, 0, 0 },
    { "@stk", VAR_FUNC_STATS, 1, 0, 0 },
    { "@stk2", VAR_FUNC_COUNT, 1, 0, 1 },
    { "@stkv", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@str", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@t", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@ts", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@tsr", VAR_FUNC_ASSIGN, 0, 0, 0 },
    { "@u", VAR_FUNC_COUNT, 0, 0, 0 },
    { "@us", VAR_FUNC_COUNT, 1, 0, 1 },
    { "@x", VAR_FUNC_SUM, 0, 0, 0 },
    { "@z", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@zh", VAR_FUNC_HIST, 0, 0, 0 },
    { "@zmin", VAR_FUNC_ASSIGN, 0, 0, 0 },
};
#define NSPECS	((int)(sizeof(specs) / sizeof(specs[0])))

/* the kinds the second pass rotates through */
static const spec_t kinds[] = {
    { NULL, VAR_FUNC_COUNT, 0, 0, 0 },
    { NULL, VAR_FUNC_COUNT, 1, 0, 1 },
    { NULL, VAR_FUNC_HIST, 0, 0, 0 },
    { NULL, VAR_FUNC_HIST, 1, 0, 0 },
    { NULL, VAR_FUNC_STATS, 1, 0, 0 },
    { NULL, VAR_FUNC_ASSIGN, 0, 1, 0 },
    { NULL, VAR_FUNC_ASSIGN, 1, 1, 0 },
    { NULL, VAR_FUNC_ASSIGN, 0, 0, 0 },
    { NULL, VAR_FUNC_LHIST, 1, 0, 0 },
    { NULL, VAR_FUNC_SUM, 1, 0, 0 },
};
#define NKINDS	((int)(sizeof(kinds) / sizeof(kinds[0])))

/* lines at the edges of the scanner's subset (F1 = bpftrace 0.17 shapes) */
static const char *edge_lines[] = {
    /* plain shapes, spacing and blanks */
    "{\"type\": \"map\", \"data\": {\"@m\": {\"a\": 1, \"b\": 2}}}",
    "{\"type\":\"map\",\"data\":{\"@m\":{\"a\":3,\"c\":4}}}",
    "  {\t\"type\" : \"map\" ,\r\"data\" :\n{ \"@m\" : { \"a\" : 5 } } }  \r",
    "{\"type\": \"map\", \"data\": {\"@m\": {}}}",
    "{\"type\": \"map\", \"data\": {}}",
    "{\"type\": \"map\", \"data\": {\"@m\": {\"a\": 1}}} x",
    "{\"type\": \"map\", \"data\": {\"@m\": {\"a\": 1}}",
    "{\"type\": \"map\", \"data\": {\"@m\": {\"a\": 1,}}}",
    "{\"type\": \"map\", \"data\": {\"@m\": {\"a\" 1}}}",
    "{\"data\": {\"@m\": {\"z\": 1}}, \"type\": \"map\"}",
    "{\"type\": \"map\", \"data\": {\"@m\": {\"y\": 1}}, \"extra\": 1}",
    "{\"type\": \"map\", \"type\": \"printf\", \"data\": \"x\"}",
    "{\"type\": \"stats\", \"data\": {\"@st\": {\"count\": 2, \"average\": 6, \"total\": 12}}}",
    "{\"type\": \"map\", \"data\": {\"@st\": {\"count\": 2, \"average\": 6, \"total\": 12}}}",
    /* numbers */
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": 0, \"b\": -1, \"c\": -0, \"d\": 007}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": 0, \"b\": -1, \"c\": 123456789012345678}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": 1234567890123456789}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": 18446744073709551615}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": -9223372036854775808}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": 18446744073709551616, \"b\": 99999999999999999999}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": 9999999999999999999, \"b\": 10000000000000000000}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": 9223372036854775807, \"b\": 9223372036854775808}}}",
    "{\"type\": \"map\", \"data\": {\"@ks\": {\"a\": 18446744073709551615, \"b\": -999999999999999999}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": -1234567890123456789}}}",
    "{\"type\": \"map\", \"data\": {\"@big\": 18446744073709551615}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": 123456789, \"b\": 12345678, \"c\": 1234567890123456, \"d\": 12345678901234567}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": 1.5, \"b\": 1e3}}}",
    "{\"type\": \"map\", \"data\": {\"@big\": 999999999999999999}}",
    "{\"type\": \"map\", \"data\": {\"@big\": -999999999999999999}}",
    "{\"type\": \"map\", \"data\": {\"@i\": -7}}",
    "{\"type\": \"map\", \"data\": {\"@i\": 2.0}}",
    /* strings as values */
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": \"123\", \"b\": \"-5\", \"c\": \"12a\"}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": \"\", \"b\": \"x\"}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"n\": \"-12\", \"o\": \"1234567890123456789012\"}}}",
    "{\"type\": \"map\", \"data\": {\"@ks\": {\"a\": \"hello\", \"b\": 42, \"c\": true, \"d\": -3}}}",
    "{\"type\": \"map\", \"data\": {\"@ks\": {\"e\": \"t\\tab\\n\\\"q\\\"\\\\\\/\", \"f\": false}}}",
    "{\"type\": \"map\", \"data\": {\"@ks\": {\"g\": \"caf\xc3\xa9\", \"h\": \"bad\xff\xfe\"}}}",
    "{\"type\": \"map\", \"data\": {\"@ks\": {\"i\": null}}}",
    "{\"type\": \"map\", \"data\": {\"@str\": \"a\\\"b\\\\c\\td\"}}",
    "{\"type\": \"map\", \"data\": {\"@str\": \"\\u0041\\u00e9\"}}",
    "{\"type\": \"map\", \"data\": {\"@str\": \"caf\\uffffffc3\\uffffffa9\"}}",
    "{\"type\": \"map\", \"data\": {\"@str\": 17}}",
    "{\"type\": \"map\", \"data\": {\"@str\": true}}",
    "{\"type\": \"map\", \"data\": {\"@str\": null}}",
    "{\"type\": \"map\", \"data\": {\"@i\": \"77\"}}",
    "{\"type\": \"map\", \"data\": {\"@i\": \"x77\"}}",
    "{\"type\": \"map\", \"data\": {\"@i\": false}}",
    "{\"type\": \"map\", \"data\": {\"@i\": null}}",
    "{\"type\": \"map\", \"data\": {\"@i\": {}}}",
    "{\"type\": \"map\", \"data\": {\"@i\": {\"a\": 1}}}",
    "{\"type\": \"map\", \"data\": {\"@t\": [1,\"x\"]}}",
    "{\"type\": \"map\", \"data\": {\"@ks\": {\"t\": [1,\"x\"]}}}",
    /* booleans and nulls for numeric keyed maps */
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": true, \"b\": false}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a\": null, \"b\": 1}}}",
    /* keys: escapes, UTF-8, control bytes, empty */
    "{\"type\": \"map\", \"data\": {\"@stk2\": {\"\\n    f+1\\n    g+2\\n\": 3, \"\\n    h+1\\n\": 4}}}",
    "{\"type\": \"map\", \"data\": {\"@c\": {\"a\\\"b\": 1, \"a\\\\b\": 2, \"a\\/b\": 3, \"\\b\\f\\r\\t\": 4}}}",
    "{\"type\": \"map\", \"data\": {\"@c\": {\"\": 1}}}",
    "{\"type\": \"map\", \"data\": {\"@c\": {\"caf\xc3\xa9\": 1, \"x\xff\": 2, \"\xc3\": 3}}}",
    "{\"type\": \"map\", \"data\": {\"@c\": {\"caf\\uffffffc3\\uffffffa9\": 5}}}",
    "{\"type\": \"map\", \"data\": {\"@c\": {\"\\u0000x\": 1, \"\\u00e9\": 2}}}",
    "{\"type\": \"map\", \"data\": {\"@c\": {\"tab\there\": 1}}}",
    "{\"type\": \"map\", \"data\": {\"@c\": {\"a\\q\": 1}}}",
    /* repeated keys and members */
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"a,b,c\": 1, \"a,b,c\": 2}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"r\": 1, \"r\": null}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"r\": null, \"r\": 5}}}",
    "{\"type\": \"map\", \"data\": {\"@k2\": {\"s\": \"1\", \"s\": \"x\"}}}",
    "{\"type\": \"map\", \"data\": {\"@m\": {\"a\": 1}, \"@m\": {\"b\": 2}}}",
    "{\"type\": \"map\", \"data\": {\"@m\": {\"a\": 1}, \"@c\": {\"b\": 2}, \"@nope\": [1, {\"x\": [2]}]}}",
    "{\"type\": \"map\", \"data\": {\"@nope\": {\"a\": {\"b\": {\"c\": [1, 2, {\"d\": null}]}}}}}",
    "{\"type\": \"map\", \"data\": {\"@nope\": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}}",
    "{\"type\": \"map\", \"data\": {\"@nope\": 1.5e3}}",
    "{\"type\": \"map\", \"data\": {\"@output\": {\"a\": 1}}}",
    /* the tick */
    "{\"type\": \"map\", \"data\": {\"@__pmda_tick\": 1}}",
    "{\"type\": \"map\", \"data\": {\"@m\": {\"a\": 1}}}",
    "{\"type\": \"map\", \"data\": {\"@__pmda_tick\": 2}}",
    "{\"type\": \"map\", \"data\": {\"@__pmda_tick\": 3}}",
    "{\"type\": \"map\", \"data\": {\"@__pmda_tick\": 4, \"@m\": {\"b\": 1}}}",
    "{\"type\": \"map\", \"data\": {\"@m\": {\"c\": 1}, \"@__pmda_tick\": 5}}",
    /* histograms */
    "{\"type\": \"hist\", \"data\": {\"@h1\": [{\"max\": -1, \"count\": 1}, {\"min\": 0, \"max\": 0, \"count\": 1}, {\"min\": 1, \"max\": 1, \"count\": 1}, {\"min\": 2, \"max\": 3, \"count\": 1}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": [{\"min\": 100, \"count\": 7}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": [{\"count\": 7, \"max\": 4, \"min\": 2}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": [{\"min\": 2, \"max\": 3}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": [{\"min\": 2, \"max\": 3, \"count\": -4}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": [{\"min\": 2, \"min\": 3, \"count\": 1}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": [{\"min\": 2, \"max\": 3, \"count\": 1, \"x\": 1}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": [{\"min\": \"2\", \"max\": \"3\", \"count\": \"1\"}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": [{\"min\": 2.5, \"max\": 3, \"count\": 1}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": [1, {\"min\": 2, \"max\": 3, \"count\": 1}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": []}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": {}}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": 5}}",
    "{\"type\": \"hist\", \"data\": {\"@hk\": {\"a\": [{\"min\": 2, \"max\": 3, \"count\": 1}], \"b b\": [{\"min\": 4, \"max\": 7, \"count\": 1}]}}}",
    "{\"type\": \"hist\", \"data\": {\"@hk\": {\"a\": [{\"min\": 2, \"max\": 3, \"count\": 9}], \"a\": [{\"min\": 8, \"max\": 15, \"count\": 1}]}}}",
    "{\"type\": \"hist\", \"data\": {\"@hk\": {\"a\": 5, \"c\": [{\"min\": 8, \"max\": 15, \"count\": 1}]}}}",
    "{\"type\": \"hist\", \"data\": {\"@hk\": {\"caf\xc3\xa9\\n\": [{\"min\": 8, \"max\": 15, \"count\": 2}], \"x\xff\": [{\"max\": -1, \"count\": 3}]}}}",
    "{\"type\": \"hist\", \"data\": {\"@hk\": [{\"min\": 2, \"max\": 3, \"count\": 1}]}}",
    "{\"type\": \"map\", \"data\": {\"@h1\": [{\"min\": 2, \"max\": 3, \"count\": 1}]}}",
    "{\"type\": \"hist\", \"data\": {\"@m\": [{\"min\": 2, \"max\": 3, \"count\": 1}]}}",
    "{\"type\": \"hist\", \"data\": {\"@h1\": [{\"min\": -9223372036854775807, \"max\": 999999999999999999, \"count\": 1}]}}",
    /* printf and the other string records the scanner takes, and not */
    "{\"type\": \"printf\", \"data\": \"hi there 42\\n\"}",
    "{\"type\":\"printf\",\"data\":\"a\\tb\\\"c\\\\d\\/e\\n\"}",
    " {\"type\" : \"printf\" ,\t\"data\" : \"spaced\\n\" } \r",
    "{\"type\": \"printf\", \"data\": \"\\u00e9t\\u00e9\\n\"}",
    "{\"type\": \"printf\", \"data\": \"nul \\u0000 inside\\n\"}",
    "{\"type\": \"printf\", \"data\": \"caf\xc3\xa9 \xff\xfe\\n\"}",
    "{\"type\": \"printf\", \"data\": \"raw\ttab\n\"}",
    "{\"data\": \"swapped\\n\", \"type\": \"printf\"}",
    "{\"type\": \"printf\", \"data\": \"x\\n\", \"extra\": 1}",
    "{\"type\": \"printf\", \"data\": \"one\\n\", \"data\": \"two\\n\"}",
    "{\"type\": \"printf\", \"data\": 42}",
    "{\"type\": \"printf\", \"data\": \"\"}",
    "{\"type\": \"printf\", \"data\": \"x\"} y",
    "{\"type\": \"printf\", \"data\": \"x}",
    "{\"type\": \"pr\\u0069ntf\", \"data\": \"escaped type\\n\"}",
    "{\"type\": \"printf\", \"data\": \"a line longer than the 64 bytes of output kept here, cut at its tail\"}",
    "{\"type\": \"printf\", \"data\": \"l1\\nl2\\nl3\\nl4\\nl5\\nl6\\nl7\\nl8\\nl9\\nl10\\nl11\\nl12\\nl13\\nl14\\nl15\\nl16\\nl17\\n\"}",
    "{\"type\": \"time\", \"data\": \"10:00:00\\n\"}",
    "{\"type\": \"cat\", \"data\": \"file text\\n\"}",
    "{\"type\": \"join\", \"data\": \"a b c\\n\"}",
    "{\"type\": \"syscall\", \"data\": \"out\\n\"}",
    "{\"type\": \"value\", \"data\": \"v\"}",
    /* other records stay with json-c */
    "{\"type\": \"attached_probes\", \"data\": {\"probes\": 2}}",
    "{\"type\": \"value\", \"data\": 2026-11-22}",
    "not json at all",
    "",
};
#define NEDGE	((int)(sizeof(edge_lines) / sizeof(edge_lines[0])))

typedef struct pair {
    parse_target_t	a, b;
    variable_t		va[NSPECS], vb[NSPECS];
} pair_t;

static void
pair_setup(pair_t *p, int rotate)
{
    parse_target_t	*t[2] = { &p->a, &p->b };
    variable_t		*vars[2] = { p->va, p->vb };
    int			k, i;

    for (k = 0; k < 2; k++) {
	memset(t[k], 0, sizeof(*t[k]));
	t[k]->vars = vars[k];
	for (i = 0; i < NSPECS; i++) {
	    const spec_t *s = &specs[i];

	    if (rotate && s->func != VAR_FUNC_OUTPUT)
		s = &kinds[i % NKINDS];
	    assert_int_equal(var_init(&vars[k][i], specs[i].name, s->func, s->keyed,
				      s->is_string, s->stacks), 0);
	    if (rotate) {
		vars[k][i].max_inst = 4;
		vars[k][i].max_output = 64;
		vars[k][i].retain_lines = 1;
	    }
	    if (s->func == VAR_FUNC_OUTPUT)
		t[k]->output = &vars[k][i];
	}
	t[k]->nvars = NSPECS;
    }
}

static void
pair_teardown(pair_t *p)
{
    int		i;

    for (i = 0; i < NSPECS; i++) {
	var_free(&p->va[i]);
	var_free(&p->vb[i]);
    }
}

static void
pair_line(pair_t *p, const char *what, int lineno, const char *line, size_t len)
{
    const char	*d;
    int		sa, sb;

    if ((d = scan_feed_both(&p->a, &p->b, line, len, &sa, &sb)) != NULL)
	fail_msg("%s:%d: scanner and json-c differ: %s\n  line: %.200s", what,
		 lineno, d, line);
}

/* every line of a file (lines starting with '#' skipped, as test_parser does) */
static int
pair_file(pair_t *p, const char *path)
{
    FILE	*f = fopen(path, "r");
    char	*line = NULL;
    size_t	cap = 0;
    ssize_t	n;
    int		lineno = 0;

    if (f == NULL)
	return -1;
    while ((n = getline(&line, &cap, f)) >= 0) {
	lineno++;
	if (n > 0 && line[n - 1] == '\n')
	    line[--n] = '\0';
	if (line[0] == '#')
	    continue;
	pair_line(p, path, lineno, line, n);
    }
    free(line);
    fclose(f);
    return 0;
}

/* every *.jsonl in a folder, in name order; returns how many */
static int
pair_dir(pair_t *p, const char *dir)
{
    struct dirent	**names;
    char		path[4096];
    int			i, n, files = 0;

    if ((n = scandir(dir, &names, NULL, alphasort)) < 0)
	return 0;
    for (i = 0; i < n; i++) {
	size_t len = strlen(names[i]->d_name);

	if (len > 6 && strcmp(names[i]->d_name + len - 6, ".jsonl") == 0) {
	    snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
	    if (pair_file(p, path) == 0)
		files++;
	}
	free(names[i]);
    }
    free(names);
    return files;
}

static void
run_fixtures(int rotate)
{
    const char	*dir = getenv("FIXTURE_DIR");
    pair_t	*p = calloc(1, sizeof(*p));
    unsigned long before = parse_scanned;

    assert_non_null(p);
    pair_setup(p, rotate);
    assert_true(pair_dir(p, dir ? dir : "test/fixtures") > 0);
    /* the 0.17 fixtures are mostly maps and histograms: the scanner took some */
    assert_true(parse_scanned > before);
    pair_teardown(p);
    free(p);
}

static void
test_fixtures(void **state)
{
    run_fixtures(0);
}

static void
test_fixtures_rotated(void **state)
{
    run_fixtures(1);
}

static void
run_edges(int rotate)
{
    pair_t	*p = calloc(1, sizeof(*p));
    int		i, round;

    assert_non_null(p);
    pair_setup(p, rotate);
    /* twice: the second round meets the instances of the first */
    for (round = 0; round < 2; round++)
	for (i = 0; i < NEDGE; i++)
	    pair_line(p, "edge", i, edge_lines[i], strlen(edge_lines[i]));
    pair_teardown(p);
    free(p);
}

static void
test_edges(void **state)
{
    run_edges(0);
}

static void
test_edges_rotated(void **state)
{
    run_edges(1);
}

/* the scanner takes the 0.17 shapes it is for */
static void
test_scanner_takes(void **state)
{
    static const char *taken[] = {
	"{\"type\": \"map\", \"data\": {\"@m\": {\"a\": 1, \"b\": 2}}}",
	"{\"type\": \"map\", \"data\": {\"@__pmda_tick\": 1}}",
	"{\"type\": \"map\", \"data\": {\"@stk2\": {\"\\n    f+1\\n\": 3}}}",
	"{\"type\": \"map\", \"data\": {\"@str\": \"a\\\"b\"}}",
	"{\"type\": \"hist\", \"data\": {\"@h1\": [{\"max\": -1, \"count\": 1}, {\"min\": 0, \"max\": 0, \"count\": 1}]}}",
	"{\"type\": \"hist\", \"data\": {\"@hk\": {\"a\": [{\"min\": 2, \"max\": 3, \"count\": 1}]}}}",
	"{\"type\": \"map\", \"data\": {\"@k2\": {\"a,b,c\": 1, \"a,b,c\": 2}}}",
	"{\"type\": \"map\", \"data\": {\"@c\": {\"x\": 18446744073709551615}}}",
    };
    pair_t	*p = calloc(1, sizeof(*p));
    size_t	i;

    assert_non_null(p);
    pair_setup(p, 0);
    for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
	unsigned long before = parse_scanned;

	pair_line(p, "taken", (int)i, taken[i], strlen(taken[i]));
	if (parse_scanned != before + 1)
	    fail_msg("the scanner did not take: %s", taken[i]);
    }
    pair_teardown(p);
    free(p);
}

/* bench/data: large recorded maps, stacks, string keys, histograms */
static void
test_bench_data(void **state)
{
    const char	*dir = getenv("BENCH_DATA_DIR");
    pair_t	*p = calloc(1, sizeof(*p));

    assert_non_null(p);
    pair_setup(p, 0);
    if (pair_dir(p, dir ? dir : "bench/data") == 0) {
	pair_teardown(p);
	free(p);
	print_message("# skip: no recorded output in %s\n", dir ? dir : "bench/data");
	skip();
    }
    pair_teardown(p);
    free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fixtures),
	cmocka_unit_test(test_fixtures_rotated),
	cmocka_unit_test(test_edges),
	cmocka_unit_test(test_edges_rotated),
	cmocka_unit_test(test_scanner_takes),
	cmocka_unit_test(test_bench_data),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
