/*
 * tokenizer: bpftrace source text -> the variables it assigns, how each is
 * assigned, whether it prints output, and the agent's annotations.
 *
 * A real lexer over bpftrace syntax (comments, strings, brackets), not a
 * regular expression: "@x" inside a string or a comment is not a variable,
 * print(@x) or delete(@x[k]) is not an assignment.
 *
 * Annotations are line comments at the start of a line:
 *   // name: NAME               the script's metric name (persistent)
 *   // include: @a,@b[,@output] export only these variables
 *   // table-retain-lines: N    @output keeps its header and the last N lines
 *   // custom-output-block      the script prints its own variables
 */
#ifndef BPFTRACE_TOKENIZER_H
#define BPFTRACE_TOKENIZER_H

#include <stddef.h>
#include "variables.h"

#define TOK_MAX_VARNAME	64	/* longest variable name we export, '@' included */

typedef struct tok_var {
    char	name[TOK_MAX_VARNAME + 1];	/* "@x", "@" for the anonymous map */
    var_func_t	func;		/* the aggregation function, VAR_FUNC_ASSIGN otherwise */
    int		keyed;		/* assigned with a [key] */
    int		stacks;		/* a key part is kstack/ustack */
    int		is_string;	/* plain assignment of a string (literal, str(), comm, ...) */
} tok_var_t;

typedef struct tok_result {
    tok_var_t	*vars;		/* in order of first assignment */
    int		nvars;
    int		has_output;	/* printf/time/cat/join/system called */

    /* annotations */
    char	*meta_name;		/* NULL if none */
    char	**include;		/* NULL if no include annotation */
    int		ninclude;
    int		table_retain_lines;	/* -1 if none */
    int		custom_output_block;
} tok_result_t;

/*
 * Tokenize text.  Returns 0 and fills res (free with tok_free), or a
 * negative PM_ERR_* code with a user-facing message in errbuf (the message
 * upstream would give where there is one, e.g. "invalid value 'x' for
 * table-retain-lines, must be numeric").
 */
int tok_script(const char *text, size_t len, tok_result_t *res,
		char *errbuf, size_t errlen);
void tok_free(tok_result_t *res);

/* 1 if s is a valid PMNS name component: a letter, then [A-Za-z0-9_] */
int tok_valid_name(const char *s);

#endif /* BPFTRACE_TOKENIZER_H */
