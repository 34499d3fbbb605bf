/*
 * pmdabpftrace: a PCP agent that turns bpftrace scripts into metrics.
 *
 * This file holds the dispatch table, start-up and the poll loop; the
 * stages data takes are one file each:
 *   config.c      bpftrace.conf
 *   watch.c       the autostart folders (drop-in scripts)
 *   control.c     the pmstore API and per-context answers
 *   script.c      scripts, their state, and the registry
 *   tokenizer.c   bpftrace source -> variables and annotations
 *   runner.c      bpftrace child processes and their pipes
 *   parser.c      bpftrace JSON lines -> variable updates
 *   variables.c   values and instance ids of each variable
 *   namespace.c   dynamic PMNS, PMIDs, help text, labels
 *
 * Nothing here waits on a child: one poll(2) covers pmcd's descriptor, a
 * signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP), the folder watch and every
 * child's pipes; housekeeping runs from the poll timeout.
 *
 * Debug options: appl0 - script lifecycle, appl1 - bpftrace output lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <pcp/pmapi.h>
#include <pcp/pmda.h>
#include "config.h"
#include "control.h"
#include "fetch.h"
#include "../domain.h"
#include "namespace.h"
#include "pdu.h"
#include "runner.h"
#include "script.h"
#include "tracepoints.h"
#include "watch.h"

#define BPFTRACE_RESCAN_SECS	5	/* folder rescan without inotify, and to find new folders */
#define BPFTRACE_POLL_MAX_ERRORS	10	/* poll failures in a row that end the agent */
#define BPFTRACE_READY_WAIT_SECS	10	/* READY waits this long at most for bpftrace -l */
#define BPFTRACE_MAX_DIRS	WATCH_MAX_DIRS

static config_t		bpftrace_config;
static watch_t		bpftrace_watch;
static char		*bpftrace_dirs[BPFTRACE_MAX_DIRS];
static int		bpftrace_ndirs;
static char		bpftrace_conffile[MAXPATHLEN];
static char		bpftrace_mapfile[MAXPATHLEN];
static int		bpftrace_send_ready = 1;
static int		bpftrace_names_changed;
static double		bpftrace_ready_due;	/* READY is owed by then; 0 when sent */

static pmLongOptions	longopts[] = {
    PMDA_OPTIONS_HEADER("Options"),
    PMOPT_DEBUG,
    PMDAOPT_DOMAIN,
    PMDAOPT_LOGFILE,
    { "config", 1, 'c', "FILE", "configuration file [default $PCP_PMDAS_DIR/bpftrace/bpftrace.conf]" },
    { "autostart", 1, 'A', "DIR", "folder of drop-in scripts (repeat for more) [default the two of PCP]" },
    { "map", 1, 'M', "FILE", "saved PMID cluster map [default $PCP_VAR_DIR/config/pmda/151.clusters]" },
    { "no-ready", 0, 'R', 0, "do not send READY: pmcd.conf does not say notready" },
    PMOPT_HELP,
    PMDA_OPTIONS_END
};

static pmdaOptions	opts = {
    .short_options = "c:A:D:d:l:M:R?",
    .long_options = longopts,
};

/* ---- the dispatch table ---- */

static void
bpftrace_names_check(pmdaExt *pmda)
{
    if (ns_sync(pmda))
	bpftrace_names_changed = 1;
}

