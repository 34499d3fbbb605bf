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

/*
 * UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF):
 * the length of the valid multibyte sequence at s, 0 if invalid.
 */
static size_t
parse_utf8_seq(const unsigned char *s, size_t len)
{
    unsigned	c = s[0], lo = 0x80, hi = 0xBF;
    size_t	need, k;

    if (c >= 0xC2 && c <= 0xDF)
	need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
	need = 2;
	if (c == 0xE0)
	    lo = 0xA0;
	else if (c == 0xED)
	    hi = 0x9F;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
	need = 3;
	if (c == 0xF0)
	    lo = 0x90;
	else if (c == 0xF4)
	    hi = 0x8F;
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

/* offset of the first byte to replace (NUL too: names are C strings) */
static size_t
parse_utf8_check(const char *str, size_t len)
{
    const unsigned char	*s = (const unsigned char *)str;
    size_t		i = 0, n;

    while (i < len) {
	if (s[i] >= 0x01 && s[i] < 0x80) {
	    i++;
	    continue;
	}
	if ((n = parse_utf8_seq(s + i, len - i)) == 0)
	    return i;
	i += n;
    }
    return len;
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
	else if ((n = parse_utf8_seq(s + i, len - i)) != 0) {
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

    if (suffix == NULL && parse_utf8_check(s, len) == len) {
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

/* a new tick of the print block: keyed variables not printed since the last one are empty */
static void
parse_tick(parse_target_t *t)
{
    variable_t	*v;
    int		i;

    for (i = 0; i < t->nvars; i++) {
	v = &t->vars[i];
	if (!v->single && v->gen == v->tickmark && v->nset > 0) {
	    var_begin(v);
	    var_end(v);
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
    if ((s = parse_clean(&c->text, s, len, suffix, &len)) == NULL)
	return -ENOMEM;
    var_append_output(c->t->output, s, len);
    return 0;
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

    ctx.t = t;
    parse_buf_init(&ctx.key);
    parse_buf_init(&ctx.text);
    if ((sts = parse_record(&ctx, root)) == PM_ERR_CONV)
	t->parse_errors++;
    parse_buf_free(&ctx.key);
    parse_buf_free(&ctx.text);
    json_object_put(root);
    return sts;
}
