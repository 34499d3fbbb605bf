/*
 * variables: the values of one bpftrace variable, as the agent serves them.
 *
 * A variable is either singular (a scalar: no instance domain) or keyed
 * (a map, a histogram, stats(): one instance per key or bucket).  Instance
 * ids are indexes into v->inst[] and are never reused for another name
 * while the variable lives, so fetch is an array lookup.  A print of the
 * variable is a complete snapshot: var_begin(), var_put_*() for each key,
 * var_end(); keys not put since var_begin() leave the active set.
 *
 * Nothing here allocates at fetch time; v->set (the active instances in
 * display order) is rebuilt only when the membership of the set changes.
 */
#ifndef BPFTRACE_VARIABLES_H
#define BPFTRACE_VARIABLES_H

#include <stdint.h>
#include <stddef.h>
#include <pcp/pmapi.h>
#include <pcp/pmda.h>

/* what the script assigns to the variable (found by the tokenizer) */
typedef enum {
    VAR_FUNC_ASSIGN = 0,	/* @x = expr, @x++, @x += n */
    VAR_FUNC_COUNT,		/* count() */
    VAR_FUNC_SUM,		/* sum() */
    VAR_FUNC_MIN,		/* min() */
    VAR_FUNC_MAX,		/* max() */
    VAR_FUNC_AVG,		/* avg() */
    VAR_FUNC_STATS,		/* stats(): count, average, total */
    VAR_FUNC_HIST,		/* hist() */
    VAR_FUNC_LHIST,		/* lhist() */
    VAR_FUNC_OUTPUT,		/* @output: printf(), time(), cat(), join(), system() */
} var_func_t;

/* grafana-pcp's "metrictype" label */
typedef enum {
    VAR_MT_NONE = 0,
    VAR_MT_HISTOGRAM,
    VAR_MT_STACKS,
    VAR_MT_OUTPUT,
} var_metrictype_t;

typedef union {
    uint64_t	u64;		/* PM_TYPE_U64 */
    int64_t	i64;		/* PM_TYPE_64 */
    char	*str;		/* PM_TYPE_STRING, owned, NUL terminated */
} var_value_t;

typedef struct var_inst {
    /* what a print reads and writes, first: one cache line with the rest */
    uint64_t	prefix;		/* the name's first 8 bytes, zero padded */
    int		namelen;	/* strlen(name) */
    int		next;		/* instance put after this one in its last snapshot, -1 none */
    unsigned	gen;		/* snapshot generation that last put it */
    int		active;		/* in the current set */
    var_value_t	value;
    char	*name;		/* instance name, owned */
    uint32_t	hash;		/* of name */
    int		chain;		/* next index in the hash chain, -1 ends */
    double	lower;		/* histogram bucket lower bound (-inf allowed) */
    int		keylen;		/* keyed hist/stats: length of the key part of name */
} var_inst_t;

typedef struct variable {
    char		*name;		/* bpftrace name with its '@' ("@" alone too) */
    char		*metric;	/* PMNS component: name without '@', "root" for "@" */
    var_func_t		func;
    int			keyed;		/* assigned with [key] */
    var_metrictype_t	metrictype;
    int			type;		/* PM_TYPE_U64, PM_TYPE_64 or PM_TYPE_STRING */
    int			sem;		/* PM_SEM_COUNTER or PM_SEM_INSTANT */
    int			single;		/* no instance domain */

    /* set by the namespace when the script's metrics are built */
    int			item;
    pmInDom		indom;		/* PM_INDOM_NULL when single */

    /* singular value */
    int			have_value;
    var_value_t		value;

    /* instances: inst[i] has instance id idbase + i */
    var_inst_t		*inst;
    int			idbase;
    int			ninst;
    int			maxinst;
    int			*heads;		/* hash heads, nheads is a power of 2 */
    int			nheads;
    unsigned		gen;		/* current snapshot generation */
    int			first;		/* first instance put in the last snapshot, -1 none */
    int			last;		/* last instance put in this snapshot, -1 none */
    unsigned		tickmark;	/* gen at the last print-block tick */
    int			nput;		/* active instances put in this snapshot */
    int			changed;	/* membership changed in this snapshot */

    /* the active set in display order, handed to pmdaIndom */
    pmdaInstid		*set;
    int			nset;
    int			maxset;

    /* limits and their counters */
    int			max_inst;	/* new keys beyond this are dropped */
    uint64_t		dropped;	/* keys dropped by max_inst */
    int			capped;		/* this snapshot dropped keys */
    int			renumber;	/* the next snapshot starts a new id space */
    size_t		max_output;	/* @output: bytes kept */
    int			retain_lines;	/* @output: table-retain-lines, -1 if none */
    size_t		outoff;		/* @output: the text is at value.str + outoff */
    size_t		outlen;		/* @output: its length */
    size_t		outcap;		/* @output: bytes allocated at value.str */
    size_t		outnl;		/* @output: newlines in the text */
} variable_t;