static int
bpftrace_fetchCallBack(pmdaMetric *mdesc, unsigned int inst, pmAtomValue *atom)
{
    unsigned int	cluster = pmID_cluster(mdesc->m_desc.pmid);
    unsigned int	item = pmID_item(mdesc->m_desc.pmid);
    script_t		*s;

    if (cluster == NS_CLUSTER_CONTROL) {
	atom->cp = (char *)control_answer(pmdaGetContext(), item);
	return PMDA_FETCH_STATIC;
    }
    if (cluster == NS_CLUSTER_INFO) {
	switch (item) {
	case NS_INFO_SCRIPTS:
	    if ((s = ns_script(inst)) == NULL)
		return PM_ERR_INST;
	    atom->cp = s->code;
	    return PMDA_FETCH_STATIC;
	case NS_INFO_SCRIPTS_JSON:
	    atom->cp = (char *)control_scripts_json();
	    return PMDA_FETCH_STATIC;
	case NS_INFO_TRACEPOINTS:
	    atom->cp = (char *)tracepoints_value();
	    return PMDA_FETCH_STATIC;
	}
	return PM_ERR_PMID;
    }
    if ((s = ns_script(cluster)) == NULL)
	return PM_ERR_PMID;
    switch (item) {
    case NS_SCRIPT_STATUS:	atom->cp = (char *)script_status_name(s->status); break;
    case NS_SCRIPT_PID:		atom->ul = s->pid > 0 ? (uint32_t)s->pid : 0; break;
    case NS_SCRIPT_EXIT_CODE:	atom->l = s->exit_code; break;
    case NS_SCRIPT_ERROR:	atom->cp = (char *)script_error(s); break;
    case NS_SCRIPT_PROBES:	atom->ul = s->pt.probes; break;
    case NS_SCRIPT_CODE:	atom->cp = s->code; break;
    case NS_SCRIPT_DATA_BYTES:	atom->ul = (uint32_t)s->data_bytes; break;
    case NS_SCRIPT_RESTARTS:	atom->ul = s->restarts; break;
    case NS_SCRIPT_LAST_EXIT:	atom->cp = s->last_exit; break;
    case NS_SCRIPT_DROPPED_KEYS: {
	uint64_t dropped = 0;
	int i;
	for (i = 0; i < s->pt.nvars; i++)
	    dropped += s->pt.vars[i].dropped;
	atom->ull = dropped;
	break;
    }
    case NS_SCRIPT_PARSE_ERRORS: atom->ull = s->pt.parse_errors; break;
    case NS_SCRIPT_LOST_EVENTS:	atom->ull = s->pt.lost_events; break;
    case NS_SCRIPT_RUNTIME_ERRORS: atom->ull = s->pt.runtime_errors; break;
    default:
	if (mdesc->m_user == NULL)
	    return PM_ERR_PMID;
	return var_fetch((const variable_t *)mdesc->m_user, inst, atom);
    }
    return PMDA_FETCH_STATIC;
}

static int
bpftrace_fetch(int numpmid, pmID *pmidlist, pmdaResult **resp, pmdaExt *pmda)
{
    script_t	*s;
    int		i;

    bpftrace_names_check(pmda);
    if (bpftrace_names_changed) {
	pmdaExtSetFlags(pmda, PMDA_EXT_NAMES_CHANGE);
	bpftrace_names_changed = 0;
    }
    /*
     * Map prints wait unparsed until a fetch asks for them (parse_offer):
     * parse those of the scripts fetched, then hand pmdaFetch the
     * instance domains that parsing may have changed.  A fetch of any
     * of a script's metrics (data or state, as in the Python agent, whose
     * refresh touches every cluster fetched) keeps it from expiring.
     */
    for (i = 0; i < numpmid; i++) {
	if ((s = ns_script(pmID_cluster(pmidlist[i]))) == NULL)
	    continue;
	script_flush(s);
	script_touch(s);
    }
    ns_refresh_indoms(pmda);
    return fetch_values(numpmid, pmidlist, resp, pmda);
}

static int
bpftrace_desc(pmID pmid, pmDesc *desc, pmdaExt *pmda)
{
    bpftrace_names_check(pmda);
    return pmdaDesc(pmid, desc, pmda);
}

static int
bpftrace_instance(pmInDom indom, int inst, char *name, pmInResult **result, pmdaExt *pmda)
{
    script_flush_all();		/* then the indoms, in bpftrace_names_check */
    bpftrace_names_check(pmda);
    return pmdaInstance(indom, inst, name, result, pmda);
}

