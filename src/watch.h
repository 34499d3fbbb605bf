/*
 * watch: the autostart folders.  Scans them for *.bt files, checks that
 * folder and file are writable by root alone (and not symlinks leading out
 * of the folder), and watches them with inotify so files that appear,
 * change or go are reported while the agent runs.
 */
#ifndef BPFTRACE_WATCH_H
#define BPFTRACE_WATCH_H

#include <stddef.h>
#include <time.h>

#define WATCH_MAX_DIRS	4
#define WATCH_MAX_NAME	64	/* longest name watch_name_from_file() makes */

typedef enum { WATCH_ADDED, WATCH_CHANGED, WATCH_REMOVED } watch_event_t;

/*
 * Called for each change found by watch_scan(): path of the file, its
 * name (file stem made a valid metric-name component), its text (ADDED
 * and CHANGED only; len bytes, NUL terminated).  A digest of 0 marks a
 * file the callback refused.
 */
typedef int (*watch_cb_t)(void *arg, watch_event_t ev, const char *path,
		const char *name, const char *text, size_t len);
/*
 * The callback returns 0 when it took the file, negative when it refused
 * it (e.g. its name is taken for now): a refused file is offered again,
 * as WATCH_CHANGED, on every later scan until it is taken.
 */

typedef struct watch_file {
    char	*path;
    char	*name;
    unsigned long long	digest;		/* of the text, to tell real changes */
    int		seen;
} watch_file_t;

typedef struct watch {
    char	*dirs[WATCH_MAX_DIRS];
    int		ndirs;
    int		fd;		/* inotify fd, -1 when unavailable */
    int		wd[WATCH_MAX_DIRS];
    int		pending;	/* an event asked for a rescan */
    watch_file_t *files;
    int		nfiles;
    long	max_size;	/* larger files are refused */
    struct watch_refusal *refused;	/* refusals already logged, by path */
    int		nrefused;
    int		dir_state[WATCH_MAX_DIRS];	/* last logged state of each folder */
} watch_t;

int watch_init(watch_t *w, const char **dirs, int ndirs, long max_size);
/* fd to poll for input, -1 if none (then rescan on a timer) */
int watch_fd(const watch_t *w);
/* drain inotify events; returns 1 when a rescan is due */
int watch_read(watch_t *w);
/* rescan all folders and report differences through cb */
void watch_scan(watch_t *w, watch_cb_t cb, void *arg);
void watch_free(watch_t *w);

/*
 * Stem of a file name made a valid metric-name component: characters
 * outside [A-Za-z0-9_] become '_', a name not starting with a letter gets
 * a "bt_" prefix.  Returns -1 when the result would be empty or too long.
 */
int watch_name_from_file(const char *file, char *buf, size_t buflen);

/* 0 if path (a file or folder) is writable by root alone, else -1 with a reason */
int watch_root_only(const char *path, char *why, size_t whylen);

#endif /* BPFTRACE_WATCH_H */
