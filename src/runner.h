/*
 * runner: one bpftrace child process.
 *
 * Spawns it in its own process group with a parent-death signal, feeds
 * the script text on stdin (never on the command line), reads stdout and
 * stderr without blocking, assembles complete lines (bounded) and hands
 * them on, stops it with SIGINT then SIGKILL after a grace period.  The
 * only module that touches processes and pipes; it never waits.
 */
#ifndef BPFTRACE_RUNNER_H
#define BPFTRACE_RUNNER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RUNNER_MAX_POLLFDS	3

typedef struct runner_ops {
    /* a complete stdout line, NUL terminated, without its newline */
    void (*out_line)(void *arg, char *line, size_t len);
    /* a complete stderr line */
    void (*err_line)(void *arg, char *line, size_t len);
    /* a stdout line longer than max_line was discarded */
    void (*too_long)(void *arg, size_t len);
} runner_ops_t;

typedef struct runner_buf {
    char	*data;
    size_t	len;
    size_t	size;
    size_t	skipped;	/* bytes discarded from an over-long line */
} runner_buf_t;

typedef struct runner {
    pid_t	pid;		/* -1 when no child */
    int		in_fd, out_fd, err_fd;	/* -1 when closed */
    char	*input;		/* text still to write to stdin */
    size_t	inlen, inoff;
    runner_buf_t out, err;
    size_t	max_line;	/* longest stdout line kept */
    uint64_t	out_bytes;	/* bytes read from stdout since start */
    int		exited;		/* waitpid reported the child */
    int		wstatus;
    double	kill_at;	/* monotonic time for SIGKILL, 0 if none */
    int		stopping;	/* runner_stop was called */
    double	hold_secs;	/* rest this long after emptying a busy stdout, 0 never */
    double	out_hold;	/* monotonic time stdout is polled again, 0 now */
    double	out_drained;	/* monotonic time a read last emptied stdout */
} runner_t;

void runner_init(runner_t *r, size_t max_line);
/*
 * Start argv[0] (looked up on PATH) with text on stdin.  Returns 0, or a
 * negative error (-errno) when no child could be made.  A bpftrace binary
 * that cannot be executed makes the child exit with status 127 and an
 * error line on stderr, as a shell does.
 */
int runner_start(runner_t *r, char *const argv[], const char *text, size_t len);
/* running or not yet reaped */
int runner_active(const runner_t *r);
/*
 * fill up to RUNNER_MAX_POLLFDS pollfds; returns how many (stdout is left
 * out while it rests: see hold_secs and runner_timers)
 */
int runner_pollfds(const runner_t *r, struct pollfd *pfd);
/*
 * handle poll results for this runner's fds at monotonic time now (when
 * stdout's rest starts); reads at most budget bytes
 */
void runner_io(runner_t *r, const struct pollfd *pfd, int n, size_t budget,
		double now, const runner_ops_t *ops, void *arg);
/* the child was reaped: drain what is left in the pipes and close them */
void runner_exited(runner_t *r, int wstatus, const runner_ops_t *ops, void *arg);
/* ask it to stop: SIGINT now, SIGKILL at now + grace */
void runner_stop(runner_t *r, double now, int grace);
/*
 * SIGKILL when the grace period is over, end stdout's rest when it is
 * over; returns seconds to the next deadline or -1
 */
double runner_timers(runner_t *r, double now);
/* SIGKILL the whole process group at once (agent shutdown) */
void runner_kill(runner_t *r);
/* close everything and free buffers; the child must be reaped or killed */
void runner_free(runner_t *r);
/* free the read buffer all runners share (agent shutdown) */
void runner_free_buffer(void);

/* "exit code N" / "killed by signal N (NAME)" */
void runner_describe_exit(int wstatus, char *buf, size_t buflen);

#endif /* BPFTRACE_RUNNER_H */