/* @output's text, "" before the first print */
static inline const char *
var_output(const variable_t *v)
{
    return v->value.str ? v->value.str + v->outoff : "";
}

/* the slot in v->inst of instance id inst, -1 when there is none */
static inline int
var_index(const variable_t *v, int inst)
{
    long	i = (long)inst - v->idbase;

    return i >= 0 && i < v->ninst ? (int)i : -1;
}

/* Set up a variable (name with '@', func, keyed, is-string, stacks-keyed). */
int var_init(variable_t *v, const char *name, var_func_t func, int keyed,
		int is_string, int stacks);
void var_free(variable_t *v);

/* Forget all values and make every instance inactive; ids are kept. */
void var_reset(variable_t *v);

/*
 * A new variable takes over the instance names and ids of an old one of
 * the same metric, shape and type (a drop-in file edited: its script is
 * made anew), so an id goes on naming the same key for the clients that
 * cached it (grafana-pcp, pmlogger).  No value is taken: every instance
 * starts inactive.  from keeps no instance.  Returns the instances taken,
 * 0 when the two differ or "to" has instances of its own.
 */
int var_adopt(variable_t *to, variable_t *from);

/* One printed snapshot of the variable. */
void var_begin(variable_t *v);
/* key == NULL for a singular value; keyed values need a key. */
int var_put_u64(variable_t *v, const char *key, uint64_t value);
int var_put_i64(variable_t *v, const char *key, int64_t value);
int var_put_str(variable_t *v, const char *key, const char *s, size_t len);
/* a histogram bucket: name "lo-hi", key is the map key (NULL unkeyed) */
int var_put_bucket(variable_t *v, const char *key, const char *bucket,
		double lower, uint64_t count);
/*
 * The same with the key's length given (the parser knows it): key holds
 * keylen bytes, no NUL among them, and need not be NUL terminated.
 */
int var_put_u64_n(variable_t *v, const char *key, size_t keylen, uint64_t value);
int var_put_i64_n(variable_t *v, const char *key, size_t keylen, int64_t value);
int var_put_str_n(variable_t *v, const char *key, size_t keylen,
		const char *s, size_t len);
int var_put_bucket_n(variable_t *v, const char *key, size_t keylen,
		const char *bucket, size_t blen, double lower, uint64_t count);
/* an integer given as sign and magnitude: var_put_i64_n(-mag) or var_put_u64_n(mag) */
int var_put_num_n(variable_t *v, const char *key, size_t keylen, int neg, uint64_t mag);
void var_end(variable_t *v);

/* printf() and friends: append to @output (bounded, table-retain-lines) */
void var_append_output(variable_t *v, const char *s, size_t len);

/* fetch: PMDA_FETCH_STATIC with atom filled, or PMDA_FETCH_NOVALUES */
int var_fetch(const variable_t *v, unsigned int inst, pmAtomValue *atom);

/*
 * A count of the changes made to any variable (values, instances, active
 * sets, a variable made or freed): while it stands still, so do they.
 */
unsigned long var_changes(void);

/* instance name of an id, NULL if unknown */
const char *var_inst_name(const variable_t *v, int inst);

#endif /* BPFTRACE_VARIABLES_H */
