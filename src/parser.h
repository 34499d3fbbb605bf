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
 * The print block the agent appends prints this map first on every tick.
 * Before bpftrace 0.24 an empty map prints no line at all, so a keyed
 * variable not printed between two ticks is known to be empty.
 */
#define PARSE_TICK_VAR	"@__pmda_tick"

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
} parse_target_t;

/*
 * Parse one complete line (without its newline; the buffer may be modified
 * and must have one writable byte past len).  Returns 0 when the line was
 * used or ignored on purpose (blank, not JSON, an unexported variable),
 * a negative PM_ERR_* code when it was malformed (parse_errors counted).
 */
int parse_line(parse_target_t *t, char *line, size_t len);

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
