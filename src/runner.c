/*
 * runner: one bpftrace child process - see runner.h.
 *
 * Every descriptor is non-blocking and close-on-exec.  The child gets its
 * own process group (so SIGINT/SIGKILL reach anything bpftrace forks, e.g.
 * system()) and PR_SET_PDEATHSIG(SIGKILL), so that no bpftrace outlives
 * the agent even when the agent itself is killed with SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <pcp/pmapi.h>
#include "runner.h"

#define RUNNER_BUF_MIN		65536	/* the read buffer's first size */
#define RUNNER_READ_MIN		4095	/* smallest read: and a NUL */
#define RUNNER_KEEP_COPY	4096	/* a longer partial line keeps its buffer */
#define RUNNER_BUF_KEEP		(2 << 20)	/* a bigger shared buffer is freed when empty */
#define RUNNER_PIPE_SIZE	(1 << 20)	/* stdout pipe: a big map print in one write */
#define RUNNER_NICE		5	/* bpftrace's niceness above the agent's */
#define RUNNER_MAX_ERRLINE	4096

void
runner_init(runner_t *r, size_t max_line)
{
    memset(r, 0, sizeof(*r));
    r->pid = -1;
    r->in_fd = r->out_fd = r->err_fd = -1;
    r->max_line = max_line;
}

static void
runner_close(int *fd)
{
    if (*fd >= 0) {
	close(*fd);
	*fd = -1;
    }
}

/* in the child, between fork and exec: only async-signal-safe calls */
static void
runner_child(int in, int out, int err, char *const argv[], pid_t parent)
{
    static const char msg[] = "ERROR: cannot execute bpftrace: ";
    const char	*why;
    int		fd;

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)	/* the agent died before prctl */
	_exit(127);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
	_exit(127);
    for (fd = 3; fd < 1024; fd++)
	close(fd);
    /*
     * Below the agent: fifty scripts compiling at once must not starve
     * pmcd and the agent's answers (the probes themselves run in the
     * kernel, at the traced task's priority).  Best effort.
     */
    (void)!nice(RUNNER_NICE);
    execvp(argv[0], argv);
    why = strerror(errno);
    if (write(2, msg, sizeof(msg) - 1) > 0 && write(2, why, strlen(why)) > 0)
	(void)!write(2, "\n", 1);
    _exit(127);
}

int
runner_start(runner_t *r, char *const argv[], const char *text, size_t len)
{
    int		fds[6] = { -1, -1, -1, -1, -1, -1 };
    int		*in = fds, *out = fds + 2, *err = fds + 4, i, sts;
    sigset_t	all, old;
    pid_t	parent = getpid(), pid;
    char	*input = NULL;

    if (r->pid >= 0)
	return -EBUSY;
    /* before the fork: a child started then killed would count as a run */
    if (len > 0) {
	if ((input = malloc(len)) == NULL)
	    return -ENOMEM;
	memcpy(input, text, len);
    }
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	pipe2(err, O_CLOEXEC) < 0) {
	sts = -oserror();
	goto fail;
    }
    /* the agent blocks signals it reads from a signalfd; the child must not */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	runner_child(in[0], out[1], err[1], argv, parent);
    }
    sts = pid < 0 ? -oserror() : 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    runner_close(&in[0]);		/* the child's ends */
    runner_close(&out[1]);
    runner_close(&err[1]);
    if (pid < 0)
	goto fail;
    /* also from this side: no race with the child's own setpgid */
    setpgid(pid, pid);
    r->pid = pid;
    r->in_fd = in[1];
    r->out_fd = out[0];
    r->err_fd = err[0];
    fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(r->out_fd, F_SETFL, O_NONBLOCK);
    /*
     * bpftrace writes a map print as one write; with the default 64 KB
     * pipe it blocks on every 64 KB and the agent wakes for each piece.
     * Pages are only used while data waits, so a big pipe costs nothing
     * idle.  Best effort: fs.pipe-max-size or the user's pipe quota may
     * refuse it.
     */
    (void)fcntl(r->out_fd, F_SETPIPE_SZ, RUNNER_PIPE_SIZE);
    fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
    r->exited = 0;
    r->wstatus = 0;
    r->kill_at = 0;
    r->stopping = 0;
    r->out_hold = r->out_drained = 0;
    r->out_bytes = 0;
    r->out.len = r->err.len = 0;
    r->out.skipped = r->err.skipped = 0;
    free(r->input);
    r->input = input;
    r->inoff = 0;
    r->inlen = len;
    return 0;