/*
 * libpcp_pmda's PDU_RESULT handler (mainloop.c, from PCP 6.0 to at least
 * 7.2) decodes a store into value sets that live in one pinned PDU buffer,
 * starting at vset[0], and then drops the result with numpmid set to 0,
 * so that buffer is never unpinned: every pmstore, refused ones included,
 * leaked it (some 100 bytes plus the text stored).  The store unpins it
 * once done with the values.  Only with the versions read to have that
 * code: a libpcp_pmda that frees the result itself would free it twice.
 * The same versions send each fetch answer with __pmSendResult() right
 * after the fetch callback, which pdu.c relies on.
 */
extern int __pmUnpinPDUBuf(void *);	/* libpcp's, exported since PCP 3.0 */
#define BPFTRACE_READ_FROM	PM_VERSION(6,0,0)
#define BPFTRACE_READ_BEFORE	PM_VERSION(7,3,0)

static int	bpftrace_pmda_read;	/* libpcp_pmda is one of those versions */

/* the running PCP's version (pcp.conf's PCP_VERSION), 0 if unknown */
static int
bpftrace_pcp_version(void)
{
    const char	*v = pmGetOptionalConfig("PCP_VERSION");
    int		major, minor, patch;

    if (v == NULL || sscanf(v, "%d.%d.%d", &major, &minor, &patch) != 3)
	return 0;
    return PM_VERSION(major, minor, patch);
}

static int
bpftrace_store(pmdaResult *result, pmdaExt *pmda)
{
    int		sts;

    bpftrace_names_check(pmda);
    sts = control_store(result, pmda);
    /* new names must resolve at once: the next request may ask for them */
    bpftrace_names_check(pmda);
    if (bpftrace_pmda_read && result->numpmid > 0)
	__pmUnpinPDUBuf(result->vset[0]);	/* the values are gone now */
    return sts;
}

static int
bpftrace_pmid(const char *name, pmID *pmid, pmdaExt *pmda)
{
    bpftrace_names_check(pmda);
    return ns_pmid(name, pmid, pmda);
}

static int
bpftrace_name(pmID pmid, char ***nameset, pmdaExt *pmda)
{
    bpftrace_names_check(pmda);
    return ns_name(pmid, nameset, pmda);
}

static int
bpftrace_children(const char *name, int traverse, char ***kids, int **sts, pmdaExt *pmda)
{
    bpftrace_names_check(pmda);
    return ns_children(name, traverse, kids, sts, pmda);
}

static int
bpftrace_text(int ident, int type, char **buffer, pmdaExt *pmda)
{
    bpftrace_names_check(pmda);
    return ns_text(ident, type, buffer, pmda);
}

static int
bpftrace_label(int ident, int type, pmLabelSet **lpp, pmdaExt *pmda)
{
    if (type & PM_LABEL_INSTANCES)
	script_flush_all();	/* then the indoms, in bpftrace_names_check */
    bpftrace_names_check(pmda);
    return ns_label(ident, type, lpp, pmda);
}

/* ---- the poll loop ---- */

/*
 * What the process inherits across exec and could break the agent's
 * children: an ignored SIGCHLD (the kernel would then reap them itself,
 * and the agent would never see one exit), and closed descriptors 0 to 2
 * (a pipe made for a child could take one of those numbers, and its dup2
 * onto the child's stdin or stdout would go wrong).
 */
static void
bpftrace_sane_process(void)
{
    struct sigaction	sa;
    int			fd;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    for (fd = 0; fd <= 2; fd++)
	if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
	    break;
}

static int
bpftrace_signalfd(void)
{
    sigset_t	mask;

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void
bpftrace_reap(void)
{
    pid_t	pid;
    int		wstatus;

    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
	if (!tracepoints_reaped(pid, wstatus))
	    script_reaped(pid, wstatus);
    }
}

/* returns 0 to go on, 1 to exit */
static int
bpftrace_signals(int sfd)
{
    struct signalfd_siginfo si;
    int		quit = 0;

    while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
	switch (si.ssi_signo) {
	case SIGCHLD:
	    break;
	case SIGHUP:
	    bpftrace_watch.pending = 1;
	    break;
	default:
	    pmNotifyErr(LOG_INFO, "caught signal %d, exiting", si.ssi_signo);
	    quit = 1;
	    break;
	}
    }
    bpftrace_reap();
    return quit;
}

