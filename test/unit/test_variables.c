/*
 * test_variables: the snapshot protocol, instance ids, set order, caps,
 * the @output buffer and fetch of src/variables.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include "variables.h"

#include "varset.h"

static int
inst_id(const variable_t *v, const char *name)
{
    int		i;

    for (i = 0; i < v->ninst; i++)
	if (strcmp(v->inst[i].name, name) == 0)
	    return v->idbase + i;
    return -1;
}

static void
test_init_types(void **state)
{
    static const struct {
	const char	*name;
	var_func_t	func;
	int		keyed, is_string, stacks;
	int		type, sem, single;
	var_metrictype_t mt;
	const char	*metric;
    } cases[] = {
	{ "@c", VAR_FUNC_COUNT, 0, 0, 0, PM_TYPE_U64, PM_SEM_COUNTER, 1, VAR_MT_NONE, "c" },
	{ "@c", VAR_FUNC_COUNT, 1, 0, 1, PM_TYPE_U64, PM_SEM_COUNTER, 0, VAR_MT_STACKS, "c" },
	{ "@c", VAR_FUNC_COUNT, 1, 0, 0, PM_TYPE_U64, PM_SEM_COUNTER, 0, VAR_MT_NONE, "c" },
	{ "@h", VAR_FUNC_HIST, 0, 0, 0, PM_TYPE_U64, PM_SEM_COUNTER, 0, VAR_MT_HISTOGRAM, "h" },
	{ "@l", VAR_FUNC_LHIST, 1, 0, 0, PM_TYPE_U64, PM_SEM_COUNTER, 0, VAR_MT_HISTOGRAM, "l" },
	{ "@s", VAR_FUNC_SUM, 0, 0, 0, PM_TYPE_64, PM_SEM_INSTANT, 1, VAR_MT_NONE, "s" },
	{ "@s", VAR_FUNC_MIN, 1, 0, 0, PM_TYPE_64, PM_SEM_INSTANT, 0, VAR_MT_NONE, "s" },
	{ "@s", VAR_FUNC_MAX, 0, 0, 0, PM_TYPE_64, PM_SEM_INSTANT, 1, VAR_MT_NONE, "s" },
	{ "@s", VAR_FUNC_AVG, 0, 0, 0, PM_TYPE_64, PM_SEM_INSTANT, 1, VAR_MT_NONE, "s" },
	{ "@x", VAR_FUNC_ASSIGN, 0, 0, 0, PM_TYPE_64, PM_SEM_INSTANT, 1, VAR_MT_NONE, "x" },
	{ "@x", VAR_FUNC_ASSIGN, 1, 1, 0, PM_TYPE_STRING, PM_SEM_INSTANT, 0, VAR_MT_NONE, "x" },
	{ "@st", VAR_FUNC_STATS, 0, 0, 0, PM_TYPE_64, PM_SEM_INSTANT, 0, VAR_MT_NONE, "st" },
	{ "@output", VAR_FUNC_OUTPUT, 0, 0, 0, PM_TYPE_STRING, PM_SEM_INSTANT, 1, VAR_MT_OUTPUT, "output" },
	{ "@", VAR_FUNC_COUNT, 0, 0, 0, PM_TYPE_U64, PM_SEM_COUNTER, 1, VAR_MT_NONE, "root" },
    };
    variable_t	v;
    size_t	i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
	assert_int_equal(var_init(&v, cases[i].name, cases[i].func,
			cases[i].keyed, cases[i].is_string, cases[i].stacks), 0);
	assert_string_equal(v.name, cases[i].name);
	assert_string_equal(v.metric, cases[i].metric);
	assert_int_equal(v.type, cases[i].type);
	assert_int_equal(v.sem, cases[i].sem);
	assert_int_equal(v.single, cases[i].single);
	assert_int_equal(v.metrictype, cases[i].mt);
	assert_int_equal(v.max_inst, 100000);
	assert_int_equal(v.max_output, 65536);
	assert_int_equal(v.retain_lines, -1);
	assert_int_equal(v.indom, PM_INDOM_NULL);
	assert_int_equal(v.item, -1);
	var_free(&v);
    }
}

static void
snap(variable_t *v, const char *const *keys, int n)
{
    int		i;

    var_begin(v);
    for (i = 0; i < n; i++)
	assert_int_equal(var_put_u64(v, keys[i], i + 1) >= 0, 1);
    var_end(v);
}

static void
test_ids_stable(void **state)
{
    static const char *const s1[] = { "c", "a", "b" };
    static const char *const s2[] = { "b", "c" };
    static const char *const s3[] = { "d", "a" };
    variable_t		v;
    pmAtomValue		atom;

    var_init(&v, "@m", VAR_FUNC_COUNT, 1, 0, 0);
    snap(&v, s1, 3);
    assert_int_equal(v.nset, 3);
    assert_string_equal(set_names(&v), "a|b|c");
    assert_int_equal(inst_id(&v, "c"), 0);
    assert_int_equal(inst_id(&v, "a"), 1);
    assert_int_equal(inst_id(&v, "b"), 2);

    snap(&v, s2, 2);
    assert_string_equal(set_names(&v), "b|c");
    assert_int_equal(var_fetch(&v, 1, &atom), PMDA_FETCH_NOVALUES);
    assert_int_equal(var_fetch(&v, 2, &atom), PMDA_FETCH_STATIC);
    assert_int_equal(atom.ull, 1);
    assert_string_equal(var_inst_name(&v, 1), "a");

    snap(&v, s3, 2);
    assert_string_equal(set_names(&v), "a|d");
    assert_int_equal(inst_id(&v, "a"), 1);	/* same id back */
    assert_int_equal(inst_id(&v, "d"), 3);
    assert_int_equal(v.ninst, 4);
    assert_int_equal(var_fetch(&v, 1, &atom), PMDA_FETCH_STATIC);
    assert_int_equal(atom.ull, 2);
    assert_int_equal(var_fetch(&v, 0, &atom), PMDA_FETCH_NOVALUES);
    assert_int_equal(var_fetch(&v, 99, &atom), PMDA_FETCH_NOVALUES);
    assert_null(var_inst_name(&v, 99));
    assert_null(var_inst_name(&v, -1));
    var_free(&v);
}

