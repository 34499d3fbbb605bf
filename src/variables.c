/*
 * variables: the values of one bpftrace variable, as the agent serves them.
 *
 * This module holds everything the agent knows about one variable between
 * two prints of it: its PCP type and semantics, the singular value or the
 * instances (map keys, histogram buckets, stats() fields) with their values,
 * and the @output text.  It exists so that the parser can hand over a
 * printed snapshot key by key, and fetch can answer from arrays, without
 * either of them knowing about instance ids or memory.
 *
 * Instances live in v->inst[]; instance id idbase + i names inst[i].  An id
 * stays bound to its name for the life of the variable (grafana-pcp reads
 * names only for ids it has not seen), so a key that vanishes keeps its
 * slot and gets the same id back when it reappears.  The slots are only
 * given up when max_inst keys have come and most have gone (a map keyed by
 * pid on a busy host): then the next snapshot starts a new id space above
 * the old one (var_renumber), so no id ever names another key.  Names are
 * found through a chained hash table (v->heads, chains through
 * inst[].chain) so that a print of a map with tens of thousands of keys
 * costs O(keys), not O(keys^2).
 *
 * Snapshots: var_begin() opens a generation, each var_put_*() marks its
 * instance with it, var_end() retires the active instances that were not
 * put.  Whether the membership changed is known from two counters, so the
 * sorted v->set handed to pmdaIndom is only rebuilt when it really changed.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include "variables.h"

#define VAR_MIN_HEADS	16
#define VAR_MIN_OUTBUF	64

static void var_output_clear(variable_t *v);

/*
 * Every change to any variable's values, instances or active set counts
 * here: fetch.c sends its last answer again while the count stands still.
 */
static unsigned long	var_change_count;

unsigned long
var_changes(void)
{
    return var_change_count;
}

/*
 * The hash of a name given in up to two parts, "a" alone or "a:b" (a
 * keyed histogram bucket), so that the caller never has to build the
 * joined name just to look it up.  The name is hashed as one stream of
 * bytes, eight at a time (a multiply-fold mix), so the parts may split it
 * anywhere: "a:b" in one part or two hash alike.
 */
typedef struct var_hasher {
    uint64_t	h;
    uint64_t	word;		/* bytes not yet mixed, little end first */
    unsigned	nword;		/* how many */
    size_t	len;
} var_hasher_t;

