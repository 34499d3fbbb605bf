/*
 * parser: one line of `bpftrace -f json` output -> updates of one script's
 * variables and state.
 *
 * This is the only module that knows JSON, and the only one that knows how
 * the output differs between bpftrace releases (families F1..F5 in
 * shared/docs/bpftrace-json-output.md).  It exists so that the rest of the
 * agent sees snapshots of variables (variables.h), never records.
 *
 * Each variable is classified by what the script assigns to it (its func),
 * not by the shape of the JSON: bpftrace prints a scalar holding a struct
 * like a keyed map, avg() as type "stats", and from 0.24 an empty map as
 * "{}" of type "map" whatever the map holds.
 *
 * bpftrace emits some invalid JSON (strftime, pointers, hex counts...):
 * such a line is counted in parse_errors and skipped, never fatal.  Bytes
 * above 0x7f arrive as "\uffffffXX" on x86; they are put back as raw bytes
 * before parsing, and every text used as an instance name or a string value
 * is made valid UTF-8 (invalid bytes become '?').
 *
 * This is the hot path (maps of tens of thousands of keys each second):
 * keys and values are used in place when they are valid UTF-8, so the only
 * allocations per key are json-c's own and those of new instances.
 */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <json-c/json.h>
#include "parser.h"
#include "utf8.h"

#define PARSE_MAX_DEPTH	64	/* nested tuples and structs */
#define PARSE_BOUND_LEN	32	/* text of one histogram bound */

/* scratch text: on the stack, on the heap only for long texts */
typedef struct parse_buf {
    char	*p;
    size_t	size;
    char	local[256];
} parse_buf_t;

/* what one line needs while it is taken apart */
typedef struct parse_ctx {
    parse_target_t	*t;
    parse_buf_t		key;	/* cleaned keys, joined instance names */
    parse_buf_t		text;	/* cleaned string values */
} parse_ctx_t;

static void
parse_buf_init(parse_buf_t *b)
{
    b->p = b->local;
    b->size = sizeof(b->local);
}

static void
parse_buf_free(parse_buf_t *b)
{
    if (b->p != b->local)
	free(b->p);
    parse_buf_init(b);
}

static void
parse_ctx_init(parse_ctx_t *c, parse_target_t *t)
{
    c->t = t;
    parse_buf_init(&c->key);
    parse_buf_init(&c->text);
}

static void
parse_ctx_free(parse_ctx_t *c)
{
    parse_buf_free(&c->key);
    parse_buf_free(&c->text);
}

static char *
parse_buf_reserve(parse_buf_t *b, size_t n)
{
    char	*p;
    size_t	size = b->size;

    if (n <= size)
	return b->p;
    while (size < n)
	size *= 2;
    if (b->p == b->local)
	p = malloc(size);
    else
	p = realloc(b->p, size);
    if (p == NULL)
	return NULL;
    b->p = p;
    b->size = size;
    return p;
}

/* copy s to d making it valid UTF-8; returns the bytes written (<= len) */
static size_t
parse_utf8_copy(char *d, const char *str, size_t len)
{
    const unsigned char	*s = (const unsigned char *)str;
    size_t		i = 0, o = 0, n;

    while (i < len) {
	if (s[i] >= 0x01 && s[i] < 0x80)
	    d[o++] = s[i++];
	else if ((n = utf8_seq(s + i, len - i)) != 0) {
	    memcpy(d + o, s + i, n);
	    o += n;
	    i += n;
	}
	else {
	    d[o++] = '?';
	    i++;
	}
    }
    return o;
}

/*
 * s as valid UTF-8, NUL terminated, followed by suffix (may be NULL):
 * s itself when nothing needs changing (s must then be NUL terminated
 * at len, as json-c strings are), else a copy in b.  NULL: no memory.
 */
static const char *
parse_clean(parse_buf_t *b, const char *s, size_t len, const char *suffix,
		size_t *outlen)
{
    size_t	slen = suffix ? strlen(suffix) : 0;
    size_t	o;
    char	*d;

    /* NUL is replaced too: names are C strings */
    if (suffix == NULL && utf8_text_ok(s, len)) {
	*outlen = len;
	return s;
    }
    if ((d = parse_buf_reserve(b, len + slen + 1)) == NULL)
	return NULL;
    o = parse_utf8_copy(d, s, len);
    memcpy(d + o, suffix ? suffix : "", slen);
    o += slen;
    d[o] = '\0';
    *outlen = o;
    return d;
}

/* a JSON object key as an instance name */
static const char *
parse_key(parse_ctx_t *c, const char *key)
{
    size_t	len;

    return parse_clean(&c->key, key, strlen(key), NULL, &len);
}

static int
parse_hexdigit(int ch)
{
    if (ch >= '0' && ch <= '9')
	return ch - '0';
    if (ch >= 'a' && ch <= 'f')
	return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
	return ch - 'A' + 10;
    return -1;
}

/* "\uffffffXX": 8 hex digits, the first six f (a sign-extended char) */
static int
parse_is_bad_escape(const char *s, size_t avail)
{
    int		i;

    if (avail < 10 || s[1] != 'u')
	return 0;
    for (i = 2; i < 8; i++)
	if (s[i] != 'f' && s[i] != 'F')
	    return 0;
    return parse_hexdigit(s[8]) >= 0 && parse_hexdigit(s[9]) >= 0;
}

/*
 * bpftrace prints a byte >= 0x80 of a string as "\uffffffXX" (a signed
 * char widened): rewrite it in place to the raw byte, which json-c takes
 * as is.  Escape pairs are stepped over whole, so an escaped backslash
 * followed by "uffffff" text is left alone.  Returns the new length.
 */
static size_t
parse_fix_escapes(char *s, size_t len)
{
    const char	*p = s;
    size_t	i, o;
    int		byte;

    /* most lines have none: find the first without writing anything */
    for (;;) {
	if ((p = memchr(p, '\\', len - (p - s))) == NULL)
	    return len;
	if (parse_is_bad_escape(p, len - (p - s)))
	    break;
	p += (size_t)(p - s) + 2 <= len ? 2 : 1;
	if (p >= s + len)
	    return len;
    }
    i = o = p - s;
    while (i < len) {
	if (s[i] != '\\' || i + 1 >= len) {
	    s[o++] = s[i++];
	    continue;
	}
	if (!parse_is_bad_escape(s + i, len - i)) {
	    s[o++] = s[i++];
	    s[o++] = s[i++];
	    continue;
	}
	byte = parse_hexdigit(s[i + 8]) * 16 + parse_hexdigit(s[i + 9]);
	if (byte >= 0x80)
	    s[o++] = (char)byte;
	else {
	    /* not seen from bpftrace, but a raw '"' or '\' would break JSON */
	    memcpy(s + o, "\\u00", 4);
	    s[o + 4] = s[i + 8];
	    s[o + 5] = s[i + 9];
	    o += 6;
	}
	i += 10;
    }
    s[o] = '\0';
    return o;
}

/* a JSON integer: negative ones as int64, others as uint64 (no clamping) */
static void
parse_int(json_object *j, int *neg, uint64_t *u, int64_t *i)
{
    *i = json_object_get_int64(j);
    *neg = *i < 0;
    *u = *neg ? (uint64_t)*i : json_object_get_uint64(j);
}

/* a count or bound: an integer, a digit string (F4+) or a whole double */
static int
parse_get_u64(json_object *j, uint64_t *u)
{
    int64_t	i;
    double	d;
    int		neg;
    const char	*s, *end;

    switch (json_object_get_type(j)) {
    case json_type_int:
	parse_int(j, &neg, u, &i);
	return 0;
    case json_type_double:
	d = json_object_get_double(j);
	if (!(d >= 0 && d < 18446744073709551616.0))
	    return PM_ERR_CONV;
	*u = (uint64_t)d;
	return 0;
    case json_type_string:
	s = json_object_get_string(j);
	if (*s < '0' || *s > '9')
	    return PM_ERR_CONV;
	*u = strtoull(s, (char **)&end, 10);
	return *end == '\0' ? 0 : PM_ERR_CONV;
    default:
	return PM_ERR_CONV;
    }
}