/* an unchanged membership must not rebuild (and so not re-sort) the set */
static void
test_change_detection(void **state)
{
    static const char *const s1[] = { "a", "b", "c" };
    static const char *const s2[] = { "c", "b", "a" };
    static const char *const s3[] = { "a", "b" };
    static const char *const s4[] = { "a", "b", "x" };
    variable_t		v;
    pmdaInstid		tmp, *set;

    var_init(&v, "@m", VAR_FUNC_COUNT, 1, 0, 0);
    snap(&v, s1, 3);
    assert_string_equal(set_names(&v), "a|b|c");
    set = v.set;
    /* scramble the set behind the module's back */
    tmp = v.set[0]; v.set[0] = v.set[2]; v.set[2] = tmp;
    snap(&v, s2, 3);
    assert_string_equal(set_names(&v), "c|b|a");	/* not rebuilt */
    assert_int_equal(v.changed, 0);
    assert_int_equal(v.nput, 3);

    /* a put twice in one snapshot is one put */
    var_begin(&v);
    var_put_u64(&v, "a", 1);
    var_put_u64(&v, "a", 2);
    var_put_u64(&v, "b", 1);
    var_put_u64(&v, "c", 1);
    var_end(&v);
    assert_string_equal(set_names(&v), "c|b|a");

    snap(&v, s3, 2);				/* one vanished */
    assert_string_equal(set_names(&v), "a|b");
    snap(&v, s4, 3);				/* one new */
    assert_string_equal(set_names(&v), "a|b|x");
    assert_ptr_equal(v.set, set);		/* array reused */

    /* same count, different members */
    {
	static const char *const s5[] = { "a", "b", "c" };
	snap(&v, s5, 3);
	assert_string_equal(set_names(&v), "a|b|c");
    }
    var_free(&v);
}

static void
test_hist_order(void **state)
{
    variable_t		v;
    pmAtomValue		atom;

    var_init(&v, "@h", VAR_FUNC_HIST, 0, 0, 0);
    var_begin(&v);
    var_put_bucket(&v, NULL, "2-3", 2, 1);
    var_put_bucket(&v, NULL, "100-inf", 100, 7);
    var_put_bucket(&v, NULL, "-inf--1", -INFINITY, 1);
    var_put_bucket(&v, NULL, "10-19", 10, 3);
    var_put_bucket(&v, NULL, "0-0", 0, 1);
    var_put_bucket(&v, NULL, "1-1", 1, 1);
    var_end(&v);
    assert_string_equal(set_names(&v), "-inf--1|0-0|1-1|2-3|10-19|100-inf");
    assert_int_equal(var_fetch(&v, inst_id(&v, "100-inf"), &atom), PMDA_FETCH_STATIC);
    assert_int_equal(atom.ull, 7);
    var_free(&v);

    /* keyed: by key, then bound */
    var_init(&v, "@hk", VAR_FUNC_HIST, 1, 0, 0);
    var_begin(&v);
    var_put_bucket(&v, "b", "4-7", 4, 1);
    var_put_bucket(&v, "a", "10-19", 10, 1);
    var_put_bucket(&v, "ab", "0-0", 0, 1);
    var_put_bucket(&v, "a", "2-3", 2, 5);
    var_put_bucket(&v, "b", "-inf--1", -INFINITY, 1);
    var_put_bucket(&v, "a", "0-0", 0, 1);
    var_end(&v);
    assert_string_equal(set_names(&v),
	"a:0-0|a:2-3|a:10-19|ab:0-0|b:-inf--1|b:4-7");
    assert_int_equal(var_fetch(&v, inst_id(&v, "a:2-3"), &atom), PMDA_FETCH_STATIC);
    assert_int_equal(atom.ull, 5);
    /* a bucket not printed leaves the set */
    var_begin(&v);
    var_put_bucket(&v, "a", "2-3", 2, 6);
    var_end(&v);
    assert_string_equal(set_names(&v), "a:2-3");
    var_free(&v);
}

