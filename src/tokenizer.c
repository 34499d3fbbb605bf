/*
 * tokenizer: bpftrace source text -> the variables it assigns, how each is
 * assigned, whether it prints output, and the agent's annotations.
 *
 * The text is read once, left to right, by a small lexer (tok_lex) that
 * knows just enough bpftrace to not be fooled: line and block comments,
 * string literals with backslash escapes, preprocessor lines (#include,
 * #define, the #! line), identifiers, map variables (@x, @), scratch
 * variables ($x), numbers and operators by maximal munch ("<=" is not
 * "<" "=", "<<=" is one compound assignment).  Annotations are recognised
 * by the lexer too, so a "// name: x" inside a block comment is not one.
 *
 * The token stream drives a few tiny state machines (tok_step) instead of
 * a parser: whether a map variable is followed by an assignment operator
 * (after its [key], if any), what the right-hand side of "=" starts with,
 * and which top-level key parts are kstack/ustack.  Brackets are tracked
 * with one depth counter and a stack of open map keys, so every token is
 * looked at a bounded number of times: linear time whatever the nesting,
 * and unbalanced brackets only make us miss assignments, never misbehave.
 *
 * Variables are kept in a hash table keyed by name (pointers into the
 * text, nothing copied) so a script with a huge number of distinct names
 * stays linear too.  Only at the end are the exported variables (after
 * "// include:" filtering) checked and copied into the caller's result.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <pcp/pmapi.h>
#include "tokenizer.h"
#include "utf8.h"

#define TOK_MAX_NAME_META	64	/* longest "// name:" value */
#define TOK_MAX_RETAIN		100000	/* cap for table-retain-lines */
#define TOK_ERR_SHOW		80	/* bytes of user text quoted in an error */

static const char tok_msg_novars[] =
    "no bpftrace variables or printf statements found, please include at "
    "least one variable or printf statement in your script";
static const char tok_msg_output[] =
    "output from printf(), time() etc. will be stored in @output. please "
    "rename the existing @output variable or remove any calls to any "
    "function which produces output";

/* RHS starting with one of these makes a plain assignment a string */
static const char *const tok_string_funcs[] = {
    "str", "comm", "kstack", "ustack", "ksym", "usym", "strftime", "path",
    "probe", "func", "username", "cgroup_path", "buf", "macaddr", "ntop",
    "strerror", NULL
};

/* calls of these write to bpftrace's stdout, which becomes @output */
static const char *const tok_output_funcs[] = {
    "printf", "time", "cat", "join", "system", NULL
};

/* key parts that make a map stack-keyed */
static const char *const tok_stack_funcs[] = {
    "kstack", "ustack", NULL
};

static const struct {
    const char	*name;
    var_func_t	func;
} tok_aggs[] = {
    { "count", VAR_FUNC_COUNT },
    { "sum", VAR_FUNC_SUM },
    { "min", VAR_FUNC_MIN },
    { "max", VAR_FUNC_MAX },
    { "avg", VAR_FUNC_AVG },
    { "stats", VAR_FUNC_STATS },
    { "hist", VAR_FUNC_HIST },
    { "lhist", VAR_FUNC_LHIST },
};

/* operators, longest first within a leading character (maximal munch) */
static const char *const tok_ops[] = {
    "<<=", ">>=",
    "==", "!=", "<=", ">=", "&&", "||", "++", "--", "+=", "-=", "*=",
    "/=", "%=", "&=", "|=", "^=", "<<", ">>", "->",
    NULL
};

/* operators that assign to the map variable on their left */
static const char *const tok_assign_ops[] = {
    "=", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
    "<<=", ">>=", NULL
};

typedef enum {
    TOK_T_EOF = 0,
    TOK_T_IDENT,	/* foo */
    TOK_T_MAP,		/* @foo or @ */
    TOK_T_SCRATCH,	/* $foo, $1 */
    TOK_T_NUMBER,	/* 42, 0x2a, 1_000 */
    TOK_T_STRING,	/* "..." */
    TOK_T_PUNCT,	/* operators and brackets */
    TOK_T_OTHER,	/* any other byte */
} tok_type_t;