/*
 * One value into variable v (key NULL for a singular one).  The variable
 * converts numbers to its own type; text goes in cleaned.
 */
static int
parse_put_value(parse_ctx_t *c, variable_t *v, const char *key, json_object *j)
{
    const char	*s;
    size_t	len;
    uint64_t	u;
    int64_t	i;
    double	d;
    int		neg, b;

    switch (json_object_get_type(j)) {
    case json_type_int:
	parse_int(j, &neg, &u, &i);
	return neg ? var_put_i64(v, key, i) : var_put_u64(v, key, u);

    case json_type_double:
	d = json_object_get_double(j);
	if (v->type == PM_TYPE_STRING)
	    break;
	if (d < 0 && d >= -9223372036854775808.0)
	    return var_put_i64(v, key, (int64_t)d);
	if (d >= 0 && d < 18446744073709551616.0)
	    return var_put_u64(v, key, (uint64_t)d);
	return PM_ERR_CONV;

    case json_type_boolean:
	b = json_object_get_boolean(j);
	if (v->type == PM_TYPE_STRING)
	    return var_put_str(v, key, b ? "true" : "false", b ? 4 : 5);
	return var_put_u64(v, key, b ? 1 : 0);

    case json_type_string:
	s = json_object_get_string(j);
	len = json_object_get_string_len(j);
	if (v->type != PM_TYPE_STRING)	/* digits (F4+ u64) or nothing */
	    return var_put_str(v, key, s, len);
	if ((s = parse_clean(&c->text, s, len, NULL, &len)) == NULL)
	    return -ENOMEM;
	return var_put_str(v, key, s, len);

    case json_type_null:
	return PM_ERR_CONV;

    default:	/* tuples, structs, buf() byte arrays: text, or nothing */
	break;
    }
    if (v->type != PM_TYPE_STRING)
	return PM_ERR_CONV;
    s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
					  JSON_C_TO_STRING_NOSLASHESCAPE);
    if ((s = parse_clean(&c->text, s, strlen(s), NULL, &len)) == NULL)
	return -ENOMEM;
    return var_put_str(v, key, s, len);
}

void
parse_bucket_name(char *buf, size_t buflen, int have_min, const char *min,
		int have_max, const char *max)
{
    snprintf(buf, buflen, "%s-%s", have_min ? min : "-inf",
	     have_max ? max : "inf");
}

/*
 * A histogram bound: 1 with its text and value, 0 when absent (open),
 * negative when unusable.  Bounds are integers, or digit strings (F4+).
 */
static int
parse_bound(json_object *bucket, const char *field, char *text, double *d)
{
    json_object	*j;
    const char	*s, *end;
    uint64_t	u;
    int64_t	i;
    int		neg;

    if (!json_object_object_get_ex(bucket, field, &j))
	return 0;
    switch (json_object_get_type(j)) {
    case json_type_int:
	parse_int(j, &neg, &u, &i);
	if (neg) {
	    snprintf(text, PARSE_BOUND_LEN, "%" PRId64, i);
	    *d = (double)i;
	}
	else {
	    snprintf(text, PARSE_BOUND_LEN, "%" PRIu64, u);
	    *d = (double)u;
	}
	return 1;
    case json_type_string:
	s = json_object_get_string(j);
	if ((size_t)json_object_get_string_len(j) >= PARSE_BOUND_LEN)
	    return PM_ERR_CONV;
	*d = strtod(s, (char **)&end);
	if (end == s || *end != '\0')
	    return PM_ERR_CONV;
	strcpy(text, s);
	return 1;
    case json_type_double:
	*d = json_object_get_double(j);
	if (!isfinite(*d))
	    return PM_ERR_CONV;
	snprintf(text, PARSE_BOUND_LEN, "%.0f", *d);
	return 1;
    default:
	return PM_ERR_CONV;
    }
}

/* the buckets of one histogram (key NULL when the variable has no key) */
static void
parse_buckets(variable_t *v, const char *key, json_object *arr)
{
    char	min[PARSE_BOUND_LEN], max[PARSE_BOUND_LEN];
    char	name[2 * PARSE_BOUND_LEN + 8];
    json_object	*bucket, *jc;
    double	lower, upper;
    uint64_t	count;
    size_t	i, n = json_object_array_length(arr);
    int		have_min, have_max;

    for (i = 0; i < n; i++) {
	bucket = json_object_array_get_idx(arr, i);
	if (!json_object_is_type(bucket, json_type_object))
	    continue;
	if ((have_min = parse_bound(bucket, "min", min, &lower)) < 0 ||
	    (have_max = parse_bound(bucket, "max", max, &upper)) < 0)
	    continue;
	if (!json_object_object_get_ex(bucket, "count", &jc) ||
	    parse_get_u64(jc, &count) < 0)
	    continue;
	if (!have_min)
	    lower = -INFINITY;
	parse_bucket_name(name, sizeof(name), have_min, min, have_max, max);
	var_put_bucket(v, key, name, lower, count);
    }
}

/* hist()/lhist(): buckets, or key -> buckets; one snapshot */
static void
parse_hist_var(parse_ctx_t *c, variable_t *v, json_object *data)
{
    const char	*key;

    if (json_object_is_type(data, json_type_array)) {
	var_begin(v);
	parse_buckets(v, NULL, data);
	var_end(v);
    }
    else if (json_object_is_type(data, json_type_object)) {
	var_begin(v);
	json_object_object_foreach(data, k, arr) {
	    if (!json_object_is_type(arr, json_type_array) ||
		(key = parse_key(c, k)) == NULL)
		continue;
	    parse_buckets(v, key, arr);
	}
	var_end(v);
    }
}

/* "KEY:field" for keyed stats(), in the key scratch buffer */
static const char *
parse_join_key(parse_ctx_t *c, const char *key, const char *field)
{
    size_t	klen = strlen(key), flen = strlen(field), o;
    char	*d;

    if ((d = parse_buf_reserve(&c->key, klen + flen + 2)) == NULL)
	return NULL;
    o = parse_utf8_copy(d, key, klen);
    d[o++] = ':';
    o += parse_utf8_copy(d + o, field, flen);
    d[o] = '\0';
    return d;
}

/*
 * stats(): {"count", "average", "total"}, or key -> that object (fields
 * become "KEY:count" ...).  Told apart by the value's shape, as a key may
 * itself be called "count".
 */
static void
parse_stats_var(parse_ctx_t *c, variable_t *v, json_object *data)
{
    const char	*name;

    if (!json_object_is_type(data, json_type_object))
	return;
    var_begin(v);
    json_object_object_foreach(data, k, val) {
	if (json_object_is_type(val, json_type_object)) {
	    json_object_object_foreach(val, f, x) {
		if ((name = parse_join_key(c, k, f)) != NULL)
		    parse_put_value(c, v, name, x);
	    }
	}
	else if ((name = parse_key(c, k)) != NULL)
	    parse_put_value(c, v, name, val);
    }
    var_end(v);
}

/* a keyed map: key -> value; one snapshot ("{}" from F4 is an empty one) */
static void
parse_keyed_var(parse_ctx_t *c, variable_t *v, json_object *data)
{
    const char	*key;

    if (!json_object_is_type(data, json_type_object))
	return;
    var_begin(v);
    json_object_object_foreach(data, k, val) {
	if ((key = parse_key(c, k)) != NULL)
	    parse_put_value(c, v, key, val);
    }
    var_end(v);
}