static void
test_stats_instances(void **state)
{
    variable_t		v;
    pmAtomValue		atom;

    var_init(&v, "@st", VAR_FUNC_STATS, 0, 0, 0);
    assert_int_equal(v.single, 0);
    var_begin(&v);
    assert_int_equal(var_put_i64(&v, "count", 2) >= 0, 1);
    assert_int_equal(var_put_i64(&v, "average", -6) >= 0, 1);
    assert_int_equal(var_put_i64(&v, "total", -12) >= 0, 1);
    var_end(&v);
    assert_string_equal(set_names(&v), "average|count|total");
    assert_int_equal(var_fetch(&v, inst_id(&v, "total"), &atom), PMDA_FETCH_STATIC);
    assert_int_equal(atom.ll, -12);
    var_free(&v);
}

static void
test_cap(void **state)
{
    variable_t		v;
    pmAtomValue		atom;

    var_init(&v, "@m", VAR_FUNC_COUNT, 1, 0, 0);
    v.max_inst = 2;
    var_begin(&v);
    assert_true(var_put_u64(&v, "a", 1) >= 0);
    assert_true(var_put_u64(&v, "b", 2) >= 0);
    assert_true(var_put_u64(&v, "c", 3) < 0);
    var_end(&v);
    assert_int_equal(v.ninst, 2);
    assert_int_equal(v.dropped, 1);
    assert_string_equal(set_names(&v), "a|b");
    var_begin(&v);
    assert_true(var_put_u64(&v, "b", 20) >= 0);	/* existing keys update */
    assert_true(var_put_u64(&v, "d", 4) < 0);
    var_end(&v);
    assert_int_equal(v.dropped, 2);
    assert_string_equal(set_names(&v), "b");
    assert_int_equal(var_fetch(&v, inst_id(&v, "b"), &atom), PMDA_FETCH_STATIC);
    assert_int_equal(atom.ull, 20);
    var_free(&v);
}

/* a snapshot where keys may be dropped at the cap */
static void
snap_capped(variable_t *v, const char *const *keys, int n)
{
    int		i;

    var_begin(v);
    for (i = 0; i < n; i++)
	(void)var_put_u64(v, keys[i], i + 1);
    var_end(v);
}

/*
 * max_inst counts every key a variable has had: when it drops keys while
 * at most half of it are live, the next snapshot starts a new id space.
 */
static void
test_cap_renumber(void **state)
{
    static const char *const abcd[] = { "a", "b", "c", "d" };
    static const char *const abce[] = { "a", "b", "c", "e" };
    static const char *const e[] = { "e" };
    static const char *const ea[] = { "e", "a" };
    variable_t		v;
    pmAtomValue		atom;

    /* most keys live: new ones are dropped, ids stay */
    var_init(&v, "@m", VAR_FUNC_COUNT, 1, 0, 0);
    v.max_inst = 4;
    snap_capped(&v, abcd, 4);
    snap_capped(&v, abce, 4);
    assert_int_equal(v.dropped, 1);
    snap_capped(&v, abce, 4);
    assert_int_equal(v.dropped, 2);
    assert_string_equal(set_names(&v), "a|b|c");
    assert_int_equal(inst_id(&v, "a"), 0);
    assert_int_equal(v.idbase, 0);		/* no new id space */

    /* the keys come and go (pids): the cap is hit with one key live */
    snap_capped(&v, e, 1);
    assert_int_equal(v.dropped, 3);
    assert_string_equal(set_names(&v), "");
    snap_capped(&v, ea, 2);
    assert_int_equal(v.dropped, 3);
    assert_int_equal(v.idbase, 4);		/* a new id space, above ids 0..3 */
    assert_string_equal(set_names(&v), "a|e");
    assert_int_equal(inst_id(&v, "e"), 4);	/* above every old id */
    assert_int_equal(inst_id(&v, "a"), 5);	/* a new id, not a's old 0 */
    assert_int_equal(var_fetch(&v, 0, &atom), PMDA_FETCH_NOVALUES);
    assert_null(var_inst_name(&v, 0));
    assert_null(var_inst_name(&v, 3));
    assert_string_equal(var_inst_name(&v, 4), "e");
    assert_int_equal(var_fetch(&v, 5, &atom), PMDA_FETCH_STATIC);
    assert_int_equal(atom.ull, 2);
    assert_int_equal(v.set[0].i_inst, 5);	/* the set pmdaIndom serves */
    var_free(&v);

    /* strings are freed with their slots (ASan and valgrind check it) */
    var_init(&v, "@s", VAR_FUNC_ASSIGN, 1, 1, 0);
    v.max_inst = 2;
    var_begin(&v);
    var_put_str(&v, "a", "x", 1);
    var_put_str(&v, "b", "y", 1);
    var_end(&v);
    var_begin(&v);
    assert_true(var_put_str(&v, "c", "z", 1) < 0);
    var_end(&v);
    var_begin(&v);
    assert_int_equal(var_put_str(&v, "c", "z", 1), 0);
    var_end(&v);
    assert_int_equal(inst_id(&v, "c"), 2);
    assert_int_equal(var_fetch(&v, 2, &atom), PMDA_FETCH_STATIC);
    assert_string_equal(atom.cp, "z");
    var_free(&v);

    /* near the top of the id space, ids start again from 0 */
    var_init(&v, "@m", VAR_FUNC_COUNT, 1, 0, 0);
    v.max_inst = 4;
    v.idbase = INT_MAX - 5;
    snap_capped(&v, abcd, 4);
    assert_int_equal(inst_id(&v, "d"), INT_MAX - 2);
    snap_capped(&v, e, 1);
    snap_capped(&v, e, 1);
    assert_int_equal(inst_id(&v, "e"), 0);
    var_free(&v);
}

