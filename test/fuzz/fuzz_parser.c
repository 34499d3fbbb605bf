/*
 * fuzz_parser: arbitrary bytes through parse_line() into variables of
 * every kind (count, keyed count, sum/min/max/avg, plain and string
 * assignments, hist, lhist, keyed hist, stats, keyed stats, @output).
 *
 * The input is split at '\n' and each piece fed as one line, so a corpus
 * file may be a single bpftrace output line or a whole run; every piece
 * goes into a malloc'd buffer of exactly len + 1 bytes (parse_line's
 * contract), so ASan sees any read past the end.  Each input is fed to
 * two fresh targets: the usual classification with default limits, and
 * the same names with their kinds rotated and tight limits (few
 * instances, a small @output with table-retain-lines), so that every kind
 * of JSON meets every kind of variable and the capping paths run.
 *
 * Each target has a twin fed the same lines with parse_scanner off: the
 * scanner (the fast path for map and hist records) and json-c must leave
 * the same state (test/unit/scan_compare.h), or the input aborts.  A
 * third target takes the lines as the agent does, through parse_offer()
 * and parse_flush() (lazy parsing).
 *
 * Build: see Makefile (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "parser.h"
#include "../unit/scan_compare.h"

typedef struct spec {
    const char	*name;
    var_func_t	func;
    int		keyed, is_string, stacks;
} spec_t;

/* the names the fixtures print, plus a few short ones for the fuzzer */
static const spec_t specs[] = {
    { "@", VAR_FUNC_COUNT, 0, 0, 0 },
    { "@a", VAR_FUNC_AVG, 0, 0, 0 },
    { "@ak", VAR_FUNC_AVG, 1, 0, 0 },
    { "@b", VAR_FUNC_ASSIGN, 1, 1, 0 },
    { "@big", VAR_FUNC_ASSIGN, 0, 0, 0 },
    { "@buf", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@c", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@cafe", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@ck", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@cnt", VAR_FUNC_COUNT, 0, 0, 0 },
    { "@h", VAR_FUNC_HIST, 0, 0, 0 },
    { "@hk", VAR_FUNC_HIST, 1, 0, 0 },
    { "@i", VAR_FUNC_ASSIGN, 0, 0, 0 },
    { "@k", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@k2", VAR_FUNC_ASSIGN, 1, 0, 0 },
    { "@l", VAR_FUNC_LHIST, 0, 0, 0 },
    { "@lk", VAR_FUNC_LHIST, 1, 0, 0 },
    { "@m", VAR_FUNC_COUNT, 1, 0, 0 },
    { "@mn", VAR_FUNC_MIN, 0, 0, 0 },
    { "@mx", VAR_FUNC_MAX, 0, 0, 0 },
    { "@neg", VAR_FUNC_SUM, 0, 0, 0 },
    { "@negk", VAR_FUNC_ASSIGN, 1, 0, 0 },
    { "@s", VAR_FUNC_SUM, 1, 0, 0 },
    { "@scalar", VAR_FUNC_ASSIGN, 0, 0, 0 },
    { "@st", VAR_FUNC_STATS, 0, 0, 0 },
    { "@stk", VAR_FUNC_STATS, 1, 0, 0 },
    { "@stk2", VAR_FUNC_COUNT, 1, 0, 1 },
    { "@str", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@t", VAR_FUNC_ASSIGN, 0, 1, 0 },
    { "@x", VAR_FUNC_SUM, 0, 0, 0 },
    { "@output", VAR_FUNC_OUTPUT, 0, 1, 0 },
};
#define NSPECS	((int)(sizeof(specs) / sizeof(specs[0])))

/* the kinds the second target rotates through */
static const spec_t kinds[] = {
    { NULL, VAR_FUNC_COUNT, 0, 0, 0 },
    { NULL, VAR_FUNC_COUNT, 1, 0, 1 },
    { NULL, VAR_FUNC_HIST, 0, 0, 0 },
    { NULL, VAR_FUNC_HIST, 1, 0, 0 },
    { NULL, VAR_FUNC_STATS, 0, 0, 0 },
    { NULL, VAR_FUNC_STATS, 1, 0, 0 },
    { NULL, VAR_FUNC_ASSIGN, 0, 1, 0 },
    { NULL, VAR_FUNC_ASSIGN, 1, 1, 0 },
    { NULL, VAR_FUNC_ASSIGN, 0, 0, 0 },
    { NULL, VAR_FUNC_LHIST, 1, 0, 0 },
    { NULL, VAR_FUNC_AVG, 1, 0, 0 },
};
#define NKINDS	((int)(sizeof(kinds) / sizeof(kinds[0])))

static int
setup(parse_target_t *t, variable_t *vars, int rotate)
{
    int		i;

    memset(t, 0, sizeof(*t));
    t->vars = vars;
    for (i = 0; i < NSPECS; i++) {
	const spec_t	*s = &specs[i];

	if (rotate && s->func != VAR_FUNC_OUTPUT)
	    s = &kinds[i % NKINDS];
	if (var_init(&vars[i], specs[i].name, s->func, s->keyed,
		     s->is_string, s->stacks) < 0)
	    return -1;
	t->nvars++;
	if (rotate) {
	    vars[i].max_inst = 4;
	    vars[i].max_output = 64;
	    vars[i].retain_lines = 1;
	}
	if (s->func == VAR_FUNC_OUTPUT)
	    t->output = &vars[i];
    }
    return 0;
}

static void
teardown(parse_target_t *t)
{
    int		i;

    for (i = 0; i < t->nvars; i++)
	var_free(&t->vars[i]);
}

/* @output's bookkeeping: its length, bound and newline count */
static void
check_output(const variable_t *v)
{
    const char	*text = var_output(v);
    size_t	n = 0, len = strlen(text);

    for (; *text; text++)
	n += *text == '\n';
    if (len != v->outlen || len > v->max_output || n != v->outnl) {
	fprintf(stderr, "@output: %zu bytes (outlen %zu, max_output %zu), "
		"%zu newlines (outnl %zu)\n", len, v->outlen, v->max_output,
		n, v->outnl);
	abort();
    }
}

/* what fetch would do: read every value and instance name */
static void
touch(parse_target_t *t)
{
    pmAtomValue	atom;
    int		i, j;
    volatile size_t sink = 0;

    for (i = 0; i < t->nvars; i++) {
	variable_t	*v = &t->vars[i];

	if (v->func == VAR_FUNC_OUTPUT)
	    check_output(v);

	if (v->single) {
	    if (var_fetch(v, 0, &atom) == PMDA_FETCH_STATIC &&
		v->type == PM_TYPE_STRING)
		sink += strlen(atom.cp);
	    continue;
	}
	for (j = 0; j < v->nset; j++) {
	    if (var_fetch(v, v->set[j].i_inst, &atom) == PMDA_FETCH_STATIC &&
		v->type == PM_TYPE_STRING)
		sink += strlen(atom.cp);
	    sink += strlen(v->set[j].i_name);
	    sink += strlen(var_inst_name(v, v->set[j].i_inst));
	}
    }
    (void)sink;
}

static void
feed(parse_target_t *t, parse_target_t *twin, const uint8_t *data, size_t size)
{
    const uint8_t	*p = data, *nl, *end = data + size;
    const char		*d;
    size_t		len;
    int			sa, sb;

    for (;;) {
	nl = memchr(p, '\n', end - p);
	len = (nl ? nl : end) - p;
	if ((d = scan_feed_both(t, twin, (const char *)p, len, &sa, &sb)) != NULL) {
	    fprintf(stderr, "scanner and json-c differ: %s\n", d);
	    abort();
	}
	touch(t);
	if (nl == NULL)
	    break;
	p = nl + 1;
    }
}

/*
 * The agent's way: parse_offer() each line, parse_flush() now and then
 * (every n lines, n from the input's first byte) as fetches come, with a
 * tight limit on the copies.  Crashes and leaks are what is looked for;
 * the states may differ from eager parsing on purpose (replaced prints).
 */
static void
feed_lazy(parse_target_t *t, const uint8_t *data, size_t size)
{
    const uint8_t	*p = data, *nl, *end = data + size;
    unsigned		every = size ? data[0] % 8 + 1 : 1, n = 0;
    char		*buf;
    size_t		len;

    t->max_pending = 4096;
    for (;;) {
	nl = memchr(p, '\n', end - p);
	len = (nl ? nl : end) - p;
	if ((buf = malloc(len + 1)) != NULL) {
	    memcpy(buf, p, len);
	    buf[len] = '\0';
	    parse_offer(t, buf, len);
	    free(buf);
	}
	if (++n % every == 0) {
	    parse_flush(t);
	    touch(t);
	}
	if (nl == NULL)
	    break;
	p = nl + 1;
    }
    parse_flush(t);
    if (t->npending != 0 || t->pending_bytes > t->max_pending)
	abort();
    touch(t);
    parse_pending_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static variable_t	vars[NSPECS], twin_vars[NSPECS];
    parse_target_t	t, twin;
    int			rotate;

    for (rotate = 0; rotate < 2; rotate++) {
	int ok = setup(&t, vars, rotate) == 0;

	if (setup(&twin, twin_vars, rotate) == 0 && ok)
	    feed(&t, &twin, data, size);
	teardown(&t);
	teardown(&twin);
	if (setup(&t, vars, rotate) == 0)
	    feed_lazy(&t, data, size);
	teardown(&t);
    }
    return 0;
}