static inline uint64_t
var_mix(uint64_t a, uint64_t b)
{
    __uint128_t	r = (__uint128_t)a * b;

    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define VAR_HASH_K0	0xa0761d6478bd642fULL
#define VAR_HASH_K1	0xe7037ed1a0b428dbULL

static void
var_hash_more(var_hasher_t *hs, const char *s, size_t len)
{
    uint64_t	w;

    hs->len += len;
    /* finish a partial word byte by byte */
    while (hs->nword != 0 && len > 0) {
	hs->word |= (uint64_t)(unsigned char)*s++ << (8 * hs->nword);
	len--;
	if (++hs->nword == 8) {
	    hs->h = var_mix(hs->h ^ hs->word, VAR_HASH_K1);
	    hs->word = 0;
	    hs->nword = 0;
	}
    }
    for (; len >= 8; s += 8, len -= 8) {
	memcpy(&w, s, 8);
	hs->h = var_mix(hs->h ^ w, VAR_HASH_K1);
    }
    for (; len > 0; len--)
	hs->word |= (uint64_t)(unsigned char)*s++ << (8 * hs->nword++);
}

static uint32_t
var_hash(const char *a, size_t alen, const char *b, size_t blen)
{
    var_hasher_t	hs = { VAR_HASH_K0, 0, 0, 0 };
    uint64_t		h;

    var_hash_more(&hs, a, alen);
    if (b != NULL) {
	var_hash_more(&hs, ":", 1);
	var_hash_more(&hs, b, blen);
    }
    h = var_mix(hs.h ^ hs.word, VAR_HASH_K1 ^ hs.len);
    return (uint32_t)(h ^ (h >> 32));
}

/* memcmp() == 0, without a call for the short keys most maps have */
static inline int
var_same(const char *x, const char *y, size_t n)
{
    uint64_t	a, b, c, d;

    if (n > 16)
	return memcmp(x, y, n) == 0;
    if (n >= 8) {		/* two overlapping words */
	memcpy(&a, x, 8);
	memcpy(&b, y, 8);
	memcpy(&c, x + n - 8, 8);
	memcpy(&d, y + n - 8, 8);
	return ((a ^ b) | (c ^ d)) == 0;
    }
    while (n-- > 0)
	if (*x++ != *y++)
	    return 0;
    return 1;
}

/* the first 8 bytes of s (of len), zero padded: a name's prefix */
static inline uint64_t
var_prefix(const char *s, size_t len)
{
    uint64_t	p = 0;
    size_t	i;

    if (len >= 8) {
	memcpy(&p, s, 8);
	return p;
    }
    for (i = 0; i < len; i++)
	p |= (uint64_t)(unsigned char)s[i] << (8 * i);
    return p;
}

/*
 * Is ip named "a" (b NULL) or "a:b"?  Length and prefix are in the
 * instance itself: a name of up to 8 bytes is compared without reading
 * the name, which is elsewhere in memory (and cold when a print begins).
 */
static inline int
var_name_equal(const var_inst_t *ip, const char *a, size_t alen,
		const char *b, size_t blen)
{
    size_t	len = alen + (b != NULL ? 1 + blen : 0);

    if ((size_t)ip->namelen != len)
	return 0;
    if (b == NULL) {
	if (ip->prefix != var_prefix(a, alen))
	    return 0;
	return alen <= 8 || var_same(ip->name + 8, a + 8, alen - 8);
    }
    if (!var_same(ip->name, a, alen))
	return 0;
    return ip->name[alen] == ':' && var_same(ip->name + alen + 1, b, blen);
}

/* double the hash table and rechain every instance (load factor <= 1) */
static int
var_rehash(variable_t *v, int nheads)
{
    int		*heads;
    int		i, slot;

    if ((heads = malloc(nheads * sizeof(*heads))) == NULL)
	return -ENOMEM;
    for (i = 0; i < nheads; i++)
	heads[i] = -1;
    for (i = 0; i < v->ninst; i++) {
	slot = v->inst[i].hash & (nheads - 1);
	v->inst[i].chain = heads[slot];
	heads[slot] = i;
    }
    free(v->heads);
    v->heads = heads;
    v->nheads = nheads;
    return 0;
}

static int
var_find(const variable_t *v, uint32_t hash, const char *a, size_t alen,
		const char *b, size_t blen)
{
    int		i;

    if (v->nheads == 0)
	return -1;
    for (i = v->heads[hash & (v->nheads - 1)]; i >= 0; i = v->inst[i].chain) {
	if (v->inst[i].hash == hash &&
	    var_name_equal(&v->inst[i], a, alen, b, blen))
	    return i;
    }
    return -1;
}

/* a new instance id for "a" or "a:b"; negative when capped or out of memory */
static int
var_create(variable_t *v, uint32_t hash, const char *a, size_t alen,
		const char *b, size_t blen)
{
    var_inst_t	*ip;
    char	*name;
    size_t	len = alen + (b ? 1 + blen : 0);
    int		id, slot;

    if (v->ninst >= v->max_inst) {
	v->dropped++;
	v->capped = 1;
	return PM_ERR_TOOBIG;
    }
    if (v->ninst == v->maxinst) {
	int	n = v->maxinst ? 2 * v->maxinst : 16;

	if ((ip = realloc(v->inst, n * sizeof(*ip))) == NULL)
	    return -ENOMEM;
	v->inst = ip;
	v->maxinst = n;
    }
    if (v->ninst >= v->nheads) {
	int	sts = var_rehash(v, v->nheads ? 2 * v->nheads : VAR_MIN_HEADS);
	if (sts < 0)
	    return sts;
    }
    if ((name = malloc(len + 1)) == NULL)
	return -ENOMEM;
    memcpy(name, a, alen);
    if (b != NULL) {
	name[alen] = ':';
	memcpy(name + alen + 1, b, blen);
    }
    name[len] = '\0';

    id = v->ninst++;
    ip = &v->inst[id];
    memset(ip, 0, sizeof(*ip));
    ip->name = name;
    ip->prefix = var_prefix(name, len);
    ip->hash = hash;
    ip->keylen = b ? (int)alen : (int)len;
    ip->namelen = (int)len;
    ip->next = -1;
    slot = hash & (v->nheads - 1);
    ip->chain = v->heads[slot];
    v->heads[slot] = id;
    return id;
}

/*
 * Find or create the instance, and mark it as put in this snapshot.
 * A new or reactivated instance changes the membership of the set;
 * nput counts the distinct instances put that were already in it.
 *
 * bpftrace prints a map in the same order print after print when its
 * values keep their order, so the instance put after the previous one in
 * the last snapshot is tried first (one compare of the name, no hash);
 * the hash table answers when the guess is wrong.
 */
static inline __attribute__((always_inline)) int
var_lookup(variable_t *v, const char *a, size_t alen, const char *b, size_t blen)
{
    var_inst_t	*ip;
    uint32_t	hash;
    int		id, guess;

    var_change_count++;		/* a put follows, or an instance is made */
    guess = v->last < 0 ? v->first : v->inst[v->last].next;
    if (guess >= 0 && guess < v->ninst &&
	var_name_equal(&v->inst[guess], a, alen, b, blen))
	id = guess;
    else {
	hash = var_hash(a, alen, b, blen);
	if ((id = var_find(v, hash, a, alen, b, blen)) < 0 &&
	    (id = var_create(v, hash, a, alen, b, blen)) < 0)
	    return id;
    }
    /* ids usually follow each other print after print: fetch ahead */
    if (id + 8 < v->ninst)
	__builtin_prefetch(&v->inst[id + 8], 1);
    /* the order of this snapshot, for the guesses of the next one */
    if (v->last < 0)
	v->first = id;
    else
	v->inst[v->last].next = id;
    v->last = id;

    ip = &v->inst[id];
    if (!ip->active) {
	ip->active = 1;
	ip->gen = v->gen;
	v->changed = 1;
    }
    else if (ip->gen != v->gen) {
	ip->gen = v->gen;
	v->nput++;
    }
    return id;
}

/* where a value goes: the singular value, or the instance of key */
static int
var_slot(variable_t *v, const char *key, size_t keylen, var_value_t **slot)
{
    int		id;

    var_change_count++;
    if (v->single) {
	if (key != NULL)
	    return PM_ERR_INST;
	v->have_value = 1;
	*slot = &v->value;
	return 0;
    }
    if (key == NULL)
	return PM_ERR_INST;
    if ((id = var_lookup(v, key, keylen, NULL, 0)) < 0)
	return id;
    *slot = &v->inst[id].value;
    return id;
}

/* replace an owned string, keeping the old buffer when the text is the same */
static int
var_set_string(var_value_t *slot, const char *s, size_t len)
{
    char	*p;

    if (slot->str != NULL && strlen(slot->str) == len &&
	memcmp(slot->str, s, len) == 0)
	return 0;
    if ((p = malloc(len + 1)) == NULL)
	return -ENOMEM;
    memcpy(p, s, len);
    p[len] = '\0';
    free(slot->str);
    slot->str = p;
    return 0;
}

int
var_init(variable_t *v, const char *name, var_func_t func, int keyed,
		int is_string, int stacks)
{
    var_change_count++;
    memset(v, 0, sizeof(*v));
    v->func = func;
    v->keyed = keyed ? 1 : 0;
    v->item = -1;
    v->indom = PM_INDOM_NULL;
    v->first = v->last = -1;
    v->max_inst = 100000;
    v->max_output = 65536;
    v->retain_lines = -1;

    switch (func) {
    case VAR_FUNC_COUNT:
    case VAR_FUNC_HIST:
    case VAR_FUNC_LHIST:
	v->type = PM_TYPE_U64;
	v->sem = PM_SEM_COUNTER;
	break;
    case VAR_FUNC_OUTPUT:
	v->type = PM_TYPE_STRING;
	v->sem = PM_SEM_INSTANT;
	break;
    case VAR_FUNC_ASSIGN:
	v->type = is_string ? PM_TYPE_STRING : PM_TYPE_64;
	v->sem = PM_SEM_INSTANT;
	break;
    default:	/* sum, min, max, avg, stats: signed */
	v->type = PM_TYPE_64;
	v->sem = PM_SEM_INSTANT;
	break;
    }

    if (func == VAR_FUNC_OUTPUT)
	v->single = 1;
    else
	v->single = !(v->keyed || func == VAR_FUNC_HIST ||
		      func == VAR_FUNC_LHIST || func == VAR_FUNC_STATS);

    if (func == VAR_FUNC_HIST || func == VAR_FUNC_LHIST)
	v->metrictype = VAR_MT_HISTOGRAM;
    else if (func == VAR_FUNC_COUNT && v->keyed && stacks)
	v->metrictype = VAR_MT_STACKS;
    else if (func == VAR_FUNC_OUTPUT)
	v->metrictype = VAR_MT_OUTPUT;
    else
	v->metrictype = VAR_MT_NONE;

    if ((v->name = strdup(name)) == NULL)
	return -ENOMEM;
    if (name[0] == '@')
	name++;
    if ((v->metric = strdup(name[0] ? name : "root")) == NULL) {
	free(v->name);
	v->name = NULL;
	return -ENOMEM;
    }
    return 0;
}

/* free every instance's name and string value; the slots stay allocated */
static void
var_free_insts(variable_t *v)
{
    int		i;

    for (i = 0; i < v->ninst; i++) {
	if (v->type == PM_TYPE_STRING)
	    free(v->inst[i].value.str);
	free(v->inst[i].name);
    }
    v->ninst = 0;
}

void
var_free(variable_t *v)
{
    var_change_count++;
    if (v->type == PM_TYPE_STRING)
	free(v->value.str);
    var_free_insts(v);
    free(v->inst);
    free(v->heads);
    free(v->set);
    free(v->name);
    free(v->metric);
    memset(v, 0, sizeof(*v));
    v->indom = PM_INDOM_NULL;
    v->item = -1;
}

void
var_reset(variable_t *v)
{
    int		i;

    var_change_count++;
    for (i = 0; i < v->ninst; i++) {
	var_inst_t	*ip = &v->inst[i];

	ip->active = 0;
	if (v->type == PM_TYPE_STRING) {
	    free(ip->value.str);
	    ip->value.str = NULL;
	}
	else
	    ip->value.u64 = 0;
    }
    v->nset = 0;
    v->nput = 0;
    v->changed = 0;
    v->gen++;
    v->have_value = 0;
    if (v->func == VAR_FUNC_OUTPUT)
	var_output_clear(v);	/* keeps the buffer for the next text */
    else if (v->type == PM_TYPE_STRING) {
	free(v->value.str);
	v->value.str = NULL;
    }
    else
	v->value.u64 = 0;
}

int
var_adopt(variable_t *to, variable_t *from)
{
    int		i;

    var_change_count++;
    if (to->single || from->single || to->ninst > 0 ||
	to->func != from->func || to->keyed != from->keyed ||
	to->type != from->type || strcmp(to->metric, from->metric) != 0)
	return 0;
    var_reset(from);
    free(to->inst);
    free(to->heads);
    to->inst = from->inst;
    to->idbase = from->idbase;
    to->ninst = from->ninst;
    to->maxinst = from->maxinst;
    to->heads = from->heads;
    to->nheads = from->nheads;
    /* generations go on from the old ones: no instance looks put already */
    to->gen = to->tickmark = from->gen + 1;
    to->first = to->last = -1;
    for (i = 0; i < to->ninst; i++)
	to->inst[i].next = -1;
    from->inst = NULL;
    from->heads = NULL;
    from->ninst = from->maxinst = from->nheads = 0;
    from->first = from->last = -1;
    from->nset = 0;
    return to->ninst;
}

/*
 * Give up every slot and start ids again above the last one used: the
 * keys of the coming snapshot get new ids, and no old id is reused (until
 * the id space wraps, after 2^31 ids).
 */
static void
var_renumber(variable_t *v)
{
    long	next = (long)v->idbase + v->ninst;
    int		i;

    var_free_insts(v);
    for (i = 0; i < v->nheads; i++)
	v->heads[i] = -1;
    v->nset = 0;
    v->first = v->last = -1;
    v->changed = 1;
    v->idbase = next + v->max_inst > INT_MAX ? 0 : (int)next;
    v->renumber = 0;
}

/*
 * changed is left alone: it is only cleared once var_end() has rebuilt
 * the set, so instances put outside a snapshot are not lost from it.
 */
void
var_begin(variable_t *v)
{
    var_change_count++;
    if (v->renumber)
	var_renumber(v);
    v->gen++;
    v->nput = 0;
    v->last = -1;
}

/* histograms list by key, then by lower bound; qsort_r context is v */
static int
var_cmp_hist(const void *a, const void *b, void *arg)
{
    const variable_t	*v = arg;
    const var_inst_t	*x = &v->inst[((const pmdaInstid *)a)->i_inst - v->idbase];
    const var_inst_t	*y = &v->inst[((const pmdaInstid *)b)->i_inst - v->idbase];
    int			n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int			c;

    if ((c = memcmp(x->name, y->name, n)) != 0)
	return c;
    if (x->keylen != y->keylen)
	return x->keylen < y->keylen ? -1 : 1;
    if (x->lower != y->lower)
	return x->lower < y->lower ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int
var_cmp_name(const void *a, const void *b)
{
    return strcmp(((const pmdaInstid *)a)->i_name,
		  ((const pmdaInstid *)b)->i_name);
}

static void
var_rebuild_set(variable_t *v)
{
    pmdaInstid	*set;
    int		i, n;

    for (i = 0, n = 0; i < v->ninst; i++) {
	var_inst_t	*ip = &v->inst[i];

	if (ip->active && ip->gen != v->gen) {
	    ip->active = 0;
	    if (v->type == PM_TYPE_STRING) {
		free(ip->value.str);
		ip->value.str = NULL;
	    }
	}
	if (ip->active)
	    n++;
    }
    if (n > v->maxset) {
	if ((set = realloc(v->set, n * sizeof(*set))) == NULL) {
	    /* keep the old (stale but consistent) set; try again next time */
	    v->nset = 0;
	    return;
	}
	v->set = set;
	v->maxset = n;
    }
    for (i = 0, n = 0; i < v->ninst; i++) {
	if (v->inst[i].active) {
	    v->set[n].i_inst = v->idbase + i;
	    v->set[n].i_name = v->inst[i].name;
	    n++;
	}
    }
    v->nset = n;
    if (v->metrictype == VAR_MT_HISTOGRAM)
	qsort_r(v->set, n, sizeof(*v->set), var_cmp_hist, v);
    else
	qsort(v->set, n, sizeof(*v->set), var_cmp_name);
    v->changed = 0;
    v->nput = n;
}

void
var_end(variable_t *v)
{
    var_change_count++;
    if (v->single)
	return;
    /* unless every put was of an instance already active, and all of them were put */
    if (v->changed || v->nput != v->nset)
	var_rebuild_set(v);
    /*
     * Keys were dropped at max_inst, yet at most half of it are live:
     * most slots hold keys long gone, so the next snapshot starts afresh.
     */
    if (v->capped) {
	v->capped = 0;
	if (v->nset <= v->max_inst / 2)
	    v->renumber = 1;
    }
}

/* numbers arrive as text from F4 on: an optional '-' and 1..20 digits */
static int
var_parse_number(const char *s, size_t len, int *neg, uint64_t *mag)
{
    uint64_t	x = 0;
    size_t	i = 0;

    *neg = 0;
    if (len > 0 && s[0] == '-') {
	*neg = 1;
	i = 1;
    }
    if (i == len)
	return PM_ERR_CONV;
    for (; i < len; i++) {
	unsigned	d = (unsigned char)s[i] - '0';

	if (d > 9)
	    return PM_ERR_CONV;
	if (x > (UINT64_MAX - d) / 10)
	    return PM_ERR_CONV;		/* overflow */
	x = x * 10 + d;
    }
    *mag = x;
    return 0;
}

int
var_put_u64_n(variable_t *v, const char *key, size_t keylen, uint64_t value)
{
    var_value_t	*slot;
    char	buf[32];
    int		sts;

    if (v->type == PM_TYPE_STRING) {
	int	n = snprintf(buf, sizeof(buf), "%" PRIu64, value);
	return var_put_str_n(v, key, keylen, buf, n);
    }
    if ((sts = var_slot(v, key, keylen, &slot)) < 0)
	return sts;
    if (v->type == PM_TYPE_U64)
	slot->u64 = value;
    else
	slot->i64 = (int64_t)value;
    return 0;
}

int
var_put_i64_n(variable_t *v, const char *key, size_t keylen, int64_t value)
{
    var_value_t	*slot;
    char	buf[32];
    int		sts;

    if (v->type == PM_TYPE_STRING) {
	int	n = snprintf(buf, sizeof(buf), "%" PRId64, value);
	return var_put_str_n(v, key, keylen, buf, n);
    }
    if ((sts = var_slot(v, key, keylen, &slot)) < 0)
	return sts;
    if (v->type == PM_TYPE_U64)
	slot->u64 = (uint64_t)value;
    else
	slot->i64 = value;
    return 0;
}

int
var_put_str_n(variable_t *v, const char *key, size_t keylen, const char *s, size_t len)
{
    var_value_t	*slot;
    uint64_t	mag;
    int		neg, sts;

    if (v->type != PM_TYPE_STRING) {
	/* a number printed as a string of digits (F4+ u64), else unusable */
	if ((sts = var_parse_number(s, len, &neg, &mag)) < 0)
	    return sts;
	if (!neg)
	    return var_put_u64_n(v, key, keylen, mag);
	if (mag > (uint64_t)INT64_MAX + 1)
	    return PM_ERR_CONV;
	return var_put_i64_n(v, key, keylen, mag == (uint64_t)INT64_MAX + 1 ?
				INT64_MIN : -(int64_t)mag);
    }
    if (v->func == VAR_FUNC_OUTPUT && key == NULL) {
	/* a whole new text: keep the buffer discipline of the appends */
	var_output_clear(v);
	var_append_output(v, s, len);
	v->have_value = 1;
	return 0;
    }
    if ((sts = var_slot(v, key, keylen, &slot)) < 0)
	return sts;
    if ((sts = var_set_string(slot, s, len)) < 0) {
	if (v->single && slot->str == NULL)
	    v->have_value = 0;
	return sts;
    }
    return 0;
}

int
var_put_bucket_n(variable_t *v, const char *key, size_t keylen,
		const char *bucket, size_t blen, double lower, uint64_t count)
{
    var_inst_t	*ip;
    int		id;

    if (v->single)
	return PM_ERR_INST;
    if (key != NULL)
	id = var_lookup(v, key, keylen, bucket, blen);
    else
	id = var_lookup(v, bucket, blen, NULL, 0);
    if (id < 0)
	return id;
    ip = &v->inst[id];
    ip->lower = lower;
    if (key == NULL)
	ip->keylen = 0;		/* one histogram: sort by bound alone */
    if (v->type == PM_TYPE_STRING) {
	char	buf[32];
	int	n = snprintf(buf, sizeof(buf), "%" PRIu64, count);
	return var_set_string(&ip->value, buf, n);
    }
    if (v->type == PM_TYPE_U64)
	ip->value.u64 = count;
    else
	ip->value.i64 = (int64_t)count;
    return 0;
}

/* the parser's hot path: a keyed number, the lookup inlined */
int
var_put_num_n(variable_t *v, const char *key, size_t keylen, int neg, uint64_t mag)
{
    var_value_t	*slot;
    int		id;

    if (v->type == PM_TYPE_STRING || v->single || key == NULL)
	return neg ? var_put_i64_n(v, key, keylen, -(int64_t)mag) :
		     var_put_u64_n(v, key, keylen, mag);
    if ((id = var_lookup(v, key, keylen, NULL, 0)) < 0)
	return id;
    slot = &v->inst[id].value;
    if (neg)
	slot->i64 = -(int64_t)mag;	/* the same bits for U64 as for 64 */
    else
	slot->u64 = mag;
    return 0;
}

int
var_put_u64(variable_t *v, const char *key, uint64_t value)
{
    return var_put_u64_n(v, key, key ? strlen(key) : 0, value);
}

int
var_put_i64(variable_t *v, const char *key, int64_t value)
{
    return var_put_i64_n(v, key, key ? strlen(key) : 0, value);
}

int
var_put_str(variable_t *v, const char *key, const char *s, size_t len)
{
    return var_put_str_n(v, key, key ? strlen(key) : 0, s, len);
}

int
var_put_bucket(variable_t *v, const char *key, const char *bucket,
		double lower, uint64_t count)
{
    return var_put_bucket_n(v, key, key ? strlen(key) : 0, bucket,
			    strlen(bucket), lower, count);
}

/*
 * The output buffer is a window: the text shown is outlen bytes at
 * value.str + outoff, in an allocation of outcap bytes.  A printf flood
 * keeps the text at its max_output bound, so every line appended drops
 * about as much from the front: moving the kept text down each time
 * would cost max_output bytes per line (64 KiB for a 40-byte line).
 * Instead the front is dropped by moving outoff, and the text is moved
 * down only when the space after it runs out and at least as much was
 * dropped as is kept; a header that stays (table-retain-lines) is moved
 * up to the new front instead, which costs its length.  Each byte is so
 * copied a bounded number of times, whatever max_output is.
 */
static char *
var_output_text(const variable_t *v)
{
    return v->value.str ? v->value.str + v->outoff : NULL;
}

/* room for len more bytes and the NUL after the text */
static int
var_output_room(variable_t *v, size_t len)
{
    size_t	need = v->outlen + len + 1, cap;
    char	*p;

    if (v->value.str != NULL && v->outoff + need <= v->outcap)
	return 0;
    if (v->value.str != NULL && need <= v->outcap && v->outoff >= v->outlen) {
	memmove(v->value.str, v->value.str + v->outoff, v->outlen + 1);
	v->outoff = 0;
	return 0;
    }
    /* twice what is needed: as much again can come before the next move */
    cap = need < VAR_MIN_OUTBUF / 2 ? VAR_MIN_OUTBUF : 2 * need;
    if ((p = malloc(cap)) == NULL)
	return -ENOMEM;
    if (v->value.str != NULL)
	memcpy(p, v->value.str + v->outoff, v->outlen);
    p[v->outlen] = '\0';
    free(v->value.str);
    v->value.str = p;
    v->outoff = 0;
    v->outcap = cap;
    return 0;
}

/*
 * Newlines in s: the text keeps its count, so table-retain-lines knows
 * how many lines to drop without scanning back over the kept ones (up
 * to max_output bytes for each line printed).
 */
static size_t
var_count_nl(const char *s, size_t len)
{
    const char	*end = s + len;
    size_t	n = 0;

    while (s < end && (s = memchr(s, '\n', end - s)) != NULL) {
	n++;
	s++;
    }
    return n;
}

/* an empty text, keeping the allocation */
static void
var_output_clear(variable_t *v)
{
    v->outoff = 0;
    v->outlen = 0;
    v->outnl = 0;
    if (v->value.str != NULL)
	v->value.str[0] = '\0';
}

/* never start the kept text in the middle of a UTF-8 sequence */
static size_t
var_utf8_start(const char *s, size_t pos, size_t len)
{
    int		n;

    for (n = 0; n < 3 && pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80; n++)
	pos++;
    return pos;
}

/* length of the table header (first line with its '\n'), 0 if incomplete */
static size_t
var_header_len(const variable_t *v)
{
    const char	*text = var_output_text(v), *nl;

    if (v->retain_lines < 0 || text == NULL || v->outnl == 0)
	return 0;
    if ((nl = memchr(text, '\n', v->outlen)) == NULL)
	return 0;
    return nl - text + 1;
}

/*
 * Drop text [from, to) of the text: the from bytes before it (the
 * header, or nothing) move up to meet the rest, and the front moves on.
 */
static void
var_output_cut(variable_t *v, size_t from, size_t to)
{
    char	*text = var_output_text(v);

    if (to <= from)
	return;
    v->outnl -= var_count_nl(text + from, to - from);
    if (from > 0)
	memmove(text + (to - from), text, from);
    v->outoff += to - from;
    v->outlen -= to - from;
}

/*
 * table-retain-lines N: keep the header and the last N lines after it.
 * The lines after the header are its newlines, and one more for a last
 * line not ended yet; the oldest are dropped by scanning forward, so
 * the work is the length of what goes.
 */
static void
var_output_retain(variable_t *v, size_t hdr)
{
    const char	*buf = var_output_text(v), *q;
    size_t	lines, drop, start = hdr;

    if (hdr == 0)
	return;
    lines = v->outnl - 1;
    if (v->outlen > hdr && buf[v->outlen - 1] != '\n')
	lines++;
    if (lines <= (size_t)v->retain_lines)
	return;
    for (drop = lines - v->retain_lines; drop > 0; drop--) {
	if ((q = memchr(buf + start, '\n', v->outlen - start)) == NULL) {
	    start = v->outlen;	/* the unended last line goes too (N = 0) */
	    break;
	}
	start = q - buf + 1;
    }
    var_output_cut(v, hdr, start);
}

/*
 * Where kept text starting at or after cut should begin: just after a
 * newline when one leaves something to keep, else mid-line at cut.
 */
static size_t
var_line_cut(const char *buf, size_t cut, size_t len)
{
    const char	*q;

    if (cut == 0)
	return 0;
    q = memchr(buf + cut - 1, '\n', len - (cut - 1));
    if (q != NULL && (size_t)(q - buf) + 1 < len)
	return q - buf + 1;
    /* the newest line alone is too long: keep its tail */
    return var_utf8_start(buf, cut, len);
}

/* keep at most max_output bytes: drop whole lines from the front */
static void
var_output_bound(variable_t *v, size_t hdr)
{
    size_t	base;

    if (v->outlen <= v->max_output)
	return;
    /* a header that leaves no room for data is not worth keeping */
    base = hdr < v->max_output / 2 ? hdr : 0;
    var_output_cut(v, base, var_line_cut(var_output_text(v),
			base + v->outlen - v->max_output, v->outlen));
}

void
var_append_output(variable_t *v, const char *s, size_t len)
{
    size_t	hdr;
    const char	*nl;
    char	*text;

    var_change_count++;
    if (v == NULL || len == 0)
	return;
    if (v->max_output == 0) {
	var_output_clear(v);
	return;
    }
    if (v->retain_lines >= 0 && var_header_len(v) == 0 &&
	(nl = memchr(s, '\n', len)) != NULL && (size_t)(nl - s) + 1 < len) {
	/* complete the header first so the rest is trimmed against it */
	size_t	n = nl - s + 1;

	var_append_output(v, s, n);
	s += n;
	len -= n;
    }
    hdr = var_header_len(v);
    if (len > v->max_output) {
	/* all older text but the header would be dropped anyway */
	size_t	skip = var_line_cut(s, len - v->max_output, len);

	v->outlen = hdr;
	v->outnl = hdr > 0;
	if (v->value.str != NULL)
	    var_output_text(v)[hdr] = '\0';
	s += skip;
	len -= skip;
    }
    if (var_output_room(v, len) < 0)
	return;
    text = var_output_text(v);
    memcpy(text + v->outlen, s, len);
    v->outlen += len;
    v->outnl += var_count_nl(s, len);
    text[v->outlen] = '\0';
    v->have_value = 1;

    if (hdr == 0)
	hdr = var_header_len(v);
    if (v->retain_lines >= 0)
	var_output_retain(v, hdr);
    var_output_bound(v, hdr);
}

static void
var_atom(const variable_t *v, const var_value_t *val, pmAtomValue *atom)
{
    switch (v->type) {
    case PM_TYPE_U64:
	atom->ull = val->u64;
	break;
    case PM_TYPE_64:
	atom->ll = val->i64;
	break;
    default:
	atom->cp = val->str ? val->str : (char *)"";
	break;
    }
}

int
var_fetch(const variable_t *v, unsigned int inst, pmAtomValue *atom)
{
    int		i;

    if (v->single) {
	if (v->func == VAR_FUNC_OUTPUT) {
	    /* the output always has a value, empty before the first print */
	    atom->cp = (char *)var_output(v);
	    return PMDA_FETCH_STATIC;
	}
	if (!v->have_value)
	    return PMDA_FETCH_NOVALUES;
	var_atom(v, &v->value, atom);
	return PMDA_FETCH_STATIC;
    }
    if ((i = var_index(v, (int)inst)) < 0 || !v->inst[i].active)
	return PMDA_FETCH_NOVALUES;
    var_atom(v, &v->inst[i].value, atom);
    return PMDA_FETCH_STATIC;
}

const char *
var_inst_name(const variable_t *v, int inst)
{
    int		i;

    if ((i = var_index(v, inst)) < 0)
	return NULL;
    return v->inst[i].name;
}