/*
 * READY once bpftrace -l has listed the probes, as the Python agent lists
 * them before it connects: a client that asks at once (grafana-pcp's
 * editor fetches bpftrace.info.tracepoints once and keeps it) must not
 * get an empty list.  pmcd serves every other agent meanwhile, and tells
 * our clients we are not ready; a lister that hangs holds READY back for
 * BPFTRACE_READY_WAIT_SECS at most.
 */
static void
bpftrace_ready(pmdaInterface *dp, double now, int *timeout)
{
    int		ms;

    if (bpftrace_ready_due == 0)
	return;
    if (tracepoints_pending() && now < bpftrace_ready_due) {
	ms = (int)((bpftrace_ready_due - now) * 1000) + 1;
	if (*timeout < 0 || ms < *timeout)
	    *timeout = ms;
	return;
    }
    bpftrace_ready_due = 0;
    pmdaSendError(dp, PM_ERR_PMDAREADY);
    if (tracepoints_pending())
	pmNotifyErr(LOG_INFO, "Ready to process requests (bpftrace -l still listing probes after %d s).",
		    BPFTRACE_READY_WAIT_SECS);
    else
	pmNotifyErr(LOG_INFO, "Ready to process requests.");
}

static void
bpftrace_loop(pmdaInterface *dp)
{
    enum { FD_PMCD, FD_SIGNAL, FD_WATCH, FD_FIXED };
    struct pollfd	*pfd = NULL;
    script_t		**owner = NULL;
    int			maxfds = 0, sfd, infd = __pmdaInFd(dp);
    int			n, ntp, nscript, timeout, sts, poll_errors = 0;
    double		now, next_scan = script_now() + BPFTRACE_RESCAN_SECS;

    if ((sfd = bpftrace_signalfd()) < 0) {
	pmNotifyErr(LOG_ERR, "signalfd: %s", pmErrStr(-oserror()));
	return;
    }
    for (;;) {
	int want;

	now = script_now();
	timeout = script_housekeeping(now);
	bpftrace_ready(dp, now, &timeout);
	if (bpftrace_watch.pending || now >= next_scan) {
	    /* clears pending, or sets it again to retry after out-of-memory */
	    watch_scan(&bpftrace_watch, control_dropin, NULL);
	    next_scan = now + BPFTRACE_RESCAN_SECS;
	}
	bpftrace_names_check(dp->version.any.ext);

	/*
	 * Sized after the scan, which may add scripts: every runner, those
	 * of deregistered scripts still stopping included (their pipes must
	 * still be drained), plus the tracepoint lister's.  Grown with room
	 * to spare, so a few more scripts do not mean a realloc each.
	 */
	want = FD_FIXED + RUNNER_MAX_POLLFDS * (script_runners() + 1);
	if (want > maxfds) {
	    int		size = want + RUNNER_MAX_POLLFDS * 64;
	    struct pollfd *p = realloc(pfd, size * sizeof(*pfd));
	    script_t	**o = realloc(owner, size * sizeof(*owner));

	    if (p) pfd = p;
	    if (o) owner = o;
	    if (p == NULL || o == NULL) {
		pmNoMem("poll table", size * sizeof(*pfd), PM_RECOV_ERR);
		break;
	    }
	    maxfds = size;
	}

	pfd[FD_PMCD].fd = infd;
	pfd[FD_SIGNAL].fd = sfd;
	pfd[FD_WATCH].fd = watch_fd(&bpftrace_watch);
	for (n = 0; n < FD_FIXED; n++) {
	    pfd[n].events = POLLIN;
	    pfd[n].revents = 0;
	}
	ntp = tracepoints_pollfds(pfd + FD_FIXED);
	nscript = script_pollfds(pfd + FD_FIXED + ntp, maxfds - FD_FIXED - ntp, owner);

	sts = poll(pfd, FD_FIXED + ntp + nscript, timeout);
	if (sts < 0) {
	    if (errno == EINTR)
		continue;
	    /*
	     * A debugger that calls a function in the agent while it sleeps
	     * here makes poll fail once with a kernel-internal code (516,
	     * ERESTART_RESTARTBLOCK); ending the agent for that would restart
	     * every script.  Only an error that persists (EBADF, EINVAL,
	     * ENOMEM ...) ends the loop.
	     */
	    sts = -oserror();
	    if (++poll_errors < BPFTRACE_POLL_MAX_ERRORS) {
		pmNotifyErr(LOG_ERR, "poll: %s, retrying", pmErrStr(sts));
		continue;
	    }
	    pmNotifyErr(LOG_ERR, "poll: %s, %d times in a row", pmErrStr(sts), poll_errors);
	    break;
	}
	poll_errors = 0;
	/* pmcd first: a flood of script output must not delay its answers */
	if (pfd[FD_PMCD].revents) {
	    if (__pmdaMainPDU(dp) < 0)
		break;		/* pmcd closed the pipe */
	}
	if (pfd[FD_WATCH].fd >= 0 && pfd[FD_WATCH].revents && watch_read(&bpftrace_watch))
	    bpftrace_watch.pending = 1;
	now = script_now();	/* poll may have slept */
	if (ntp)
	    tracepoints_io(pfd + FD_FIXED, ntp, now);
	if (nscript)
	    script_io(pfd + FD_FIXED + ntp, nscript, owner, now);
	/*
	 * Signals after the pipes: reaping frees stopped scripts, which
	 * owner[] (filled before poll) may still point to.
	 */
	if (pfd[FD_SIGNAL].revents && bpftrace_signals(sfd))
	    break;
	/* children may have exited while we read their pipes */
	bpftrace_reap();
    }
    free(pfd);
    free(owner);
    close(sfd);
}