static void
test_singular(void **state)
{
    variable_t		v;
    pmAtomValue		atom;

    var_init(&v, "@s", VAR_FUNC_SUM, 0, 0, 0);
    assert_int_equal(var_fetch(&v, PM_IN_NULL, &atom), PMDA_FETCH_NOVALUES);
    assert_int_equal(var_put_i64(&v, NULL, -5), 0);
    assert_int_equal(var_fetch(&v, PM_IN_NULL, &atom), PMDA_FETCH_STATIC);
    assert_int_equal(atom.ll, -5);
    assert_int_equal(var_put_str(&v, NULL, "-7", 2), 0);
    var_fetch(&v, PM_IN_NULL, &atom);
    assert_int_equal(atom.ll, -7);
    /* not a number: refused, value kept */
    assert_true(var_put_str(&v, NULL, "abc", 3) < 0);
    assert_true(var_put_str(&v, NULL, "12x", 3) < 0);
    assert_true(var_put_str(&v, NULL, "", 0) < 0);
    assert_true(var_put_str(&v, NULL, "-", 1) < 0);
    var_fetch(&v, PM_IN_NULL, &atom);
    assert_int_equal(atom.ll, -7);
    /* u64 into a signed variable keeps the bits */
    assert_int_equal(var_put_u64(&v, NULL, UINT64_MAX), 0);
    var_fetch(&v, PM_IN_NULL, &atom);
    assert_int_equal(atom.ll, -1);
    assert_int_equal(var_put_str(&v, NULL, "-9223372036854775808", 20), 0);
    var_fetch(&v, PM_IN_NULL, &atom);
    assert_true(atom.ll == INT64_MIN);
    /* a key for a scalar is an error */
    assert_true(var_put_i64(&v, "k", 1) < 0);
    var_free(&v);

    var_init(&v, "@c", VAR_FUNC_COUNT, 0, 0, 0);
    assert_int_equal(var_put_u64(&v, NULL, UINT64_MAX), 0);
    var_fetch(&v, PM_IN_NULL, &atom);
    assert_true(atom.ull == UINT64_MAX);
    assert_int_equal(var_put_str(&v, NULL, "18446744073709551615", 20), 0);
    var_fetch(&v, PM_IN_NULL, &atom);
    assert_true(atom.ull == UINT64_MAX);
    assert_true(var_put_str(&v, NULL, "18446744073709551616", 20) < 0);
    assert_int_equal(var_put_i64(&v, NULL, 42), 0);
    var_fetch(&v, PM_IN_NULL, &atom);
    assert_int_equal(atom.ull, 42);
    var_free(&v);

    var_init(&v, "@x", VAR_FUNC_ASSIGN, 0, 1, 0);
    assert_int_equal(v.type, PM_TYPE_STRING);
    assert_int_equal(var_put_str(&v, NULL, "hello world", 5), 0);
    assert_int_equal(var_fetch(&v, PM_IN_NULL, &atom), PMDA_FETCH_STATIC);
    assert_string_equal(atom.cp, "hello");
    assert_int_equal(var_put_u64(&v, NULL, UINT64_MAX), 0);
    var_fetch(&v, PM_IN_NULL, &atom);
    assert_string_equal(atom.cp, "18446744073709551615");
    assert_int_equal(var_put_i64(&v, NULL, -3), 0);
    var_fetch(&v, PM_IN_NULL, &atom);
    assert_string_equal(atom.cp, "-3");
    var_free(&v);
}