static void
parse_var(parse_ctx_t *c, variable_t *v, json_object *data)
{
    switch (v->func) {
    case VAR_FUNC_OUTPUT:
	return;		/* fed by printf() and friends only */
    case VAR_FUNC_HIST:
    case VAR_FUNC_LHIST:
	parse_hist_var(c, v, data);
	return;
    case VAR_FUNC_STATS:
	parse_stats_var(c, v, data);
	return;
    default:
	break;
    }
    if (!v->single)
	parse_keyed_var(c, v, data);
    else if (json_object_is_type(data, json_type_object) &&
	     json_object_object_length(data) == 0)
	return;		/* F4 "{}": nothing to show for a scalar */
    else
	parse_put_value(c, v, NULL, data);
}

static variable_t *
parse_find_var(parse_target_t *t, const char *name)
{
    int		i;

    for (i = 0; i < t->nvars; i++)
	if (t->vars[i].name != NULL && strcmp(t->vars[i].name, name) == 0)
	    return &t->vars[i];
    return NULL;
}

/* variable i's unparsed print, if any, will never be parsed */
static void
parse_unpend(parse_target_t *t, int i)
{
    if (t->pending != NULL && t->pending[i].have) {
	t->pending[i].have = 0;
	t->npending--;
    }
}

/* a new tick of the print block: keyed variables not printed since the last one are empty */
static void
parse_tick(parse_target_t *t)
{
    variable_t	*v;
    int		i;

    for (i = 0; i < t->nvars; i++) {
	v = &t->vars[i];
	if (!v->single && v->gen == v->tickmark) {
	    /* a print deferred before the last tick is out of date too */
	    parse_unpend(t, i);
	    if (v->nset > 0) {
		var_begin(v);
		var_end(v);
	    }
	}
	v->tickmark = v->gen;
    }
}

/* "map", "hist", "stats": data holds the variable name -> its print */
static int
parse_map_record(parse_ctx_t *c, json_object *data)
{
    variable_t	*v;

    if (!json_object_is_type(data, json_type_object))
	return 0;
    json_object_object_foreach(data, name, val) {
	if (strcmp(name, PARSE_TICK_VAR) == 0)
	    parse_tick(c->t);
	else if ((v = parse_find_var(c->t, name)) != NULL)	/* else unexported */
	    parse_var(c, v, val);
    }
    return 0;
}

/* a record's text (and suffix) to @output, as valid UTF-8 */
static int
parse_output_text(parse_ctx_t *c, const char *s, size_t len, const char *suffix)
{
    if ((s = parse_clean(&c->text, s, len, suffix, &len)) == NULL)
	return -ENOMEM;
    var_append_output(c->t->output, s, len);
    return 0;
}

/* printf(), time(), cat(), system(), join(), print(value): to @output */
static int
parse_output_record(parse_ctx_t *c, json_object *data, const char *suffix)
{
    const char	*s;
    size_t	len;

    if (c->t->output == NULL || data == NULL)
	return 0;
    if (json_object_is_type(data, json_type_string)) {
	s = json_object_get_string(data);
	len = json_object_get_string_len(data);
    }
    else {
	s = json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
    }
    return parse_output_text(c, s, len, suffix);
}

static const char *
parse_field_str(json_object *obj, const char *field)
{
    json_object	*j;

    if (!json_object_object_get_ex(obj, field, &j) ||
	!json_object_is_type(j, json_type_string))
	return NULL;
    return json_object_get_string(j);
}

static int
parse_field_u64(json_object *obj, const char *field, uint64_t *u)
{
    json_object	*j;

    if (!json_object_object_get_ex(obj, field, &j))
	return PM_ERR_CONV;
    return parse_get_u64(j, u);
}

/*
 * helper_error, runtime_error, errorf, warnf: counted, and the newest
 * kept as one readable line, e.g.
 * "helper map_update_elem failed: -7 (line 1 col 37)".
 */
static int
parse_error_record(parse_ctx_t *c, json_object *obj, const char *type)
{
    parse_target_t	*t = c->t;
    char		text[sizeof(t->last_runtime_error)];
    char		where[64] = "";
    const char		*msg = parse_field_str(obj, "msg");
    const char		*helper = parse_field_str(obj, "helper");
    json_object		*jr;
    uint64_t		line, col;
    size_t		len;

    t->runtime_errors++;
    if (parse_field_u64(obj, "line", &line) == 0 &&
	parse_field_u64(obj, "col", &col) == 0)
	snprintf(where, sizeof(where), " (line %" PRIu64 " col %" PRIu64 ")",
		 line, col);
    if (strcmp(type, "helper_error") == 0) {
	int64_t	rc = 0;

	if (json_object_object_get_ex(obj, "retcode", &jr))
	    rc = json_object_get_int64(jr);
	snprintf(text, sizeof(text), "helper %s failed: %" PRId64 "%s%s%s",
		 helper ? helper : "?", rc, msg ? ": " : "", msg ? msg : "",
		 where);
    }
    else
	snprintf(text, sizeof(text), "%s: %s%s", type, msg ? msg : "", where);

    /* clean, and cut at a character boundary if snprintf truncated */
    len = parse_utf8_copy(t->last_runtime_error, text, strlen(text));
    t->last_runtime_error[len] = '\0';
    return 0;
}

/* one parsed record */
static int
parse_record(parse_ctx_t *c, json_object *root)
{
    parse_target_t	*t = c->t;
    json_object		*data = NULL;
    const char		*type;
    uint64_t		u;

    if ((type = parse_field_str(root, "type")) == NULL)
	return PM_ERR_CONV;
    json_object_object_get_ex(root, "data", &data);

    if (strcmp(type, "map") == 0 || strcmp(type, "hist") == 0 ||
	strcmp(type, "stats") == 0)
	return parse_map_record(c, data);
    if (strcmp(type, "printf") == 0 || strcmp(type, "time") == 0 ||
	strcmp(type, "cat") == 0 || strcmp(type, "syscall") == 0 ||
	strcmp(type, "join") == 0)
	return parse_output_record(c, data, NULL);
    if (strcmp(type, "value") == 0)
	return parse_output_record(c, data, "\n");
    if (strcmp(type, "attached_probes") == 0) {
	if (parse_field_u64(data, "probes", &u) == 0 ||
	    parse_field_u64(root, "count", &u) == 0)
	    t->probes = (unsigned)u;
	return 0;
    }
    if (strcmp(type, "lost_events") == 0) {
	if (parse_field_u64(data, "events", &u) == 0 ||
	    parse_field_u64(root, "count", &u) == 0)
	    t->lost_events += u;
	return 0;
    }
    if (strcmp(type, "helper_error") == 0 ||
	strcmp(type, "runtime_error") == 0 ||
	strcmp(type, "errorf") == 0 || strcmp(type, "warnf") == 0)
	return parse_error_record(c, root, type);
    return 0;		/* tseries (0.25+) and anything newer */
}

/*
 * ---- the fast path: a strict scanner for "map" and "hist" records ----
 * ---- (and for printf records: see scan_output_record()) ----
 *
 * json-c builds a tree of every key and value of a line (allocations by
 * the thousand) before parse_record() walks it: for the maps of tens of
 * thousands of keys a script prints each second, that is nearly all of the
 * agent's work.  The records that carry maps and histograms are regular,
 * so they are read here directly, in two passes:
 *
 *   1. scan: the whole line is checked against a strict subset of JSON
 *      (the shapes bpftrace prints) and cut into tokens - offsets of keys
 *      and values - with no side effect at all.  Anything outside the
 *      subset (\u escapes, control bytes, floats, integers of more than 18
 *      digits, nested values, duplicate member names, a "stats" record,
 *      ...) returns SCAN_FALLBACK, and json-c takes the line as before.
 *   2. apply: the tokens become exactly the var_*() calls parse_var()
 *      would make for the tree json-c would build, in the same order.
 *
 * The subset is strict JSON, which json-c accepts as well, and within it
 * the two paths agree: integers are the same numbers, strings the same
 * bytes, member order is text order.  Where json-c would differ - a key
 * repeated within one object keeps its first place and its last value -
 * the scan either proves that the difference cannot show (a repeated map
 * key whose every value is always stored) or falls back.
 */

int parse_scanner = 1;
unsigned long parse_scanned;