/* ---- start-up ---- */

static void
bpftrace_default_paths(void)
{
    char	*pmdas = pmGetConfig("PCP_PMDAS_DIR");
    char	*sysconf = pmGetConfig("PCP_SYSCONF_DIR");
    char	*var = pmGetConfig("PCP_VAR_DIR");
    char	path[MAXPATHLEN];

    if (bpftrace_conffile[0] == '\0')
	pmsprintf(bpftrace_conffile, sizeof(bpftrace_conffile), "%s/bpftrace/bpftrace.conf", pmdas);
    if (bpftrace_mapfile[0] == '\0')
	pmsprintf(bpftrace_mapfile, sizeof(bpftrace_mapfile), "%s/config/pmda/%d.clusters", var, BPFTRACE);
    if (bpftrace_ndirs == 0) {
	pmsprintf(path, sizeof(path), "%s/bpftrace/autostart", sysconf);
	bpftrace_dirs[bpftrace_ndirs++] = strdup(path);
	pmsprintf(path, sizeof(path), "%s/bpftrace/autostart", pmdas);
	bpftrace_dirs[bpftrace_ndirs++] = strdup(path);
    }
}

static void
bpftrace_init(pmdaInterface *dp)
{
    pmdaMetric	*metrics;
    pmdaIndom	*indoms;
    int		nmetrics, nindoms, version, sts;

    if (dp->status != 0)
	return;
    config_defaults(&bpftrace_config);
    if ((sts = config_load(&bpftrace_config, bpftrace_conffile)) < 0)
	pmNotifyErr(LOG_ERR, "cannot read %s: %s, using defaults", bpftrace_conffile, pmErrStr(sts));
    script_registry_init(&bpftrace_config);
    control_init(&bpftrace_config);
    if ((sts = ns_init(dp, bpftrace_mapfile)) < 0) {
	dp->status = sts;
	return;
    }

    dp->version.seven.fetch = bpftrace_fetch;
    dp->version.seven.desc = bpftrace_desc;
    dp->version.seven.instance = bpftrace_instance;
    dp->version.seven.store = bpftrace_store;
    dp->version.seven.profile = fetch_set_profile;
    version = bpftrace_pcp_version();
    bpftrace_pmda_read = version >= BPFTRACE_READ_FROM && version < BPFTRACE_READ_BEFORE;
    pdu_enable(bpftrace_pmda_read);
    if (pmDebugOptions.appl0)
	pmNotifyErr(LOG_DEBUG, "PCP version %#x: a store %s its PDU buffer, fetch answers are encoded by %s",
		    version, bpftrace_pmda_read ? "unpins" : "leaves libpcp_pmda to free",
		    bpftrace_pmda_read ? "the agent" : "libpcp");
    dp->version.seven.text = bpftrace_text;
    dp->version.seven.pmid = bpftrace_pmid;
    dp->version.seven.name = bpftrace_name;
    dp->version.seven.children = bpftrace_children;
    dp->version.seven.attribute = control_attribute;
    dp->version.seven.label = bpftrace_label;
    pmdaSetFetchCallBack(dp, bpftrace_fetchCallBack);
    pmdaSetEndContextCallBack(dp, control_end_context);
    pmdaSetResultCallBack(dp, fetch_result_free);
    pmdaSetCommFlags(dp, PMDA_FLAG_AUTHORIZE);

    metrics = ns_metrics(&nmetrics);
    indoms = ns_indoms(&nindoms);
    pmdaInit(dp, indoms, nindoms, metrics, nmetrics);
}