fail:
    for (i = 0; i < 6; i++)
	runner_close(&fds[i]);
    free(input);
    return sts;
}

int
runner_active(const runner_t *r)
{
    return r->pid >= 0;
}

int
runner_pollfds(const runner_t *r, struct pollfd *pfd)
{
    int		n = 0;

    if (r->in_fd >= 0) {
	pfd[n].fd = r->in_fd;
	pfd[n].events = POLLOUT;
	pfd[n++].revents = 0;
    }
    if (r->out_fd >= 0 && r->out_hold <= 0) {
	pfd[n].fd = r->out_fd;
	pfd[n].events = POLLIN;
	pfd[n++].revents = 0;
    }
    if (r->err_fd >= 0) {
	pfd[n].fd = r->err_fd;
	pfd[n].events = POLLIN;
	pfd[n++].revents = 0;
    }
    return n;
}

static void
runner_write_input(runner_t *r)
{
    ssize_t	n;

    while (r->in_fd >= 0 && r->inoff < r->inlen) {
	n = write(r->in_fd, r->input + r->inoff, r->inlen - r->inoff);
	if (n < 0) {
	    if (errno == EINTR)
		continue;
	    if (errno == EAGAIN)
		return;
	    break;		/* EPIPE: the child is gone, its exit tells why */
	}
	r->inoff += n;
    }
    /* EOF on stdin is what makes bpftrace start compiling */
    runner_close(&r->in_fd);
    free(r->input);
    r->input = NULL;
}

/*
 * One read buffer serves every runner: the agent reads one pipe at a
 * time and hands complete lines on straight from here, so between reads
 * a runner keeps only its partial last line.  Fifty idle scripts then hold
 * no line buffers at all.  A small partial line is copied out; a big one
 * (a map print longer than the pipe holds, read in pieces) keeps the
 * buffer it is in, which goes back to being the shared buffer at the
 * runner's next read, so no piece is copied twice.
 */
static runner_buf_t	runner_scratch;

/*
 * Make room to read at least RUNNER_READ_MIN more bytes (and the NUL a
 * complete line gets) after b->len.  The buffer grows by doubling, so a
 * big map print ends up read in one call; it stays below twice max_line
 * of the runner with the longest lines, since a longer line is dropped.
 */
static int
runner_room(runner_buf_t *b)
{
    size_t	size;
    char	*p;

    if (b->size >= b->len + RUNNER_READ_MIN + 1)
	return 0;
    size = b->size ? 2 * b->size : RUNNER_BUF_MIN;
    while (size < b->len + RUNNER_READ_MIN + 1)
	size *= 2;
    if ((p = realloc(b->data, size)) == NULL)
	return -ENOMEM;
    b->data = p;
    b->size = size;
    return 0;
}

/*
 * Start a read for b in the shared buffer: b's partial line moves to its
 * front, or b's own buffer becomes the shared one.  Without memory for
 * that, the partial line is dropped as an over-long one would be.
 */