#define SCAN_FALLBACK	1	/* not for the scanner: json-c decides */
#define SCAN_MAX_MEMBERS 16	/* members of "data" (checked for repeats) */
#define SCAN_MAX_DEPTH	16	/* nesting of skipped values */
#define SCAN_MAX_DIGITS	18	/* a negative integer this long fits an int64_t */
#define SCAN_MAX_UDIGITS 20	/* a non-negative one may fill a uint64_t */

enum { SK_VAR, SK_TICK, SK_ITEM, SK_SCALAR, SK_HKEY, SK_BUCKET };
enum { SV_INT, SV_STR, SV_TRUE, SV_FALSE, SV_NULL };
#define SF_ESC	1	/* string: has backslash escapes */
#define SF_HI	2	/* string: has bytes above 0x7f */
#define SF_NEG	4	/* integer: negative */
#define SF_HAVE	8	/* bucket bound: present */

/* offsets into the line; which fields are used depends on kind */
typedef struct scan_tok {
    uint32_t	a, alen;	/* var: index; item, hkey: key; bucket: min */
    uint32_t	b, blen;	/* item, scalar: value; bucket: max */
    uint64_t	num;		/* item, scalar: an integer; bucket: count (magnitudes) */
    uint8_t	kind, vkind, aflags, bflags, nflags;	/* nflags: SF_NEG of num */
} scan_tok_t;

typedef struct scan {
    const char	*s;
    size_t	len, pos;
    scan_tok_t	*tok;		/* scan_toks, grown as needed */
    size_t	ntok;
} scan_t;

/* the token array lives from line to line: no allocation per line */
static scan_tok_t	*scan_toks;
static size_t		scan_maxtok;

/* SWAR: bytes of w that are zero have their high bit set in the result */
#define SCAN_ONES		0x0101010101010101ULL
#define SCAN_HASZERO(w)		(((w) - SCAN_ONES) & ~(w) & (SCAN_ONES * 0x80))

/* string bytes: 0 plain, 1 '"', 2 '\\', 3 control, 4 above 0x7f */
static const unsigned char scan_class[256] = {
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3, 3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
};

static inline void
scan_ws(scan_t *sc)
{
    while (sc->pos < sc->len) {
	char ch = sc->s[sc->pos];
	if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
	    break;
	sc->pos++;
    }
}

/* the next byte after blanks, 0 at the end */
static inline int
scan_peek(scan_t *sc)
{
    scan_ws(sc);
    return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : 0;
}

static inline int
scan_expect(scan_t *sc, int ch)
{
    if (scan_peek(sc) != ch)
	return -1;
    sc->pos++;
    return 0;
}

static int
scan_grow(scan_t *sc)
{
    size_t	n = scan_maxtok ? 2 * scan_maxtok : 1024;
    scan_tok_t	*tk;

    if ((tk = realloc(scan_toks, n * sizeof(*tk))) == NULL)
	return -1;
    scan_toks = tk;
    scan_maxtok = n;
    sc->tok = scan_toks;
    return 0;
}

/* a new token: kind and flags set, the rest for the caller to fill */
static inline scan_tok_t *
scan_new(scan_t *sc, int kind)
{
    scan_tok_t	*tk;

    if (sc->ntok == scan_maxtok && scan_grow(sc) < 0)
	return NULL;
    tk = &sc->tok[sc->ntok++];
    tk->kind = kind;
    tk->vkind = tk->aflags = tk->bflags = tk->nflags = 0;
    return tk;
}

/* a string at pos: its body (between the quotes) and SF_ESC / SF_HI */
#define SCAN_INLINE	static inline __attribute__((always_inline))

SCAN_INLINE int
scan_string(scan_t *sc, uint32_t *off, uint32_t *len, uint8_t *flags)
{
    const unsigned char	*s = (const unsigned char *)sc->s;
    size_t		p = sc->pos, end = sc->len;
    uint8_t		f = 0;

    if (p >= end || s[p] != '"')
	return -1;
    *off = (uint32_t)++p;
    for (;;) {
	/*
	 * Eight bytes at a time: the lowest flagged byte of m is the first
	 * '"', '\\', control or high byte (the borrows of the SWAR tests
	 * only ever flag bytes above a flagged one).
	 */
	while (end - p >= 8) {
	    uint64_t	w, m;

	    memcpy(&w, s + p, 8);
	    m = (SCAN_HASZERO(w ^ (SCAN_ONES * '"')) | SCAN_HASZERO(w ^ (SCAN_ONES * '\\')) |
		 ((w - SCAN_ONES * 0x20) & ~w) | w) & (SCAN_ONES * 0x80);
	    if (m != 0) {
		p += __builtin_ctzll(m) >> 3;
		goto special;
	    }
	    p += 8;
	}
	while (p < end && scan_class[s[p]] == 0)
	    p++;
	if (p >= end)
	    return -1;
special:
	switch (scan_class[s[p]]) {
	case 1:			/* the closing quote */
	    *len = (uint32_t)(p - *off);
	    *flags = f;
	    sc->pos = p + 1;
	    return 0;
	case 2:			/* the escapes json-c turns into one byte */
	    if (p + 1 >= end)
		return -1;
	    switch (s[p + 1]) {
	    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		break;
	    default:
		return -1;	/* \u and anything odd: json-c decides */
	    }
	    f |= SF_ESC;
	    p += 2;
	    break;
	case 4:
	    f |= SF_HI;
	    p++;
	    break;
	default:		/* raw control bytes */
	    return -1;
	}
    }
}

/*
 * The leading digits of s[0..7] (how many, 0 to 8) and their value, by
 * SWAR: a byte is a digit when its high nibble is 3 and adding 6 keeps it
 * 3; the digits are shifted to the top of the word (zeros in front) and
 * folded pairwise (Lemire's eight-digit conversion).
 */