static void
test_keyed_values(void **state)
{
    variable_t		v;
    pmAtomValue		atom;

    var_init(&v, "@k", VAR_FUNC_SUM, 1, 0, 0);
    var_begin(&v);
    assert_true(var_put_i64(&v, NULL, 1) < 0);	/* keyed needs a key */
    assert_true(var_put_i64(&v, "neg", -5) >= 0);
    assert_true(var_put_str(&v, "big", "-9223372036854775808", 20) >= 0);
    assert_true(var_put_str(&v, "bad", "x", 1) < 0);
    var_end(&v);
    assert_string_equal(set_names(&v), "big|neg");
    var_fetch(&v, inst_id(&v, "neg"), &atom);
    assert_int_equal(atom.ll, -5);
    var_free(&v);

    var_init(&v, "@k", VAR_FUNC_ASSIGN, 1, 1, 0);
    var_begin(&v);
    var_put_str(&v, "a", "one", 3);
    var_put_u64(&v, "b", 2);
    var_end(&v);
    var_fetch(&v, inst_id(&v, "a"), &atom);
    assert_string_equal(atom.cp, "one");
    var_fetch(&v, inst_id(&v, "b"), &atom);
    assert_string_equal(atom.cp, "2");
    var_begin(&v);
    var_put_str(&v, "a", "two", 3);
    var_end(&v);
    var_fetch(&v, inst_id(&v, "a"), &atom);
    assert_string_equal(atom.cp, "two");
    assert_int_equal(var_fetch(&v, inst_id(&v, "b"), &atom), PMDA_FETCH_NOVALUES);
    var_free(&v);
}

static void
test_reset(void **state)
{
    static const char *const s1[] = { "a", "b" };
    static const char *const s2[] = { "b" };
    variable_t		v;
    pmAtomValue		atom;

    var_init(&v, "@m", VAR_FUNC_COUNT, 1, 0, 0);
    snap(&v, s1, 2);
    var_reset(&v);
    assert_int_equal(v.nset, 0);
    assert_int_equal(v.ninst, 2);
    assert_int_equal(var_fetch(&v, 0, &atom), PMDA_FETCH_NOVALUES);
    snap(&v, s2, 1);
    assert_string_equal(set_names(&v), "b");
    assert_int_equal(inst_id(&v, "b"), 1);
    var_free(&v);

    var_init(&v, "@s", VAR_FUNC_ASSIGN, 0, 1, 0);
    var_put_str(&v, NULL, "x", 1);
    var_reset(&v);
    assert_int_equal(v.have_value, 0);
    assert_int_equal(var_fetch(&v, PM_IN_NULL, &atom), PMDA_FETCH_NOVALUES);
    var_free(&v);

    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    var_append_output(&v, "abc\n", 4);
    var_reset(&v);
    assert_int_equal(v.outlen, 0);
    assert_int_equal(var_fetch(&v, PM_IN_NULL, &atom), PMDA_FETCH_STATIC);
    assert_string_equal(atom.cp, "");
    var_append_output(&v, "d\n", 2);
    var_fetch(&v, PM_IN_NULL, &atom);
    assert_string_equal(atom.cp, "d\n");
    var_free(&v);
}

/* a script made anew from an edited file keeps the ids of its keys */
static void
test_adopt(void **state)
{
    static const char *const s1[] = { "c", "a", "b" };
    static const char *const s2[] = { "b", "d" };
    static const char *const s3[] = { "x" };
    variable_t		from, to, other;
    pmAtomValue		atom;
    int			i;

    var_init(&from, "@m", VAR_FUNC_COUNT, 1, 0, 0);
    for (i = 0; i < 5; i++)
	snap(&from, s1, 3);
    var_init(&to, "@m", VAR_FUNC_COUNT, 1, 0, 0);
    assert_int_equal(var_adopt(&to, &from), 3);
    assert_int_equal(to.nset, 0);
    assert_int_equal(var_fetch(&to, 1, &atom), PMDA_FETCH_NOVALUES);
    assert_int_equal(from.ninst, 0);
    assert_int_equal(from.nset, 0);

    snap(&to, s2, 2);
    assert_string_equal(set_names(&to), "b|d");
    assert_int_equal(inst_id(&to, "b"), 2);	/* the old id */
    assert_int_equal(inst_id(&to, "d"), 3);	/* a new one */
    assert_int_equal(var_fetch(&to, 2, &atom), PMDA_FETCH_STATIC);
    assert_int_equal(atom.ull, 1);
    assert_int_equal(var_fetch(&to, 0, &atom), PMDA_FETCH_NOVALUES);
    snap(&to, s1, 3);
    assert_string_equal(set_names(&to), "a|b|c");
    assert_int_equal(inst_id(&to, "c"), 0);
    assert_int_equal(to.ninst, 4);

    /* the old variable is left empty, and still works */
    snap(&from, s3, 1);
    assert_int_equal(inst_id(&from, "x"), 0);
    assert_string_equal(set_names(&from), "x");

    /* only into a fresh variable of the same shape and type */
    assert_int_equal(var_adopt(&to, &from), 0);		/* "to" has its own */
    var_init(&other, "@m", VAR_FUNC_HIST, 1, 0, 0);
    assert_int_equal(var_adopt(&other, &from), 0);	/* a hist, not a count */
    assert_int_equal(from.ninst, 1);
    var_free(&other);
    var_init(&other, "@n", VAR_FUNC_COUNT, 1, 0, 0);
    assert_int_equal(var_adopt(&other, &from), 0);	/* another name */
    var_free(&other);
    var_free(&from);
    var_free(&to);

    /* string values are the old variable's to free, not carried over */
    var_init(&from, "@s", VAR_FUNC_ASSIGN, 1, 1, 0);
    var_begin(&from);
    assert_int_equal(var_put_str(&from, "k", "old", 3), 0);
    var_end(&from);
    var_init(&to, "@s", VAR_FUNC_ASSIGN, 1, 1, 0);
    assert_int_equal(var_adopt(&to, &from), 1);
    assert_int_equal(var_fetch(&to, 0, &atom), PMDA_FETCH_NOVALUES);
    var_begin(&to);
    assert_int_equal(var_put_str(&to, "k", "new", 3), 0);
    var_end(&to);
    assert_int_equal(var_fetch(&to, 0, &atom), PMDA_FETCH_STATIC);
    assert_string_equal(atom.cp, "new");
    var_free(&from);
    var_free(&to);
}