int
main(int argc, char **argv)
{
    pmdaInterface	dispatch;
    int			c, sts;

    bpftrace_sane_process();
    pmSetProgname(argv[0]);
    pmdaDaemon(&dispatch, PMDA_INTERFACE_7, (char *)pmGetProgname(), BPFTRACE,
		"bpftrace.log", NULL);
    while ((c = pmdaGetOptions(argc, argv, &opts, &dispatch)) != EOF) {
	switch (c) {
	case 'c':
	    pmstrncpy(bpftrace_conffile, sizeof(bpftrace_conffile), opts.optarg);
	    break;
	case 'A':
	    if (bpftrace_ndirs < BPFTRACE_MAX_DIRS)
		bpftrace_dirs[bpftrace_ndirs++] = strdup(opts.optarg);
	    break;
	case 'M':
	    pmstrncpy(bpftrace_mapfile, sizeof(bpftrace_mapfile), opts.optarg);
	    break;
	case 'R':
	    bpftrace_send_ready = 0;
	    break;
	default:
	    opts.errors++;
	}
    }
    if (opts.errors) {
	pmdaUsageMessage(&opts);
	exit(1);
    }
    bpftrace_default_paths();
    pmdaOpenLog(&dispatch);
    if (bpftrace_send_ready)
	pmNotifyErr(LOG_INFO, "Initializing, currently in 'notready' state.");
    bpftrace_init(&dispatch);
    if (dispatch.status != 0) {
	pmNotifyErr(LOG_ERR, "initialisation failed: %s", pmErrStr(dispatch.status));
	exit(1);
    }
    pmdaConnect(&dispatch);
    if (dispatch.status != 0)
	exit(1);

    /* drop-in scripts start now; bpftrace compiles them in the background */
    watch_init(&bpftrace_watch, (const char **)bpftrace_dirs, bpftrace_ndirs,
		bpftrace_config.max_script_size);
    watch_scan(&bpftrace_watch, control_dropin, NULL);
    bpftrace_names_check(dispatch.version.any.ext);
    bpftrace_names_changed = 0;
    if ((sts = tracepoints_start(bpftrace_config.bpftrace_path)) < 0)
	pmNotifyErr(LOG_WARNING, "cannot list probes with %s: %s",
			bpftrace_config.bpftrace_path, pmErrStr(sts));
    if (bpftrace_send_ready)
	bpftrace_ready_due = script_now() + BPFTRACE_READY_WAIT_SECS;	/* bpftrace_ready() */

    bpftrace_loop(&dispatch);

    script_shutdown();
    tracepoints_free();
    runner_free_buffer();
    watch_free(&bpftrace_watch);
    control_free();
    ns_free();
    fetch_free();
    config_free(&bpftrace_config);
    for (c = 0; c < bpftrace_ndirs; c++)
	free(bpftrace_dirs[c]);
    pmNotifyErr(LOG_INFO, "manager: shutdown pmdabpftrace process manager");
    exit(0);
}