static inline unsigned
scan_digits8(const char *s, uint64_t *val)
{
    uint64_t	w, nd, v;
    unsigned	n;

    memcpy(&w, s, 8);
    nd = ((w & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL) |
	 (((w + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL);
    n = nd ? (unsigned)__builtin_ctzll(nd) >> 3 : 8;
    if (n == 0) {
	*val = 0;
	return 0;
    }
    v = (w - 0x3030303030303030ULL) << (8 * (8 - n));
    v = v * 10 + (v >> 8);
    v = (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
	 (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
    *val = v;
    return n;
}

/*
 * An integer of at most SCAN_MAX_DIGITS digits, no leading zero, not
 * "-0": its text, SF_NEG, and its magnitude in *num.
 */
SCAN_INLINE int
scan_int(scan_t *sc, uint32_t *off, uint32_t *len, uint8_t *flags, uint64_t *num)
{
    const char	*s = sc->s;
    size_t	p = sc->pos, end = sc->len, d;
    uint64_t	x = 0;
    unsigned	digit;

    *off = (uint32_t)p;
    *flags = 0;
    if (p < end && s[p] == '-') {
	*flags = SF_NEG;
	p++;
    }
    d = p;
    /* the first eight digits at once when the line has eight bytes left */
    if (end - p >= 8) {
	unsigned	n = scan_digits8(s + p, &x);

	p += n;
	if (n < 8)
	    goto done;
    }
    while (p < end && (digit = (unsigned char)s[p] - '0') <= 9) {
	x = x * 10 + digit;
	p++;
    }
done:
    if (p == d || (s[d] == '0' && p - d > 1) || (s[d] == '0' && *flags) ||
	p - d > ((*flags & SF_NEG) ? SCAN_MAX_DIGITS : SCAN_MAX_UDIGITS))
	return -1;
    if (p - d > SCAN_MAX_DIGITS) {
	/* 19 or 20 digits: again, with care; beyond UINT64_MAX json-c decides */
	size_t	i;

	for (x = 0, i = d; i < p; i++)
	    if (__builtin_mul_overflow(x, 10, &x) ||
		__builtin_add_overflow(x, (uint64_t)(s[i] - '0'), &x))
		return -1;
    }
    *num = x;
    if (p < end && (s[p] == '.' || s[p] == 'e' || s[p] == 'E'))
	return -1;		/* a double */
    *len = (uint32_t)(p - *off);
    sc->pos = p;
    return 0;
}

static int
scan_word(scan_t *sc, const char *w, size_t n)
{
    if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, w, n) != 0)
	return -1;
    sc->pos += n;
    return 0;
}

/* a scalar into tk's value: string, integer, true, false, null */
SCAN_INLINE int
scan_scalar(scan_t *sc, scan_tok_t *tk)
{
    int		ch = scan_peek(sc);

    tk->b = (uint32_t)sc->pos;
    tk->blen = 0;
    tk->bflags = 0;
    if (ch == '"') {
	tk->vkind = SV_STR;
	return scan_string(sc, &tk->b, &tk->blen, &tk->bflags);
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
	tk->vkind = SV_INT;
	if (scan_int(sc, &tk->b, &tk->blen, &tk->nflags, &tk->num) < 0)
	    return -1;
	return 0;
    }
    if (ch == 't') {
	tk->vkind = SV_TRUE;
	return scan_word(sc, "true", 4);
    }
    if (ch == 'f') {
	tk->vkind = SV_FALSE;
	return scan_word(sc, "false", 5);
    }
    if (ch == 'n') {
	tk->vkind = SV_NULL;
	return scan_word(sc, "null", 4);
    }
    return -1;
}

/* check a value nobody uses (unexported variables, @output, the tick) */
static int
scan_skip(scan_t *sc, int depth)
{
    scan_tok_t	tmp;
    uint32_t	off, len;
    uint8_t	flags;
    int		ch = scan_peek(sc), close;

    if (ch != '{' && ch != '[')
	return scan_scalar(sc, &tmp);
    if (depth >= SCAN_MAX_DEPTH)
	return -1;
    close = ch == '{' ? '}' : ']';
    sc->pos++;
    if (scan_peek(sc) == close) {
	sc->pos++;
	return 0;
    }
    for (;;) {
	if (ch == '{') {
	    /* repeated keys do not matter in a value nobody reads */
	    if (scan_peek(sc) != '"' || scan_string(sc, &off, &len, &flags) < 0 ||
		scan_expect(sc, ':') < 0)
		return -1;
	}
	if (scan_skip(sc, depth + 1) < 0)
	    return -1;
	if (scan_peek(sc) == ',') {
	    sc->pos++;
	    continue;
	}
	return scan_expect(sc, close);
    }
}

/* the start of the next member of an object: 1 there is one, 0 the end */
SCAN_INLINE int
scan_next_member(scan_t *sc, int first)
{
    const char	*s = sc->s + sc->pos;
    int		ch;

    /* bpftrace's own spacing: ", " before the next key */
    if (!first && sc->len - sc->pos >= 3 && s[0] == ',' && s[1] == ' ' && s[2] == '"') {
	sc->pos += 2;
	return 1;
    }
    ch = scan_peek(sc);

    if (ch == '}') {
	sc->pos++;
	return 0;
    }
    if (!first) {
	if (ch != ',')
	    return -1;
	sc->pos++;
	ch = scan_peek(sc);
    }
    return ch == '"' ? 1 : -1;
}

/* can a value of this kind be stored in v whatever it is? (see below) */
SCAN_INLINE int
scan_always_stored(const scan_t *sc, const variable_t *v, const scan_tok_t *tk)
{
    const char	*s = sc->s + tk->b;
    uint32_t	i = 0;

    switch (tk->vkind) {
    case SV_INT: case SV_TRUE: case SV_FALSE:
	return 1;
    case SV_STR:
	if (v->type == PM_TYPE_STRING)
	    return 1;
	/* digits (F4+ numbers): what var_parse_number always accepts */
	if (tk->bflags != 0 || tk->blen == 0)
	    return 0;
	if (s[0] == '-')
	    i = 1;
	if (tk->blen - i == 0 || tk->blen - i > SCAN_MAX_DIGITS)
	    return 0;
	for (; i < tk->blen; i++)
	    if (s[i] < '0' || s[i] > '9')
		return 0;
	return 1;
    default:
	return 0;
    }
}

/*
 * The item bpftrace prints most, at pos: "KEY": DIGITS with a key of at
 * most 7 plain bytes and a non-negative integer, in its own spacing.  1
 * when taken (tk filled, pos after the number), 0 to leave it to the
 * general path, which takes everything else (and rejects what this
 * would, such as leading zeros).
 */
SCAN_INLINE int
scan_item_fast(scan_t *sc, scan_tok_t *tk)
{
    const char	*s = sc->s;
    size_t	p = sc->pos, k = p + 1, v, n, nd;
    uint64_t	w, m, x;
    unsigned	digit;

    if (sc->len - p < 32)
	return 0;
    memcpy(&w, s + k, 8);
    m = (SCAN_HASZERO(w ^ (SCAN_ONES * '"')) | SCAN_HASZERO(w ^ (SCAN_ONES * '\\')) |
	 ((w - SCAN_ONES * 0x20) & ~w) | w) & (SCAN_ONES * 0x80);
    if (m == 0)
	return 0;
    n = (size_t)__builtin_ctzll(m) >> 3;
    if (s[k + n] != '"' || s[k + n + 1] != ':' || s[k + n + 2] != ' ')
	return 0;
    v = k + n + 3;
    nd = scan_digits8(s + v, &x);
    if (nd == 0 || (s[v] == '0' && nd > 1))
	return 0;
    if (nd == 8) {
	while (v + nd < sc->len && (digit = (unsigned char)s[v + nd] - '0') <= 9) {
	    if (++nd > SCAN_MAX_DIGITS)
		return 0;
	    x = x * 10 + digit;
	}
    }
    if (v + nd < sc->len && (s[v + nd] == '.' || s[v + nd] == 'e' || s[v + nd] == 'E'))
	return 0;
    tk->a = (uint32_t)k;
    tk->alen = (uint32_t)n;
    tk->vkind = SV_INT;
    tk->b = (uint32_t)v;
    tk->blen = (uint32_t)nd;
    tk->num = x;
    sc->pos = v + nd;
    return 1;
}

/*
 * A keyed map: key -> scalar.  A key may repeat (bpftrace prints some
 * tuples alike): json-c keeps its first place and its last value, this
 * path stores each value in turn.  That ends the same as long as every
 * store succeeds and none is refused by max_inst (counted in dropped once
 * per store), so values that may be refused fall back, and so does a
 * print that may reach max_inst.
 */
static int
scan_keyed(scan_t *sc, variable_t *v, int index)
{
    scan_tok_t	*tk;
    size_t	nitems = 0;
    int		first = 1, more;

    if (scan_expect(sc, '{') < 0 || (tk = scan_new(sc, SK_VAR)) == NULL)
	return -1;
    tk->a = index;
    while ((more = scan_next_member(sc, first)) > 0) {
	first = 0;
	if ((tk = scan_new(sc, SK_ITEM)) == NULL)
	    return -1;
	if (scan_item_fast(sc, tk)) {
	    nitems++;
	    continue;
	}
	if (scan_string(sc, &tk->a, &tk->alen, &tk->aflags) < 0)
	    return -1;
	if (sc->len - sc->pos >= 2 && sc->s[sc->pos] == ':' && sc->s[sc->pos + 1] == ' ')
	    sc->pos += 2;		/* bpftrace's ": " */
	else if (scan_expect(sc, ':') < 0)
	    return -1;
	if (scan_scalar(sc, tk) < 0 || !scan_always_stored(sc, v, tk))
	    return -1;
	nitems++;
    }
    if (more < 0 || (size_t)v->ninst + nitems > (size_t)v->max_inst)
	return -1;
    return 0;
}

/* a scalar variable: one value, or "{}" (F4+ empty: nothing to do) */
static int
scan_single(scan_t *sc, int index)
{
    scan_tok_t	*tk;
    int		ch = scan_peek(sc);

    if (ch == '{') {
	sc->pos++;
	return scan_expect(sc, '}');
    }
    if ((tk = scan_new(sc, SK_VAR)) == NULL)
	return -1;
    tk->a = index;
    if ((tk = scan_new(sc, SK_SCALAR)) == NULL || scan_scalar(sc, tk) < 0)
	return -1;
    return 0;
}

/* [{"min": N, "max": N, "count": N}, ...]: integers, count required */
static int
scan_buckets(scan_t *sc)
{
    scan_tok_t	*tk;
    uint32_t	off, len, ignore;
    uint8_t	flags;
    uint64_t	unused;
    int		more, first, seen;

    if (scan_expect(sc, '[') < 0)
	return -1;
    if (scan_peek(sc) == ']') {
	sc->pos++;
	return 0;
    }
    for (;;) {
	if (scan_expect(sc, '{') < 0 || (tk = scan_new(sc, SK_BUCKET)) == NULL)
	    return -1;
	seen = 0;
	for (first = 1; (more = scan_next_member(sc, first)) > 0; first = 0) {
	    int field;

	    if (scan_string(sc, &off, &len, &flags) < 0 || flags != 0)
		return -1;
	    if (len == 3 && memcmp(sc->s + off, "min", 3) == 0)
		field = 1;
	    else if (len == 3 && memcmp(sc->s + off, "max", 3) == 0)
		field = 2;
	    else if (len == 5 && memcmp(sc->s + off, "count", 5) == 0)
		field = 4;
	    else
		return -1;
	    if ((seen & field) || scan_expect(sc, ':') < 0)
		return -1;
	    seen |= field;
	    scan_ws(sc);
	    if (field == 1) {
		if (scan_int(sc, &tk->a, &tk->alen, &tk->aflags, &unused) < 0)
		    return -1;
		tk->aflags |= SF_HAVE;
	    }
	    else if (field == 2) {
		if (scan_int(sc, &tk->b, &tk->blen, &tk->bflags, &unused) < 0)
		    return -1;
		tk->bflags |= SF_HAVE;
	    }
	    else if (scan_int(sc, &ignore, &ignore, &tk->nflags, &tk->num) < 0)
		return -1;
	}
	if (more < 0 || !(seen & 4))
	    return -1;
	if (scan_peek(sc) == ',') {
	    sc->pos++;
	    continue;
	}
	return scan_expect(sc, ']');
    }
}

/* keys of a keyed histogram, sorted to find a repeated one */
static const scan_tok_t	**scan_keys;
static size_t		scan_maxkeys;

static int
scan_cmp_key(const void *a, const void *b, void *arg)
{
    const scan_tok_t	*x = *(const scan_tok_t * const *)a;
    const scan_tok_t	*y = *(const scan_tok_t * const *)b;
    const char		*s = arg;

    if (x->alen != y->alen)
	return x->alen < y->alen ? -1 : 1;
    return memcmp(s + x->a, s + y->a, x->alen);
}

/* hist()/lhist(): buckets, or key -> buckets (keys must not repeat) */
static int
scan_hist(scan_t *sc, int index)
{
    scan_tok_t	*tk;
    size_t	firstkey, i, j, n;
    int		ch = scan_peek(sc), first = 1, more;

    if ((tk = scan_new(sc, SK_VAR)) == NULL)
	return -1;
    tk->a = index;
    if (ch == '[')
	return scan_buckets(sc);
    if (ch != '{')
	return -1;
    sc->pos++;
    firstkey = sc->ntok;
    while ((more = scan_next_member(sc, first)) > 0) {
	first = 0;
	if ((tk = scan_new(sc, SK_HKEY)) == NULL ||
	    scan_string(sc, &tk->a, &tk->alen, &tk->aflags) < 0 ||
	    scan_expect(sc, ':') < 0 || scan_peek(sc) != '[' ||
	    scan_buckets(sc) < 0)
	    return -1;
    }
    if (more < 0)
	return -1;
    /* a repeated key: json-c would keep only its last buckets */
    for (i = firstkey, n = 0; i < sc->ntok; i++)
	if (sc->tok[i].kind == SK_HKEY)
	    n++;
    if (n < 2)
	return 0;
    if (n > scan_maxkeys) {
	const scan_tok_t **k = realloc(scan_keys, n * sizeof(*k));

	if (k == NULL)
	    return -1;
	scan_keys = k;
	scan_maxkeys = n;
    }
    for (i = firstkey, j = 0; i < sc->ntok; i++)
	if (sc->tok[i].kind == SK_HKEY)
	    scan_keys[j++] = &sc->tok[i];
    qsort_r(scan_keys, n, sizeof(*scan_keys), scan_cmp_key, (void *)sc->s);
    for (j = 1; j < n; j++)
	if (scan_cmp_key(&scan_keys[j - 1], &scan_keys[j], (void *)sc->s) == 0)
	    return -1;
    return 0;
}

static int
scan_find_var(parse_target_t *t, const char *name, size_t len)
{
    int		i;

    for (i = 0; i < t->nvars; i++)
	if (t->vars[i].name != NULL && strlen(t->vars[i].name) == len &&
	    memcmp(t->vars[i].name, name, len) == 0)
	    return i;
    return -1;
}

/*
 * The head every record the scanner takes starts with, up to its data:
 * {"type": "T", "data":  in that order; T's offset and length in *toff,
 * *tlen.  0, or -1 for anything else.
 */
static int
scan_head(scan_t *sc, uint32_t *toff, uint32_t *tlen)
{
    uint32_t	off, len;
    uint8_t	flags;

    if (scan_expect(sc, '{') < 0 || scan_peek(sc) != '"' ||
	scan_string(sc, &off, &len, &flags) < 0 ||
	len != 4 || memcmp(sc->s + off, "type", 4) != 0 ||
	scan_expect(sc, ':') < 0 || scan_peek(sc) != '"' ||
	scan_string(sc, toff, tlen, &flags) < 0 || flags != 0 ||
	scan_expect(sc, ',') < 0 || scan_peek(sc) != '"' ||
	scan_string(sc, &off, &len, &flags) < 0 ||
	len != 4 || memcmp(sc->s + off, "data", 4) != 0 ||
	scan_expect(sc, ':') < 0)
	return -1;
    return 0;
}

/* the rest of a map or hist record's head, after scan_head(): its '{' */
static int
scan_record_data(scan_t *sc, uint32_t toff, uint32_t tlen)
{
    if (!((tlen == 3 && memcmp(sc->s + toff, "map", 3) == 0) ||
	  (tlen == 4 && memcmp(sc->s + toff, "hist", 4) == 0)) ||
	scan_expect(sc, '{') < 0)
	return -1;
    return 0;
}

/* the head of a map or hist record, up to the '{' of its data */
static int
scan_record_head(scan_t *sc)
{
    uint32_t	off, len;

    if (scan_head(sc, &off, &len) < 0 || scan_record_data(sc, off, len) < 0)
	return -1;
    return 0;
}

/*
 * pass 1, after scan_record_head(): the rest of the line into tokens;
 * 0, or -1 for json-c
 */
static int
scan_record(scan_t *sc, parse_target_t *t)
{
    uint32_t	off, len, names[SCAN_MAX_MEMBERS][2];
    uint8_t	flags;
    variable_t	*v;
    int		first = 1, more, nnames = 0, i, index;

    while ((more = scan_next_member(sc, first)) > 0) {
	first = 0;
	if (scan_string(sc, &off, &len, &flags) < 0 || flags != 0 ||
	    scan_expect(sc, ':') < 0 || nnames == SCAN_MAX_MEMBERS)
	    return -1;
	/* json-c keeps one of repeated members: leave that to it */
	for (i = 0; i < nnames; i++)
	    if (names[i][1] == len && memcmp(sc->s + names[i][0], sc->s + off, len) == 0)
		return -1;
	names[nnames][0] = off;
	names[nnames++][1] = len;

	if (len == sizeof(PARSE_TICK_VAR) - 1 &&
	    memcmp(sc->s + off, PARSE_TICK_VAR, len) == 0) {
	    if (scan_new(sc, SK_TICK) == NULL || scan_skip(sc, 0) < 0)
		return -1;
	    continue;
	}
	if ((index = scan_find_var(t, sc->s + off, len)) < 0 ||
	    t->vars[index].func == VAR_FUNC_OUTPUT) {
	    if (scan_skip(sc, 0) < 0)	/* unexported, or printf()'s */
		return -1;
	    continue;
	}
	v = &t->vars[index];
	switch (v->func) {
	case VAR_FUNC_HIST:
	case VAR_FUNC_LHIST:
	    if (scan_hist(sc, index) < 0)
		return -1;
	    break;
	case VAR_FUNC_STATS:
	    return -1;
	default:
	    if ((v->single ? scan_single(sc, index) : scan_keyed(sc, v, index)) < 0)
		return -1;
	    break;
	}
    }
    if (more < 0 || scan_expect(sc, '}') < 0)
	return -1;
    scan_ws(sc);
    return sc->pos == sc->len ? 0 : -1;
}

/*
 * A string token as a C string, in place: escapes undone, NUL over the
 * closing quote (pass 2 never reads the line's structure again).  Escaped
 * bytes are ASCII, so only SF_HI strings may need cleaning.
 */
static char *
scan_cstring(char *line, uint32_t off, uint32_t len, uint8_t flags, size_t *outlen)
{
    char	*s = line + off;
    size_t	i, o;

    if (!(flags & SF_ESC)) {
	s[len] = '\0';
	*outlen = len;
	return s;
    }
    for (i = o = 0; i < len; ) {
	const char	*bs = memchr(s + i, '\\', len - i);
	size_t		n = bs ? (size_t)(bs - (s + i)) : len - i;
	char		ch;

	if (o != i)
	    memmove(s + o, s + i, n);
	o += n;
	i += n;
	if (bs == NULL)
	    break;
	switch (s[i + 1]) {
	case 'b': ch = '\b'; break;
	case 'f': ch = '\f'; break;
	case 'n': ch = '\n'; break;
	case 'r': ch = '\r'; break;
	case 't': ch = '\t'; break;
	default: ch = s[i + 1]; break;	/* " \\ / */
	}
	s[o++] = ch;
	i += 2;
    }
    s[o] = '\0';
    *outlen = o;
    return s;
}

/* a key as parse_key() gives it: NUL terminated, valid UTF-8 */
static const char *
scan_key(parse_ctx_t *c, char *line, uint32_t off, uint32_t len, uint8_t flags,
		size_t *klen)
{
    const char	*k = scan_cstring(line, off, len, flags, klen);

    if (flags & SF_HI)
	return parse_clean(&c->key, k, *klen, NULL, klen);
    return k;
}

/* an integer token: as parse_int() reads json-c's number */
static void
scan_number(const char *s, uint32_t len, uint8_t flags, uint64_t *u, int64_t *i)
{
    uint64_t	x = 0;
    uint32_t	p = (flags & SF_NEG) ? 1 : 0;

    for (; p < len; p++)
	x = x * 10 + (uint64_t)(s[p] - '0');
    if (flags & SF_NEG) {
	*i = -(int64_t)x;
	*u = (uint64_t)*i;
    }
    else {
	*i = (int64_t)x;
	*u = x;
    }
}

/* parse_put_value() for a scalar token */
static int
scan_put(parse_ctx_t *c, variable_t *v, const char *key, size_t keylen,
		char *line, const scan_tok_t *tk)
{
    const char	*s;
    size_t	len;

    switch (tk->vkind) {
    case SV_INT:
	return var_put_num_n(v, key, keylen, tk->nflags & SF_NEG, tk->num);
    case SV_TRUE:
    case SV_FALSE:
	if (v->type == PM_TYPE_STRING)
	    return tk->vkind == SV_TRUE ? var_put_str_n(v, key, keylen, "true", 4) :
					   var_put_str_n(v, key, keylen, "false", 5);
	return var_put_u64_n(v, key, keylen, tk->vkind == SV_TRUE ? 1 : 0);
    case SV_STR:
	s = scan_cstring(line, tk->b, tk->blen, tk->bflags, &len);
	if (v->type != PM_TYPE_STRING)	/* digits (F4+ u64) or nothing */
	    return var_put_str_n(v, key, keylen, s, len);
	if ((tk->bflags & SF_HI) &&
	    (s = parse_clean(&c->text, s, len, NULL, &len)) == NULL)
	    return -ENOMEM;
	return var_put_str_n(v, key, keylen, s, len);
    default:			/* null */
	return PM_ERR_CONV;
    }
}

/* parse_buckets() for one bucket token */
static void
scan_bucket(variable_t *v, const char *key, size_t keylen, const char *line,
		const scan_tok_t *tk)
{
    char	name[2 * PARSE_BOUND_LEN + 8];
    size_t	n = 0;
    double	lower = -INFINITY;
    uint64_t	u, count;
    int64_t	i;

    if (tk->aflags & SF_HAVE) {
	scan_number(line + tk->a, tk->alen, tk->aflags, &u, &i);
	lower = (tk->aflags & SF_NEG) ? (double)i : (double)u;
	memcpy(name, line + tk->a, tk->alen);
	n = tk->alen;
    }
    else {
	memcpy(name, "-inf", 4);
	n = 4;
    }
    name[n++] = '-';
    if (tk->bflags & SF_HAVE) {
	memcpy(name + n, line + tk->b, tk->blen);
	n += tk->blen;
    }
    else {
	memcpy(name + n, "inf", 3);
	n += 3;
    }
    name[n] = '\0';
    /* a negative count is taken as parse_get_u64() takes it: wrapped */
    count = (tk->nflags & SF_NEG) ? (uint64_t)-(int64_t)tk->num : tk->num;
    var_put_bucket_n(v, key, keylen, name, n, lower, count);
}

/* pass 2: the var_*() calls parse_map_record() would make */
static void
scan_apply(parse_ctx_t *c, char *line, const scan_tok_t *tok, size_t ntok)
{
    parse_target_t	*t = c->t;
    variable_t		*v = NULL;
    const char		*hkey = NULL;
    size_t		i, klen = 0, hklen = 0;
    int			open = 0, skip = 0;

    for (i = 0; i < ntok; i++) {
	const scan_tok_t *tk = &tok[i];
	const char	*key;

	switch (tk->kind) {
	case SK_VAR:
	case SK_TICK:
	    if (open)
		var_end(v);
	    open = 0;
	    if (tk->kind == SK_TICK) {
		parse_tick(t);
		break;
	    }
	    v = &t->vars[tk->a];
	    hkey = NULL;
	    skip = 0;
	    if (!v->single) {
		var_begin(v);
		open = 1;
	    }
	    break;
	case SK_ITEM:
	    if (tk->aflags == 0 && tk->vkind == SV_INT) {	/* the common item */
		var_put_num_n(v, line + tk->a, tk->alen, tk->nflags & SF_NEG, tk->num);
		break;
	    }
	    if (tk->aflags == 0) {	/* plain ASCII: the key as it stands */
		key = line + tk->a;
		klen = tk->alen;
	    }
	    else if ((key = scan_key(c, line, tk->a, tk->alen, tk->aflags, &klen)) == NULL)
		break;
	    scan_put(c, v, key, klen, line, tk);
	    break;
	case SK_SCALAR:
	    scan_put(c, v, NULL, 0, line, tk);
	    break;
	case SK_HKEY:
	    hkey = scan_key(c, line, tk->a, tk->alen, tk->aflags, &hklen);
	    skip = hkey == NULL;	/* no memory: this key's buckets go */
	    break;
	case SK_BUCKET:
	    if (!skip)
		scan_bucket(v, hkey, hklen, line, tk);
	    break;
	}
    }
    if (open)
	var_end(v);
}

/* a record type whose string data goes to @output as it is */
static int
scan_output_type(const char *s, uint32_t n)
{
    static const char *const types[] = { "printf", "time", "cat", "syscall", "join" };
    size_t	i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
	if (strlen(types[i]) == n && memcmp(s, types[i], n) == 0)
	    return 1;
    return 0;
}

/*
 * {"type": "printf", "data": "..."}, after scan_head(): what a printf()
 * flood is made of, one record per call.  Appended to @output as
 * parse_output_record() appends json-c's string, without building a tree
 * for it.  Members in another order, more members or \u escapes: json-c
 * decides.
 */
static int
scan_output_record(scan_t *sc, char *line, parse_target_t *t)
{
    parse_ctx_t	ctx;
    uint32_t	doff, dlen;
    uint8_t	dflags;
    const char	*s;
    size_t	slen;

    if (scan_peek(sc) != '"' || scan_string(sc, &doff, &dlen, &dflags) < 0 ||
	scan_expect(sc, '}') < 0)
	return -1;
    scan_ws(sc);
    if (sc->pos != sc->len)
	return -1;
    if (t->output == NULL)
	return 0;
    /* the line is changed from here on: it cannot go to json-c */
    s = scan_cstring(line, doff, dlen, dflags, &slen);
    parse_ctx_init(&ctx, t);
    (void)parse_output_text(&ctx, s, slen, NULL);	/* no memory: lost, as there */
    parse_ctx_free(&ctx);
    return 0;
}

/* the fast path of parse_line: 0 done, SCAN_FALLBACK for json-c */
static int
scan_line(parse_target_t *t, char *line, size_t len)
{
    parse_ctx_t	ctx;
    scan_t	sc;
    uint32_t	toff, tlen;

    if (len >= UINT32_MAX)
	return SCAN_FALLBACK;
    sc.s = line;
    sc.len = len;
    sc.pos = 0;
    sc.tok = scan_toks;
    sc.ntok = 0;
    if (scan_head(&sc, &toff, &tlen) < 0)
	return SCAN_FALLBACK;
    if (scan_output_type(line + toff, tlen))
	return scan_output_record(&sc, line, t) < 0 ? SCAN_FALLBACK : 0;
    if (scan_record_data(&sc, toff, tlen) < 0 || scan_record(&sc, t) < 0)
	return SCAN_FALLBACK;

    parse_ctx_init(&ctx, t);
    scan_apply(&ctx, line, sc.tok, sc.ntok);
    parse_ctx_free(&ctx);
    return 0;
}

int
parse_line(parse_target_t *t, char *line, size_t len)
{
    struct json_tokener	*tok;
    json_object		*root;
    parse_ctx_t		ctx;
    size_t		i, end;
    int			sts;

    for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' ||
			    line[i] == '\r'); i++)
	;
    if (i == len || line[i] != '{')
	return 0;	/* blank, "No probes to attach", warnings */
    line += i;
    len -= i;
    line[len] = '\0';
    len = parse_fix_escapes(line, len);
    if (parse_scanner && scan_line(t, line, len) == 0) {
	parse_scanned++;
	return 0;
    }

    if ((tok = json_tokener_new_ex(PARSE_MAX_DEPTH)) == NULL)
	return -ENOMEM;
    root = json_tokener_parse_ex(tok, line, (int)len);
    end = json_tokener_get_parse_end(tok);
    if (root != NULL && json_tokener_get_error(tok) == json_tokener_success) {
	/* nothing but blanks may follow the object */
	for (; end < len; end++)
	    if (line[end] != ' ' && line[end] != '\t' && line[end] != '\r' &&
		line[end] != '\n')
		break;
    }
    json_tokener_free(tok);
    if (root == NULL || end < len || !json_object_is_type(root, json_type_object)) {
	json_object_put(root);
	t->parse_errors++;
	return PM_ERR_CONV;
    }

    parse_ctx_init(&ctx, t);
    if ((sts = parse_record(&ctx, root)) == PM_ERR_CONV)
	t->parse_errors++;
    parse_ctx_free(&ctx);
    json_object_put(root);
    return sts;
}

/* ---- lazy parsing: see parse_offer() in parser.h ---- */

int	parse_lazy = 1;

/*
 * The variable whose print this line is, when it may wait: a "map" or
 * "hist" record whose first member is an exported keyed variable.  Reads
 * the head of the line only; -1 for everything else.  bpftrace prints one
 * variable per record; a record with more is parsed whole when flushed.
 */
static int
parse_deferrable(parse_target_t *t, char *line, size_t len)
{
    scan_t	sc;
    uint32_t	off, n;
    uint8_t	flags;
    int		index;
    variable_t	*v;

    if (len >= UINT32_MAX)
	return -1;
    sc.s = line;
    sc.len = len;
    sc.pos = 0;
    if (scan_record_head(&sc) < 0 || scan_peek(&sc) != '"' ||
	scan_string(&sc, &off, &n, &flags) < 0 || flags != 0)
	return -1;
    if (n == sizeof(PARSE_TICK_VAR) - 1 &&
	memcmp(sc.s + off, PARSE_TICK_VAR, n) == 0)
	return -1;		/* the tick is never deferred */
    if ((index = scan_find_var(t, sc.s + off, n)) < 0)
	return -1;		/* not exported */
    v = &t->vars[index];
    if (v->single || v->func == VAR_FUNC_OUTPUT)
	return -1;
    return index;
}

int
parse_offer(parse_target_t *t, char *line, size_t len)
{
    parse_pending_t	*pp;
    int			index;

    if (!parse_lazy || (index = parse_deferrable(t, line, len)) < 0)
	return parse_line(t, line, len);
    if (t->pending == NULL &&
	(t->pending = calloc(t->nvars, sizeof(*t->pending))) == NULL)
	return parse_line(t, line, len);
    pp = &t->pending[index];
    if (len + 1 > pp->size) {
	char	*p = NULL;

	/*
	 * Room for the copy within the script's limit, or parse now:
	 * nothing is lost either way, but the older print waiting must
	 * not be parsed after this newer one.
	 */
	if (t->max_pending == 0 ||
	    t->pending_bytes - pp->size + len + 1 <= t->max_pending)
	    p = malloc(len + 1);
	if (p == NULL) {
	    parse_unpend(t, index);
	    return parse_line(t, line, len);
	}
	free(pp->line);
	t->pending_bytes += len + 1 - pp->size;
	pp->line = p;
	pp->size = len + 1;
    }
    memcpy(pp->line, line, len);
    pp->line[len] = '\0';
    pp->len = len;
    if (!pp->have) {
	pp->have = 1;
	t->npending++;
    }
    /* printed since the last tick, as if parsed (var_begin does the same) */
    t->vars[index].gen++;
    return 0;
}

void
parse_flush(parse_target_t *t)
{
    int		i;

    if (t->npending == 0 || t->pending == NULL)
	return;
    for (i = 0; i < t->nvars; i++) {
	variable_t	*v = &t->vars[i];
	int		printed = v->gen != v->tickmark;

	if (!t->pending[i].have)
	    continue;
	t->pending[i].have = 0;
	parse_line(t, t->pending[i].line, t->pending[i].len);
	/* parsing now is not printing now: the tick's view stays */
	if (!printed)
	    v->tickmark = v->gen;
    }
    t->npending = 0;
}

void
parse_drop(parse_target_t *t)
{
    int		i;

    if (t->pending != NULL)
	for (i = 0; i < t->nvars; i++)
	    t->pending[i].have = 0;
    t->npending = 0;
}

void
parse_pending_free(parse_target_t *t)
{
    int		i;

    if (t->pending != NULL)
	for (i = 0; i < t->nvars; i++)
	    free(t->pending[i].line);
    free(t->pending);
    t->pending = NULL;
    t->npending = 0;
    t->pending_bytes = 0;
}