static void
runner_take(runner_buf_t *b)
{
    runner_buf_t	*w = &runner_scratch;

    w->len = 0;
    w->skipped = b->skipped;
    if (b->len > RUNNER_KEEP_COPY) {
	free(w->data);
	w->data = b->data;
	w->size = b->size;
	w->len = b->len;
	memset(b, 0, sizeof(*b));
	return;
    }
    if (b->len > 0) {
	w->len = b->len;
	if (runner_room(w) == 0)
	    memcpy(w->data, b->data, b->len);
	else {
	    w->skipped += b->len;
	    w->len = 0;
	}
    }
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/*
 * End a read for b: it keeps the partial line left, a copy of a small
 * one or the whole buffer with a big one.  A shared buffer grown past
 * RUNNER_BUF_KEEP for one giant print is let go once it is empty.
 */
static void
runner_keep(runner_buf_t *b)
{
    runner_buf_t	*w = &runner_scratch;

    b->skipped = w->skipped;
    if (w->len > RUNNER_KEEP_COPY) {
	*b = *w;
	memset(w, 0, sizeof(*w));
	return;
    }
    if (w->len > 0) {
	if ((b->data = malloc(w->len)) == NULL)
	    b->skipped += w->len;	/* dropped at its newline */
	else {
	    memcpy(b->data, w->data, w->len);
	    b->len = b->size = w->len;
	}
    }
    w->len = w->skipped = 0;
    if (w->size > RUNNER_BUF_KEEP) {
	free(w->data);
	w->data = NULL;
	w->size = 0;
    }
}

/*
 * n new bytes were read into b->data after b->len: hand on each complete
 * line, in place (its newline becomes the NUL), and keep the partial last
 * line at the front of the buffer.  A line longer than limit is dropped
 * as a whole (reported once) rather than kept growing without bound.
 */
static void
runner_lines(runner_buf_t *b, size_t n, size_t limit,
	void (*cb)(void *, char *, size_t), void (*toolong)(void *, size_t),
	void *arg)
{
    char	*line = b->data;
    char	*p = b->data + b->len;
    char	*end = p + n;
    char	*nl;
    size_t	rest;

    while ((nl = memchr(p, '\n', end - p)) != NULL) {
	if (b->skipped || (size_t)(nl - line) > limit) {
	    if (toolong)
		toolong(arg, b->skipped + (nl - line));
	    b->skipped = 0;
	} else {
	    *nl = '\0';
	    cb(arg, line, nl - line);
	}
	line = p = nl + 1;
    }
    rest = end - line;
    if (b->skipped || rest > limit) {
	b->skipped += rest;		/* never 0: rest > limit >= 0 */
	b->len = 0;
    } else {
	if (line != b->data && rest > 0)
	    memmove(b->data, line, rest);
	b->len = rest;
    }
}

/*
 * Read what is there, up to budget bytes, into the shared buffer after
 * the partial line of b, and hand on the lines completed.  The callbacks
 * copy what they keep, and none of them reads a pipe, so the shared
 * buffer is never in use twice.  A read shorter than asked for emptied
 * the pipe: stop there rather than read again for EAGAIN, and return 1
 * (the pipe is still open); else 0.  final (the child is gone): read to
 * the end, and hand on a last line that has no newline, even when
 * something the child left behind still holds the pipe open (EAGAIN).
 */
static int
runner_read(runner_t *r, int *fd, runner_buf_t *rb, size_t limit, size_t budget,
	void (*cb)(void *, char *, size_t), void (*toolong)(void *, size_t),
	void *arg, int is_out, int final)
{
    runner_buf_t	*b = &runner_scratch;
    size_t		done = 0, room;
    ssize_t		n;
    int			drained = 0;

    runner_take(rb);

    while (*fd >= 0 && done < budget) {
	if (runner_room(b) < 0) {
	    /* no memory for the line: drop it, keep the pipe flowing */
	    b->skipped += b->len;
	    b->len = 0;
	    if (b->size < RUNNER_READ_MIN + 1)
		break;			/* no buffer at all: try later */
	}
	room = b->size - b->len - 1;
	if (room > budget - done)
	    room = budget - done;
	n = read(*fd, b->data + b->len, room);
	if (n < 0) {
	    if (errno == EINTR)
		continue;
	    if (errno == EAGAIN && !final)
		break;
	    n = 0;			/* the end, as far as we will read */
	}
	if (n == 0) {
	    if (b->len > 0 && !b->skipped) {	/* last line without newline */
		b->data[b->len] = '\0';
		cb(arg, b->data, b->len);
	    } else if (b->skipped && toolong) {	/* ... and over-long */
		toolong(arg, b->skipped);
	    }
	    b->len = b->skipped = 0;
	    runner_close(fd);
	    break;
	}
	if (is_out)
	    r->out_bytes += n;
	runner_lines(b, n, limit, cb, toolong, arg);
	done += n;
	if ((size_t)n < room && !final) {
	    drained = 1;
	    break;
	}
    }
    runner_keep(rb);
    return drained;
}

/*
 * A read at now emptied stdout, with no partial line left.  When that
 * happened twice within 2 * hold_secs, stdout is busy, and it rests
 * hold_secs (runner_pollfds leaves it out): a script that printf()s in
 * many small writes, 1,000 bursts a second, would otherwise wake the
 * agent for each, and the poll and two reads of every wake-up cost far
 * more than the lines.  The 1 MiB pipe holds the output meanwhile.  A
 * rest never starts while the pipe still has data, in the middle of a
 * line (a big map print arriving in pieces: the rest of it is on its
 * way), nor for a print once a second (or five times): the wake-up to
 * end the rest would cost more than it saves.
 */
static void
runner_rest(runner_t *r, double now)
{
    if (r->hold_secs <= 0)
	return;
    if (now - r->out_drained < 2 * r->hold_secs)
	r->out_hold = now + r->hold_secs;
    r->out_drained = now;
}

void
runner_io(runner_t *r, const struct pollfd *pfd, int n, size_t budget,
		double now, const runner_ops_t *ops, void *arg)
{
    int		i;

    for (i = 0; i < n; i++) {
	if (pfd[i].revents == 0)
	    continue;
	if (pfd[i].fd == r->in_fd)
	    runner_write_input(r);
	else if (pfd[i].fd == r->out_fd) {
	    if (runner_read(r, &r->out_fd, &r->out, r->max_line, budget,
			    ops->out_line, ops->too_long, arg, 1, 0) && r->out.len == 0)
		runner_rest(r, now);
	}
	else if (pfd[i].fd == r->err_fd)
	    runner_read(r, &r->err_fd, &r->err, RUNNER_MAX_ERRLINE, budget,
			ops->err_line, NULL, arg, 0, 0);
    }
}

void
runner_exited(runner_t *r, int wstatus, const runner_ops_t *ops, void *arg)
{
    r->exited = 1;
    r->wstatus = wstatus;
    r->kill_at = 0;
    /*
     * The child is gone but its last lines (the end-of-run map dump, the
     * error message) may still sit in the pipes.  Read them now: anything
     * it forked still holding the pipes is in its process group, killed.
     */
    if (r->pid > 0)
	kill(-r->pid, SIGKILL);
    runner_read(r, &r->out_fd, &r->out, r->max_line, (size_t)-1,
		ops->out_line, ops->too_long, arg, 1, 1);
    runner_read(r, &r->err_fd, &r->err, RUNNER_MAX_ERRLINE, (size_t)-1,
		ops->err_line, NULL, arg, 0, 1);
    runner_close(&r->in_fd);
    runner_close(&r->out_fd);
    runner_close(&r->err_fd);
    free(r->input);
    r->input = NULL;
    r->pid = -1;
}

void
runner_stop(runner_t *r, double now, int grace)
{
    /* exited: reaped, its last lines being read; its pid is no longer its */
    if (r->pid < 0 || r->exited)
	return;
    if (!r->stopping) {
	r->stopping = 1;
	kill(-r->pid, SIGINT);
	r->kill_at = now + (grace > 0 ? grace : 0);
    }
}

double
runner_timers(runner_t *r, double now)
{
    double	due = -1;

    if (r->out_hold > 0) {
	if (now >= r->out_hold)
	    r->out_hold = 0;
	else
	    due = r->out_hold - now;
    }
    if (r->pid < 0 || r->kill_at <= 0)
	return due;
    if (now >= r->kill_at) {
	kill(-r->pid, SIGKILL);
	r->kill_at = 0;
	return due;
    }
    return due < 0 || r->kill_at - now < due ? r->kill_at - now : due;
}

void
runner_kill(runner_t *r)
{
    if (r->pid > 0) {
	kill(-r->pid, SIGKILL);
	kill(r->pid, SIGKILL);
    }
}

void
runner_free_buffer(void)
{
    free(runner_scratch.data);
    memset(&runner_scratch, 0, sizeof(runner_scratch));
}

void
runner_free(runner_t *r)
{
    runner_close(&r->in_fd);
    runner_close(&r->out_fd);
    runner_close(&r->err_fd);
    free(r->input);
    free(r->out.data);
    free(r->err.data);
    r->input = r->out.data = r->err.data = NULL;
    r->out.size = r->err.size = 0;
}

void
runner_describe_exit(int wstatus, char *buf, size_t buflen)
{
    if (WIFEXITED(wstatus))
	pmsprintf(buf, buflen, "exit code %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus))
	pmsprintf(buf, buflen, "killed by signal %d (%s)", WTERMSIG(wstatus),
			strsignal(WTERMSIG(wstatus)));
    else
	pmsprintf(buf, buflen, "status 0x%x", wstatus);
}
