/*
 * tracepoints: bpftrace.info.tracepoints - see tracepoints.h.
 */
#include <stdlib.h>
#include <string.h>
#include <pcp/pmapi.h>
#include "runner.h"
#include "tracepoints.h"

#define TP_MAX_BYTES	(16 << 20)	/* bound on what we keep */

static runner_t	tp_runner;
static char	*tp_raw;		/* lines as read, '\n' separated */
static size_t	tp_rawlen, tp_rawsize;
static char	*tp_value;
static int	tp_started;	/* tp_runner is initialised */

static void
tp_line(void *arg, char *line, size_t len)
{
    char	*p;

    if (len == 0 || tp_rawlen + len + 1 > TP_MAX_BYTES)
	return;
    if (tp_rawlen + len + 1 > tp_rawsize) {
	size_t size = tp_rawsize ? tp_rawsize * 2 : 65536;
	while (size < tp_rawlen + len + 1)
	    size *= 2;
	if ((p = realloc(tp_raw, size)) == NULL)
	    return;
	tp_raw = p;
	tp_rawsize = size;
    }
    memcpy(tp_raw + tp_rawlen, line, len);
    tp_rawlen += len;
    tp_raw[tp_rawlen++] = '\n';
}

static void
tp_ignore(void *arg, char *line, size_t len)
{
}

static const runner_ops_t tp_ops = { .out_line = tp_line, .err_line = tp_ignore };

static int
tp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted and unique (bpftrace -l may list a probe twice) */
static void
tp_finish(void)
{
    char	**lines, *p, *save;
    size_t	n = 0, i, len = 0;

    if (tp_raw == NULL)
	return;
    for (i = 0; i < tp_rawlen; i++)
	n += tp_raw[i] == '\n';
    tp_raw[tp_rawlen - 1] = '\0';
    if ((lines = malloc(n * sizeof(*lines))) == NULL)
	return;
    n = 0;
    for (p = strtok_r(tp_raw, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
	lines[n++] = p;
    qsort(lines, n, sizeof(*lines), tp_cmp);
    free(tp_value);
    if ((tp_value = malloc(tp_rawlen + 1)) != NULL) {
	for (i = 0; i < n; i++) {
	    if (i > 0 && strcmp(lines[i], lines[i - 1]) == 0)
		continue;
	    if (len)
		tp_value[len++] = ',';
	    strcpy(tp_value + len, lines[i]);
	    len += strlen(lines[i]);
	}
	tp_value[len] = '\0';
    }
    free(lines);
    free(tp_raw);
    tp_raw = NULL;
    tp_rawlen = tp_rawsize = 0;
}

int
tracepoints_start(const char *bpftrace_path)
{
    char	*argv[3];

    runner_init(&tp_runner, 65536);
    tp_started = 1;
    argv[0] = (char *)bpftrace_path;
    argv[1] = "-l";
    argv[2] = NULL;
    return runner_start(&tp_runner, argv, NULL, 0);
}

int
tracepoints_pollfds(struct pollfd *pfd)
{
    if (!tp_started)
	return 0;
    return runner_pollfds(&tp_runner, pfd);
}

void
tracepoints_io(struct pollfd *pfd, int n, double now)
{
    runner_io(&tp_runner, pfd, n, 1 << 20, now, &tp_ops, NULL);
}

int
tracepoints_reaped(pid_t pid, int wstatus)
{
    if (!tp_started || pid != tp_runner.pid || pid < 0)
	return 0;
    runner_exited(&tp_runner, wstatus, &tp_ops, NULL);
    runner_free(&tp_runner);
    tp_finish();
    return 1;
}

int
tracepoints_pending(void)
{
    return tp_started && runner_active(&tp_runner);
}

const char *
tracepoints_value(void)
{
    return tp_value ? tp_value : "";
}

void
tracepoints_free(void)
{
    if (tp_started) {
	runner_kill(&tp_runner);
	runner_free(&tp_runner);
    }
    free(tp_raw);
    free(tp_value);
    tp_raw = tp_value = NULL;
}