typedef struct tok_token {
    tok_type_t	type;
    const char	*s;		/* into the text, not NUL terminated */
    size_t	len;
} tok_token_t;

/* a variable as seen in the text; the name points into the text */
typedef struct tok_ivar {
    const char	*name;
    size_t	namelen;
    var_func_t	func;
    int		keyed;
    int		stacks;
    int		is_string;
    int		str_decided;	/* a plain assignment has set is_string */
    int		included;
} tok_ivar_t;

/* an open [key] of a map variable */
typedef struct tok_frame {
    const char	*name;
    size_t	namelen;
    int		open_depth;	/* bracket depth before its '[' */
    int		prefix;		/* ++@x[...] or --@x[...] */
    int		stacks;
    int		part_ntok;	/* tokens in the current top-level key part */
} tok_frame_t;

typedef enum {
    TOK_PEND_NONE = 0,
    TOK_PEND_FRESH,	/* just saw @x: a '[' or an operator may follow */
    TOK_PEND_KEYED,	/* just closed @x[...]: an operator may follow */
} tok_pend_t;

typedef struct tok_state {
    /* lexer */
    const char	*text;
    size_t	len;
    size_t	pos;
    int		line_start;	/* only blanks since the last newline */
    size_t	body;		/* where the text starts: past a byte order mark */

    tok_result_t *res;		/* annotations are stored straight here */
    char	*errbuf;
    size_t	errlen;

    /* variables, and a hash of them by name (index + 1, 0 is empty) */
    tok_ivar_t	*vars;
    int		nvars;
    int		maxvars;
    int		*hash;
    size_t	nhash;

    /* brackets */
    int		depth;
    tok_frame_t	*frames;
    int		nframes;
    int		maxframes;

    /* a map variable waiting for its operator */
    tok_pend_t	pend;
    const char	*pend_name;
    size_t	pend_len;
    int		pend_prefix;
    int		pend_stacks;

    /* right-hand side of "=": 1 first token, 2 the token after an ident */
    int		rhs_stage;
    int		rhs_var;
    tok_token_t	rhs_ident;

    tok_token_t	prev;		/* previous token */
    int		has_output;
} tok_state_t;

