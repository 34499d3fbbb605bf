/*
 * parser: one line of `bpftrace -f json` output -> updates of one script's
 * variables and state, for every bpftrace version family (0.17 to 0.26,
 * see shared/docs/bpftrace-json-output.md).
 *
 * The only module that touches JSON.  A line that does not parse is counted
 * and skipped, never fatal.
 */
#ifndef BPFTRACE_PARSER_H
#define BPFTRACE_PARSER_H

#include <stddef.h>
#include <stdint.h>
#include "variables.h"

/*
 * The print block the agent appends prints this map first in every round
 * of prints (a "tick" here; see script_program).  Before bpftrace 0.24 an
 * empty map prints no line at all, so a keyed variable not printed between
 * two ticks is known to be empty.
 */
#define PARSE_TICK_VAR	"@__pmda_tick"

/* the newest print of one variable, not parsed yet (see parse_offer) */
typedef struct parse_pending {
    char	*line;		/* NUL terminated copy, NULL when none */
    size_t	len;
    size_t	size;		/* allocated, kept for the next print */
    int		have;		/* line holds a print not parsed yet */
} parse_pending_t;

/* what one script exposes to the parser */
typedef struct parse_target {
    variable_t	*vars;		/* the exported variables */
    int		nvars;
    variable_t	*output;	/* @output or NULL */
    unsigned	probes;		/* attached_probes */
    uint64_t	lost_events;	/* lost_events */
    uint64_t	parse_errors;	/* lines that failed to parse */
    uint64_t	runtime_errors;	/* helper_error, runtime_error, errorf */
    char	last_runtime_error[256];	/* text of the newest one */
    parse_pending_t *pending;	/* per variable, NULL until the first deferral */
    int		npending;	/* variables with a print waiting */
    size_t	pending_bytes;	/* allocated for them all */
    size_t	max_pending;	/* beyond this, prints are parsed at once; 0 no limit */
} parse_target_t;

/*
 * Parse one complete line (without its newline; the buffer may be modified
 * and must have one writable byte past len).  Returns 0 when the line was
 * used or ignored on purpose (blank, not JSON, an unexported variable),
 * a negative PM_ERR_* code when it was malformed (parse_errors counted).
 */
int parse_line(parse_target_t *t, char *line, size_t len);

/*
 * Lazy parsing.  A map or histogram print is a complete snapshot: a newer
 * print of the same variable replaces it whole.  So the print of a keyed
 * variable need not be parsed when it arrives, only when somebody asks:
 * parse_offer() keeps a copy of such a line (replacing the variable's
 * previous unparsed print, which is then never parsed at all) and parses
 * every other line at once; parse_flush() parses what is waiting, and must
 * be called before the variables are read (fetch, instance requests).
 * A bpftrace printing ten times a second to a client fetching once a
 * second is parsed once a second.  Empty-map detection through the tick
 * sees a deferred print as printed.  The copies of one script stay within
 * t->max_pending bytes; a print that does not fit is parsed at once.
 * parse_lazy = 0 parses every line at once (tests, benchmarks).
 */
int parse_offer(parse_target_t *t, char *line, size_t len);
void parse_flush(parse_target_t *t);
/* forget the unparsed prints (a new run), or free their buffers too */
void parse_drop(parse_target_t *t);
void parse_pending_free(parse_target_t *t);
extern int parse_lazy;

/*
 * Map and histogram records are read by a strict scanner of their own
 * (much faster than building a json-c tree); anything it does not take
 * goes to json-c.  0 sends every line to json-c: for tests that check
 * both paths agree, and for benchmarks.  On by default.
 */
extern int parse_scanner;
/* lines the scanner took (the rest went to json-c): for tests */
extern unsigned long parse_scanned;

/* histogram bucket instance name: "min-max", "-inf" / "inf" for open bounds */
void parse_bucket_name(char *buf, size_t buflen, int have_min, const char *min,
		int have_max, const char *max);

#endif /* BPFTRACE_PARSER_H */