static void
out_check(const variable_t *v, const char *expect)
{
    pmAtomValue		atom;

    assert_int_equal(var_fetch(v, PM_IN_NULL, &atom), PMDA_FETCH_STATIC);
    assert_string_equal(atom.cp, expect);
    assert_int_equal(v->outlen, strlen(expect));
    assert_true(v->outlen <= v->max_output);
}

static void
append(variable_t *v, const char *s)
{
    var_append_output(v, s, strlen(s));
}

static void
test_output_bound(void **state)
{
    variable_t		v;
    char		big[300];

    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    out_check(&v, "");				/* always a value */
    append(&v, "hello ");
    append(&v, "there\n");
    out_check(&v, "hello there\n");
    var_free(&v);

    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    v.max_output = 10;
    append(&v, "hello\n");
    append(&v, "world\n");			/* 12 bytes: drop a line */
    out_check(&v, "world\n");
    append(&v, "a\nb\nc\n");
    out_check(&v, "a\nb\nc\n");			/* 12 -> cut before a */
    append(&v, "0123456789abcdef\n");		/* one line too long: tail */
    out_check(&v, "789abcdef\n");
    append(&v, "xy");				/* 12 bytes: drop the line */
    out_check(&v, "xy");
    append(&v, "z");
    out_check(&v, "xyz");
    var_free(&v);

    /* one append far larger than the limit keeps the newest whole lines */
    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    v.max_output = 16;
    memset(big, 'a', sizeof(big));
    memcpy(big + sizeof(big) - 12, "\nline1\nline", 11);
    big[sizeof(big) - 1] = '2';
    var_append_output(&v, big, sizeof(big));
    out_check(&v, "line1\nline2");
    var_free(&v);

    /* never cut inside a UTF-8 character */
    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    v.max_output = 4;
    append(&v, "\xc3\xa9\xc3\xa9\xc3\xa9");
    out_check(&v, "\xc3\xa9\xc3\xa9");
    v.max_output = 3;
    append(&v, "\xc3\xa9");
    out_check(&v, "\xc3\xa9");
    var_free(&v);

    /* a whole new text through var_put_str */
    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    append(&v, "old\n");
    var_put_str(&v, NULL, "new\n", 4);
    out_check(&v, "new\n");
    var_free(&v);
}

static void
test_output_retain(void **state)
{
    variable_t		v;

    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    v.retain_lines = 2;
    append(&v, "h1,h2\n");
    out_check(&v, "h1,h2\n");
    append(&v, "1,a\n");
    append(&v, "2,b\n");
    out_check(&v, "h1,h2\n1,a\n2,b\n");
    append(&v, "3,c\n");
    out_check(&v, "h1,h2\n2,b\n3,c\n");
    append(&v, "4,d\n5,e\n6,f\n");		/* several lines at once */
    out_check(&v, "h1,h2\n5,e\n6,f\n");
    append(&v, "7,g");				/* unterminated last line counts */
    out_check(&v, "h1,h2\n6,f\n7,g");
    append(&v, "\n");
    out_check(&v, "h1,h2\n6,f\n7,g\n");
    var_free(&v);

    /* header and rows in the first printf */
    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    v.retain_lines = 1;
    append(&v, "hdr\nr1\nr2\nr3\n");
    out_check(&v, "hdr\nr3\n");
    var_free(&v);

    /* header arriving in pieces */
    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    v.retain_lines = 1;
    append(&v, "he");
    append(&v, "ad\nr1\n");
    append(&v, "r2\n");
    out_check(&v, "head\nr2\n");
    var_free(&v);

    /* retain 0: the header alone */
    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    v.retain_lines = 0;
    append(&v, "hdr\nr1\n");
    out_check(&v, "hdr\n");
    append(&v, "r2");
    out_check(&v, "hdr\n");
    var_free(&v);

    /* retain-lines within max_output: the header stays, rows are dropped */
    var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0);
    v.retain_lines = 100;
    v.max_output = 12;
    append(&v, "hdr\n");
    append(&v, "row1\n");
    append(&v, "row2\n");
    out_check(&v, "hdr\nrow2\n");
    var_free(&v);
}