static int
tok_error(tok_state_t *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
tok_error(tok_state_t *st, int code, const char *fmt, ...)
{
    va_list	ap;

    if (st->errbuf != NULL && st->errlen > 0) {
	va_start(ap, fmt);
	vsnprintf(st->errbuf, st->errlen, fmt, ap);
	va_end(ap);
    }
    return code;
}

static int
tok_nomem(tok_state_t *st)
{
    return tok_error(st, -ENOMEM, "out of memory");
}

static int
tok_is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
tok_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int
tok_is_identc(int c)
{
    return tok_is_alpha(c) || tok_is_digit(c) || c == '_';
}

/* blanks within a line; newlines are handled apart (line_start) */
static int
tok_is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* a letter or '_' first (then not alone), as upstream's ^[a-zA-Z_]\w+$ */
int
tok_valid_name(const char *s)
{
    if (s == NULL || !(tok_is_alpha((unsigned char)*s) || (*s == '_' && s[1] != '\0')))
	return 0;
    for (s++; *s; s++)
	if (!tok_is_identc((unsigned char)*s))
	    return 0;
    return 1;
}

static int
tok_in_table(const char *const *table, const char *s, size_t len)
{
    int		i;

    for (i = 0; table[i] != NULL; i++)
	if (strlen(table[i]) == len && memcmp(table[i], s, len) == 0)
	    return 1;
    return 0;
}

/* VAR_FUNC_ASSIGN if the identifier is not an aggregation function */
static var_func_t
tok_agg_func(const tok_token_t *t)
{
    size_t	i;

    if (t->type != TOK_T_IDENT)
	return VAR_FUNC_ASSIGN;
    for (i = 0; i < sizeof(tok_aggs) / sizeof(tok_aggs[0]); i++)
	if (strlen(tok_aggs[i].name) == t->len &&
	    memcmp(tok_aggs[i].name, t->s, t->len) == 0)
	    return tok_aggs[i].func;
    return VAR_FUNC_ASSIGN;
}

static int
tok_punct_is(const tok_token_t *t, const char *op)
{
    return t->type == TOK_T_PUNCT && strlen(op) == t->len &&
	   memcmp(op, t->s, t->len) == 0;
}

static int
tok_ident_in(const tok_token_t *t, const char *const *table)
{
    return t->type == TOK_T_IDENT && tok_in_table(table, t->s, t->len);
}

/* a copy of s[0..len) without leading and trailing blanks */
static char *
tok_strip_dup(const char *s, size_t len)
{
    while (len > 0 && tok_is_blank((unsigned char)*s)) {
	s++;
	len--;
    }
    while (len > 0 && tok_is_blank((unsigned char)s[len - 1]))
	len--;
    return strndup(s, len);
}

/*
 * Annotations
 */

static int
tok_meta_name(tok_state_t *st, char *value)
{
    if (strlen(value) > TOK_MAX_NAME_META) {
	tok_error(st, PM_ERR_CONV, "invalid value '%.*s' for name: longer "
		"than %d characters", TOK_ERR_SHOW, value, TOK_MAX_NAME_META);
	free(value);
	return PM_ERR_CONV;
    }
    if (value[0] == '\0' || !tok_valid_name(value)) {
	tok_error(st, PM_ERR_CONV, "invalid value '%.*s' for name: must "
		"contain only alphanumeric characters and start with a letter",
		TOK_ERR_SHOW, value);
	free(value);
	return PM_ERR_CONV;
    }
    free(st->res->meta_name);
    st->res->meta_name = value;
    return 0;
}

static int
tok_meta_retain(tok_state_t *st, const char *value)
{
    const char	*p;
    long	n = 0;

    if (value[0] == '\0')
	goto bad;
    for (p = value; *p; p++) {
	if (!tok_is_digit((unsigned char)*p))
	    goto bad;
	/* saturate: the cap is all we need, and no overflow on 1e30 */
	if (n <= TOK_MAX_RETAIN)
	    n = n * 10 + (*p - '0');
    }
    st->res->table_retain_lines = n > TOK_MAX_RETAIN ? TOK_MAX_RETAIN : (int)n;
    return 0;

bad:
    return tok_error(st, PM_ERR_CONV, "invalid value '%.*s' for "
		"table-retain-lines, must be numeric", TOK_ERR_SHOW, value);
}

static void
tok_free_include(char **include, int n)
{
    int		i;

    for (i = 0; i < n; i++)
	free(include[i]);
    free(include);
}

static int
tok_meta_include(tok_state_t *st, const char *value)
{
    const char	*p, *end, *comma;
    char	**items;
    int		n = 1, i = 0;

    for (p = value; *p; p++)
	if (*p == ',')
	    n++;
    if ((items = calloc(n, sizeof(*items))) == NULL)
	return tok_nomem(st);

    for (p = value; i < n; p = comma + 1) {
	end = p + strlen(p);
	if ((comma = strchr(p, ',')) == NULL)
	    comma = end;
	if ((items[i] = tok_strip_dup(p, comma - p)) == NULL) {
	    tok_free_include(items, i);
	    return tok_nomem(st);
	}
	if (items[i][0] == '\0' && n > 1) {
	    /* "@a,,@b" or a trailing comma: nothing to include, as upstream */
	    free(items[i]);
	    n--;
	    continue;
	}
	/*
	 * An item that names no variable ("output", "@a b") is kept: like
	 * upstream's, it matches nothing, and the others still count.
	 */
	i++;
    }

    /* the last include annotation wins */
    tok_free_include(st->res->include, st->res->ninclude);
    st->res->include = items;
    st->res->ninclude = n;
    return 0;
}

/*
 * pos is at "//", in column 0.  It is an annotation if
 * the rest of the line is a key, optionally followed by ':' and a value;
 * anything else ("// Licensed under ...") is an ordinary comment.
 */
static int
tok_annotation(tok_state_t *st, size_t pos)
{
    const char	*p = st->text + pos + 2;
    const char	*eol, *key, *nl;
    size_t	keylen;
    char	*value;
    int		sts = 0;

    nl = memchr(p, '\n', st->text + st->len - p);
    eol = nl ? nl : st->text + st->len;

    while (p < eol && tok_is_blank((unsigned char)*p))
	p++;
    key = p;
    while (p < eol && (tok_is_identc((unsigned char)*p) || *p == '-'))
	p++;
    if ((keylen = p - key) == 0)
	return 0;
    while (p < eol && tok_is_blank((unsigned char)*p))
	p++;
    if (p < eol) {
	if (*p != ':')
	    return 0;
	p++;
    }
    if ((value = tok_strip_dup(p, eol - p)) == NULL)
	return tok_nomem(st);

#define KEY_IS(k) (keylen == sizeof(k) - 1 && memcmp(key, k, keylen) == 0)
    if (KEY_IS("name"))
	return tok_meta_name(st, value);	/* takes value */
    if (KEY_IS("include"))
	sts = tok_meta_include(st, value);
    else if (KEY_IS("table-retain-lines"))
	sts = tok_meta_retain(st, value);
    else if (KEY_IS("custom-output-block"))
	st->res->custom_output_block = 1;
#undef KEY_IS
    free(value);
    return sts;
}

/*
 * Lexer
 */

/* the end of a line comment or preprocessor line (at its '\n' or EOF) */
static size_t
tok_skip_line(const tok_state_t *st, size_t pos, int continuation)
{
    while (pos < st->len && st->text[pos] != '\n') {
	if (continuation && st->text[pos] == '\\' && pos + 1 < st->len &&
	    st->text[pos + 1] == '\n')
	    pos += 2;
	else
	    pos++;
    }
    return pos;
}

/* pos is at "/ *": past the closing "* /", or EOF if there is none */
static size_t
tok_skip_block(const tok_state_t *st, size_t pos)
{
    for (pos += 2; pos + 1 < st->len; pos++)
	if (st->text[pos] == '*' && st->text[pos + 1] == '/')
	    return pos + 2;
    return st->len;
}

/* pos is at the opening quote: past the closing one, or EOF */
static size_t
tok_skip_string(const tok_state_t *st, size_t pos)
{
    for (pos++; pos < st->len; pos++) {
	if (st->text[pos] == '\\')
	    pos++;			/* may step onto len; loop ends */
	else if (st->text[pos] == '"')
	    return pos + 1;
    }
    return st->len;
}

static size_t
tok_skip_ident(const tok_state_t *st, size_t pos)
{
    while (pos < st->len && tok_is_identc((unsigned char)st->text[pos]))
	pos++;
    return pos;
}

static size_t
tok_op_len(const tok_state_t *st, size_t pos)
{
    size_t	n, left = st->len - pos;
    int		i;

    for (i = 0; tok_ops[i] != NULL; i++) {
	n = strlen(tok_ops[i]);
	if (n <= left && memcmp(tok_ops[i], st->text + pos, n) == 0)
	    return n;
    }
    return 1;
}

/* the next token; comments, blanks and preprocessor lines are skipped */
static int
tok_lex(tok_state_t *st, tok_token_t *t)
{
    const char	*s = st->text;
    size_t	start, end;
    int		c, c1, sts;

    while (st->pos < st->len) {
	start = st->pos;
	c = (unsigned char)s[start];
	c1 = start + 1 < st->len ? (unsigned char)s[start + 1] : -1;

	if (c == '\n') {
	    st->pos++;
	    st->line_start = 1;
	    continue;
	}
	if (tok_is_blank(c)) {
	    st->pos++;
	    continue;
	}
	if (c == '/' && c1 == '/') {
	    /* annotations start in column 0, as upstream reads them (^//) */
	    if ((start == st->body || s[start - 1] == '\n') &&
		(sts = tok_annotation(st, start)) < 0)
		return sts;
	    st->pos = tok_skip_line(st, start, 0);
	    continue;
	}
	if (c == '/' && c1 == '*') {
	    st->pos = tok_skip_block(st, start);
	    st->line_start = 0;
	    continue;
	}
	if (c == '#' && st->line_start) {
	    /* #include, #define (with continuations), #! */
	    st->pos = tok_skip_line(st, start, 1);
	    continue;
	}

	st->line_start = 0;
	t->s = s + start;
	if (c == '"') {
	    t->type = TOK_T_STRING;
	    end = tok_skip_string(st, start);
	} else if (c == '@') {
	    t->type = TOK_T_MAP;
	    end = start + 1;
	    if (c1 >= 0 && (tok_is_alpha(c1) || c1 == '_'))
		end = tok_skip_ident(st, end);
	} else if (c == '$') {
	    t->type = TOK_T_SCRATCH;
	    end = tok_skip_ident(st, start + 1);
	} else if (tok_is_alpha(c) || c == '_') {
	    t->type = TOK_T_IDENT;
	    end = tok_skip_ident(st, start);
	} else if (tok_is_digit(c)) {
	    t->type = TOK_T_NUMBER;
	    end = tok_skip_ident(st, start);
	} else if (c < 0x80) {
	    t->type = TOK_T_PUNCT;
	    end = start + tok_op_len(st, start);
	} else {
	    t->type = TOK_T_OTHER;
	    end = start + 1;
	}
	t->len = end - start;
	st->pos = end;
	return 0;
    }
    t->type = TOK_T_EOF;
    t->s = s + st->len;
    t->len = 0;
    return 0;
}

/*
 * Variables
 */

static uint32_t
tok_hash(const char *s, size_t len)
{
    uint32_t	h = 2166136261u;	/* FNV-1a */
    size_t	i;

    for (i = 0; i < len; i++) {
	h ^= (unsigned char)s[i];
	h *= 16777619u;
    }
    return h;
}

/* the hash slot holding name, or the empty slot where it would go */
static size_t
tok_slot(const tok_state_t *st, const char *name, size_t len)
{
    size_t	mask = st->nhash - 1;
    size_t	i = tok_hash(name, len) & mask;
    tok_ivar_t	*v;

    while (st->hash[i] != 0) {
	v = &st->vars[st->hash[i] - 1];
	if (v->namelen == len && memcmp(v->name, name, len) == 0)
	    break;
	i = (i + 1) & mask;
    }
    return i;
}

static int
tok_find(const tok_state_t *st, const char *name, size_t len)
{
    if (st->nhash == 0)
	return -1;
    return st->hash[tok_slot(st, name, len)] - 1;
}

/* keep the hash at most half full */
static int
tok_grow_hash(tok_state_t *st)
{
    size_t	n = st->nhash ? st->nhash * 2 : 64;
    int		*old = st->hash, i;

    if ((st->hash = calloc(n, sizeof(*st->hash))) == NULL) {
	st->hash = old;
	return tok_nomem(st);
    }
    free(old);
    st->nhash = n;
    for (i = 0; i < st->nvars; i++)
	st->hash[tok_slot(st, st->vars[i].name, st->vars[i].namelen)] = i + 1;
    return 0;
}

/*
 * An assignment to name has been seen: the variable's index, a new one
 * at the end if this is its first assignment (which fixes its order).
 * What was assigned is told later, by tok_settle().
 */
static int
tok_assigned(tok_state_t *st, const char *name, size_t len, int keyed,
		int stacks)
{
    tok_ivar_t	*v;
    size_t	slot;
    int		idx, sts, n;

    if ((size_t)(st->nvars + 1) * 2 > st->nhash &&
	(sts = tok_grow_hash(st)) < 0)
	return sts;
    slot = tok_slot(st, name, len);
    if ((idx = st->hash[slot] - 1) < 0) {
	if (st->nvars == st->maxvars) {
	    if (st->maxvars > INT_MAX / 2)
		return tok_nomem(st);
	    n = st->maxvars ? st->maxvars * 2 : 16;
	    if ((v = realloc(st->vars, n * sizeof(*v))) == NULL)
		return tok_nomem(st);
	    st->vars = v;
	    st->maxvars = n;
	}
	idx = st->nvars++;
	v = &st->vars[idx];
	memset(v, 0, sizeof(*v));
	v->name = name;
	v->namelen = len;
	v->func = VAR_FUNC_ASSIGN;
	st->hash[slot] = idx + 1;
    }
    v = &st->vars[idx];
    v->keyed |= keyed;
    v->stacks |= keyed && stacks;
    return idx;
}

/*
 * The first aggregation seen wins over plain assignments (@x = 0 to
 * initialise, then @x = count()); is_string comes from the first plain
 * assignment and means nothing once the variable is an aggregation.
 */
static void
tok_settle(tok_state_t *st, int idx, var_func_t func, int is_string)
{
    tok_ivar_t	*v = &st->vars[idx];

    if (func != VAR_FUNC_ASSIGN) {
	if (v->func == VAR_FUNC_ASSIGN) {
	    v->func = func;
	    v->is_string = 0;
	}
    } else if (v->func == VAR_FUNC_ASSIGN && !v->str_decided) {
	v->is_string = is_string;
	v->str_decided = 1;
    }
}

/* an assignment whose value does not matter: @x++, @x += n, ++@x */
static int
tok_assigned_plain(tok_state_t *st, const char *name, size_t len, int keyed,
		int stacks)
{
    int		idx = tok_assigned(st, name, len, keyed, stacks);

    if (idx < 0)
	return idx;
    tok_settle(st, idx, VAR_FUNC_ASSIGN, 0);
    return 0;
}

/*
 * The state machines
 */

/* the right-hand side of "@x = ...": string? aggregation? */
static void
tok_rhs(tok_state_t *st, const tok_token_t *t)
{
    var_func_t	func;

    if (st->rhs_stage == 1) {
	if (t->type == TOK_T_IDENT) {
	    /* "count" means nothing until we see whether '(' follows */
	    st->rhs_ident = *t;
	    st->rhs_stage = 2;
	    return;
	}
	tok_settle(st, st->rhs_var, VAR_FUNC_ASSIGN, t->type == TOK_T_STRING);
    } else {
	func = tok_punct_is(t, "(") ? tok_agg_func(&st->rhs_ident)
				     : VAR_FUNC_ASSIGN;
	tok_settle(st, st->rhs_var, func, func == VAR_FUNC_ASSIGN &&
		   tok_ident_in(&st->rhs_ident, tok_string_funcs));
    }
    st->rhs_stage = 0;
}

static int
tok_push_frame(tok_state_t *st)
{
    tok_frame_t	*f;
    int		n;

    if (st->nframes == st->maxframes) {
	if (st->maxframes > INT_MAX / 2)
	    return tok_nomem(st);
	n = st->maxframes ? st->maxframes * 2 : 16;
	if ((f = realloc(st->frames, n * sizeof(*f))) == NULL)
	    return tok_nomem(st);
	st->frames = f;
	st->maxframes = n;
    }
    f = &st->frames[st->nframes++];
    f->name = st->pend_name;
    f->namelen = st->pend_len;
    f->open_depth = st->depth;
    f->prefix = st->pend_prefix;
    f->stacks = 0;
    f->part_ntok = 0;
    return 0;
}

/* the token after @x or @x[...]: is it an assignment? */
static int
tok_pending(tok_state_t *st, const tok_token_t *t)
{
    tok_pend_t	pend = st->pend;
    int		keyed = pend == TOK_PEND_KEYED;
    int		idx;

    st->pend = TOK_PEND_NONE;
    if (pend == TOK_PEND_FRESH && tok_punct_is(t, "["))
	return tok_push_frame(st);
    if (st->pend_prefix)
	return tok_assigned_plain(st, st->pend_name, st->pend_len, keyed,
				  st->pend_stacks);
    if (tok_punct_is(t, "=")) {
	idx = tok_assigned(st, st->pend_name, st->pend_len, keyed,
			   st->pend_stacks);
	if (idx < 0)
	    return idx;
	st->rhs_var = idx;
	st->rhs_stage = 1;
	return 0;
    }
    if (t->type == TOK_T_PUNCT && tok_in_table(tok_assign_ops, t->s, t->len))
	return tok_assigned_plain(st, st->pend_name, st->pend_len, keyed,
				  st->pend_stacks);
    return 0;
}

/* watch the top-level parts of the innermost open key for kstack/ustack */
static void
tok_key_part(tok_state_t *st, const tok_token_t *t)
{
    tok_frame_t	*f;

    if (st->nframes == 0)
	return;
    f = &st->frames[st->nframes - 1];
    if (st->depth != f->open_depth + 1)
	return;
    if (tok_punct_is(t, ",")) {
	f->part_ntok = 0;
	return;
    }
    if (f->part_ntok++ == 0 && tok_ident_in(t, tok_stack_funcs))
	f->stacks = 1;
}

/* a closing bracket: maybe the end of a map key */
static int
tok_close(tok_state_t *st, const tok_token_t *t)
{
    tok_frame_t	*f;

    if (st->depth > 0)
	st->depth--;
    if (st->nframes == 0)
	return 0;
    f = &st->frames[st->nframes - 1];
    if (st->depth > f->open_depth)
	return 0;
    /* closed, or abandoned by a mismatched ')' or '}' */
    st->nframes--;
    if (!tok_punct_is(t, "]") || st->depth != f->open_depth)
	return 0;
    if (f->prefix)
	return tok_assigned_plain(st, f->name, f->namelen, 1, f->stacks);
    st->pend = TOK_PEND_KEYED;
    st->pend_name = f->name;
    st->pend_len = f->namelen;
    st->pend_prefix = 0;
    st->pend_stacks = f->stacks;
    return 0;
}

static int
tok_step(tok_state_t *st, const tok_token_t *t)
{
    int		sts;

    if (st->rhs_stage)
	tok_rhs(st, t);
    if (st->pend != TOK_PEND_NONE && (sts = tok_pending(st, t)) < 0)
	return sts;

    if (t->type == TOK_T_PUNCT && t->len == 1 &&
	(*t->s == ')' || *t->s == ']' || *t->s == '}'))
	return tok_close(st, t);

    tok_key_part(st, t);

    if (t->type == TOK_T_MAP) {
	st->pend = TOK_PEND_FRESH;
	st->pend_name = t->s;
	st->pend_len = t->len;
	st->pend_prefix = tok_punct_is(&st->prev, "++") ||
			  tok_punct_is(&st->prev, "--");
	st->pend_stacks = 0;
    } else if (t->type == TOK_T_PUNCT && t->len == 1 &&
	       (*t->s == '(' || *t->s == '[' || *t->s == '{')) {
	if (*t->s == '(' && tok_ident_in(&st->prev, tok_output_funcs))
	    st->has_output = 1;
	st->depth++;
    }
    return 0;
}

/* end of text: settle whatever was waiting for a next token */
static int
tok_finish(tok_state_t *st)
{
    tok_token_t	eof = { TOK_T_EOF, st->text + st->len, 0 };

    if (st->rhs_stage)
	tok_rhs(st, &eof);
    if (st->pend != TOK_PEND_NONE)
	return tok_pending(st, &eof);
    return 0;
}

/*
 * Result
 */

static int
tok_export(tok_state_t *st)
{
    tok_result_t *res = st->res;
    tok_ivar_t	*v;
    tok_var_t	*out;
    int		i, idx, want_output = 1, n = 0, have_output_var = 0;
    int		have_anon = 0, have_root = 0;

    if (res->include != NULL) {
	want_output = 0;
	for (i = 0; i < res->ninclude; i++) {
	    if (strcmp(res->include[i], "@output") == 0)
		want_output = 1;
	    idx = tok_find(st, res->include[i], strlen(res->include[i]));
	    if (idx >= 0)
		st->vars[idx].included = 1;
	}
    } else {
	for (i = 0; i < st->nvars; i++)
	    st->vars[i].included = 1;
    }
    res->has_output = st->has_output && want_output;

    for (i = 0; i < st->nvars; i++) {
	v = &st->vars[i];
	if (!v->included)
	    continue;
	n++;
	/* names point into the text: never print past namelen */
	if (v->namelen > TOK_MAX_VARNAME)
	    return tok_error(st, PM_ERR_CONV, "variable %.*s... is too long: "
			"at most %d characters are allowed",
			TOK_MAX_VARNAME, v->name, TOK_MAX_VARNAME);
	if (v->namelen == 7 && memcmp(v->name, "@output", 7) == 0)
	    have_output_var = 1;
	if (v->namelen == 1)
	    have_anon = 1;
	if (v->namelen == 5 && memcmp(v->name, "@root", 5) == 0)
	    have_root = 1;
    }
    /* "@" is served as data.root, as upstream names it: one name, two variables */
    if (have_anon && have_root)
	return tok_error(st, PM_ERR_CONV, "variables @ and @root would both be "
			"the metric data.root: rename @root");
    if (have_output_var && res->has_output)
	return tok_error(st, PM_ERR_CONV, "%s", tok_msg_output);
    if (n == 0 && !res->has_output)
	return tok_error(st, PM_ERR_VALUE, "%s", tok_msg_novars);

    if (n == 0)
	return 0;
    if ((out = calloc(n, sizeof(*out))) == NULL)
	return tok_nomem(st);
    res->vars = out;
    res->nvars = n;
    for (i = 0; i < st->nvars; i++) {
	v = &st->vars[i];
	if (!v->included)
	    continue;
	memcpy(out->name, v->name, v->namelen);
	out->name[v->namelen] = '\0';
	out->func = v->func;
	out->keyed = v->keyed;
	out->stacks = v->stacks;
	out->is_string = v->func == VAR_FUNC_ASSIGN && v->is_string;
	out++;
    }
    return 0;
}

int
tok_script(const char *text, size_t len, tok_result_t *res,
		char *errbuf, size_t errlen)
{
    tok_state_t	st;
    tok_token_t	t;
    int		sts;

    memset(res, 0, sizeof(*res));
    res->table_retain_lines = -1;
    if (errbuf != NULL && errlen > 0)
	errbuf[0] = '\0';

    memset(&st, 0, sizeof(st));
    st.text = text ? text : "";
    st.len = text ? len : 0;
    st.line_start = 1;
    st.res = res;
    st.errbuf = errbuf;
    st.errlen = errlen;

    /*
     * Strict UTF-8 and no NUL: the script goes to bpftrace as a C string
     * and its names end up in PMNS and JSON, where either would be trouble.
     */
    if (!utf8_text_ok(st.text, st.len)) {
	sts = tok_error(&st, PM_ERR_CONV, "script is not valid UTF-8 text");
	goto out;
    }
    /* an editor's byte order mark must not hide a first-line annotation */
    if (st.len >= 3 && memcmp(st.text, "\xef\xbb\xbf", 3) == 0)
	st.pos = st.body = 3;
    for (;;) {
	if ((sts = tok_lex(&st, &t)) < 0)
	    goto out;
	if (t.type == TOK_T_EOF)
	    break;
	if ((sts = tok_step(&st, &t)) < 0)
	    goto out;
	st.prev = t;
    }
    if ((sts = tok_finish(&st)) < 0)
	goto out;
    sts = tok_export(&st);

out:
    free(st.vars);
    free(st.hash);
    free(st.frames);
    if (sts < 0)
	tok_free(res);
    return sts < 0 ? sts : 0;
}

void
tok_free(tok_result_t *res)
{
    if (res == NULL)
	return;
    free(res->vars);
    free(res->meta_name);
    tok_free_include(res->include, res->ninclude);
    memset(res, 0, sizeof(*res));
}