/* newlines in s */
static size_t
count_nl(const char *s)
{
    size_t	n = 0;

    for (; *s; s++)
	n += *s == '\n';
    return n;
}

/*
 * What table-retain-lines n keeps of all text printed: the first line
 * (once ended) and the last n lines after it, counted back from the end.
 */
static void
retain_model(const char *all, int n, char *out)
{
    const char	*nl = strchr(all, '\n'), *body, *q;
    size_t	hl, end, start;
    int		k = 0;

    if (nl == NULL) {
	strcpy(out, all);
	return;
    }
    hl = nl - all + 1;
    body = all + hl;
    end = start = strlen(body);
    if (end > 0 && body[end - 1] == '\n')
	start = --end;
    while (n > 0) {
	if ((q = memrchr(body, '\n', start)) == NULL) {
	    start = 0;
	    break;
	}
	if (++k == n) {
	    start = q - body + 1;
	    break;
	}
	start = q - body;
    }
    if (n == 0)
	start = strlen(body);
    memcpy(out, all, hl);
    strcpy(out + hl, body + start);
}

/* random pieces of lines: the text kept always matches the model */
static void
test_output_retain_model(void **state)
{
    static const int	keep[] = { 0, 1, 2, 3, 7, 50 };
    static char		all[40000], want[40000];
    variable_t		v;
    pmAtomValue		atom;
    unsigned int	seed = 12345;
    char		piece[16];
    size_t		k, used;
    int			i, j, len;

    for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
	var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 1, 0);
	v.max_output = 1 << 20;		/* no bound: retain alone */
	v.retain_lines = keep[k];
	used = 0;
	all[0] = '\0';
	for (i = 0; i < 3000; i++) {
	    /* 1 to 12 bytes of 'a', 'b' and '\n', one in three a newline */
	    seed = seed * 1103515245 + 12345;
	    len = 1 + (seed >> 16) % 12;
	    for (j = 0; j < len; j++) {
		seed = seed * 1103515245 + 12345;
		piece[j] = (seed >> 16) % 3 == 0 ? '\n' : 'a' + (seed >> 20) % 2;
	    }
	    var_append_output(&v, piece, len);
	    memcpy(all + used, piece, len);
	    used += len;
	    all[used] = '\0';
	    retain_model(all, keep[k], want);
	    assert_int_equal(var_fetch(&v, PM_IN_NULL, &atom), PMDA_FETCH_STATIC);
	    assert_string_equal(atom.cp, want);
	    assert_int_equal(v.outnl, count_nl(atom.cp));
	}
	var_free(&v);
    }
}

/* printf line i of the flood: "line I" and 0 to 36 x's */
static size_t
flood_line(char *buf, size_t size, int i)
{
    return snprintf(buf, size, "line %d %.*s\n", i, i % 37,
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

/*
 * After line last: the text is hdr, then consecutive whole lines ending
 * with line last, the last keep of them, or as many as fit in max_output
 * (keep INT_MAX), and the allocation is a few times max_output at most.
 */
static void
flood_check(variable_t *v, const char *hdr, int last, int keep)
{
    pmAtomValue	atom;
    char	line[128];
    const char	*p;
    size_t	hl = strlen(hdr), used;
    int		k, first;

    assert_int_equal(var_fetch(v, PM_IN_NULL, &atom), PMDA_FETCH_STATIC);
    assert_int_equal(strlen(atom.cp), v->outlen);
    assert_int_equal(v->outnl, count_nl(atom.cp));
    assert_true(v->outlen <= v->max_output);
    assert_true(v->outcap <= 4 * v->max_output + 64);
    assert_memory_equal(atom.cp, hdr, hl);
    p = atom.cp + hl;
    assert_int_equal(sscanf(p, "line %d", &first), 1);
    for (k = first; k <= last; k++) {
	size_t n = flood_line(line, sizeof(line), k);

	assert_memory_equal(p, line, n);
	p += n;
    }
    assert_int_equal(*p, '\0');
    used = v->outlen;
    if (first > 0 && last - first + 1 < keep)	/* one more would not fit */
	assert_true(used + flood_line(line, sizeof(line), first - 1) > v->max_output);
    if (keep < INT_MAX)
	assert_int_equal(last - first + 1, last + 1 < keep ? last + 1 : keep);
}

/* a printf flood at the bound, with and without a kept header */
static void
test_output_flood(void **state)
{
    static const struct {
	const char	*hdr;
	size_t		max_output;
	int		retain;
	int		keep;		/* lines kept when enough came */
    } cases[] = {
	{ "", 1000, -1, INT_MAX },	/* plain: the newest lines that fit */
	{ "pid,comm,path\n", 1000, 5, 5 },	/* header and the last 5 lines */
	{ "pid,comm,path\n", 500, 1000, INT_MAX }, /* header and what fits */
    };
    variable_t		v;
    char		line[128];
    size_t		c;
    int			i;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
	var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 1, 0);
	v.max_output = cases[c].max_output;
	v.retain_lines = cases[c].retain;
	var_append_output(&v, cases[c].hdr, strlen(cases[c].hdr));
	for (i = 0; i < 20000; i++) {
	    var_append_output(&v, line, flood_line(line, sizeof(line), i));
	    if (i % 97 == 0 || i < 50 || i == 19999)
		flood_check(&v, cases[c].hdr, i, cases[c].keep);
	}
	var_free(&v);
    }
}

/*
 * 20,000 keys a print: ids stable across churn, the set sorted.  How fast
 * that goes is the benchmarks' to say (parsebench's map16k), not a test's.
 */
static void
test_many_keys(void **state)
{
    variable_t		v;
    pmAtomValue		atom;
    char		key[32];
    int			round, i, n = 20000;

    var_init(&v, "@m", VAR_FUNC_COUNT, 1, 0, 0);
    for (round = 0; round < 21; round++) {
	var_begin(&v);
	for (i = 0; i < n; i++) {
	    /* every 5th round drops the odd keys */
	    if (round % 5 == 4 && (i & 1))
		continue;
	    snprintf(key, sizeof(key), "key%d", i);
	    assert_true(var_put_u64(&v, key, round) >= 0);
	}
	var_end(&v);
	assert_int_equal(v.nset, round % 5 == 4 ? n / 2 : n);
    }
    assert_int_equal(v.ninst, n);
    for (i = 0; i < n; i += 997) {
	snprintf(key, sizeof(key), "key%d", i);
	assert_int_equal(inst_id(&v, key), i);
	assert_int_equal(var_fetch(&v, i, &atom), PMDA_FETCH_STATIC);
	assert_int_equal(atom.ull, 20);
    }
    for (i = 1; i < v.nset; i++)
	assert_true(strcmp(v.set[i - 1].i_name, v.set[i].i_name) < 0);
    var_free(&v);
}

/*
 * var_changes() moves with every change fetch.c's kept answer could miss,
 * and stands still for what only reads: a fetch, an instance's name.
 */
static void
test_change_count(void **state)
{
    variable_t		v, w;
    pmAtomValue		atom;
    unsigned long	c;

#define MOVES(call) do { c = var_changes(); call; \
	assert_true(var_changes() != c); } while (0)
    MOVES(var_init(&v, "@m", VAR_FUNC_COUNT, 1, 0, 0));
    MOVES(var_begin(&v));
    MOVES(var_put_u64(&v, "a", 1));
    MOVES(var_put_num_n(&v, "b", 1, 0, 2));
    MOVES(var_end(&v));
    /* a put of the same value outside a snapshot still counts */
    MOVES(var_put_u64(&v, "a", 1));
    MOVES(var_put_bucket(&v, NULL, "1", 1.0, 3));
    MOVES(var_put_str(&v, "a", "5", 1));
    c = var_changes();
    var_fetch(&v, 0, &atom);
    var_inst_name(&v, 0);
    assert_true(var_changes() == c);
    MOVES(var_reset(&v));
    MOVES(var_init(&w, "@m", VAR_FUNC_COUNT, 1, 0, 0));
    MOVES(var_adopt(&w, &v));
    MOVES(var_free(&w));
    MOVES(var_free(&v));
    MOVES(var_init(&v, "@s", VAR_FUNC_ASSIGN, 0, 0, 0));
    MOVES(var_put_i64(&v, NULL, -1));
    MOVES(var_free(&v));
    MOVES(var_init(&v, "@output", VAR_FUNC_OUTPUT, 0, 0, 0));
    MOVES(var_append_output(&v, "x\n", 2));
    MOVES(var_free(&v));
#undef MOVES
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_init_types),
	cmocka_unit_test(test_ids_stable),
	cmocka_unit_test(test_change_detection),
	cmocka_unit_test(test_hist_order),
	cmocka_unit_test(test_stats_instances),
	cmocka_unit_test(test_cap),
	cmocka_unit_test(test_cap_renumber),
	cmocka_unit_test(test_singular),
	cmocka_unit_test(test_keyed_values),
	cmocka_unit_test(test_reset),
	cmocka_unit_test(test_adopt),
	cmocka_unit_test(test_output_bound),
	cmocka_unit_test(test_output_retain),
	cmocka_unit_test(test_output_retain_model),
	cmocka_unit_test(test_output_flood),
	cmocka_unit_test(test_many_keys),
	cmocka_unit_test(test_change_count),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
