/*
 * watch: the autostart folders.
 *
 * Scripts found there run as root, so a file is only accepted when
 * nobody but root can have written it: the folder and the file must be
 * writable by root alone (upstream's exclusive_writable_by_root rule, and
 * owned by root), a symlink must stay inside its folder, and the text is
 * read from the very file descriptor that was checked.
 *
 * Every scan re-evaluates everything, so fixing a permission starts the
 * script on the next scan; refusals are logged once per distinct reason,
 * not once per scan.  inotify only says *when* to rescan; the scan itself
 * is the truth, which also covers folders created after the agent started
 * (the lead rescans on a timer too).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <pcp/pmapi.h>
#include <pcp/pmda.h>
#include "watch.h"

#define WATCH_MASK	(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | \
			 IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

/* what was last logged about a folder, to log changes only */
enum { WATCH_DIR_OK, WATCH_DIR_MISSING, WATCH_DIR_NOTROOT, WATCH_DIR_UNREADABLE };

/* a refusal already logged; forgotten once the file is gone or accepted */
typedef struct watch_refusal {
    char	*path;
    char	*why;
    int		seen;
} watch_refusal_t;

/* one accepted file of the scan in progress */
typedef struct watch_entry {
    char	*path;
    char	*name;
    char	*text;
    size_t	len;
    unsigned long long	digest;
} watch_entry_t;

typedef struct watch_list {
    watch_entry_t	*v;
    int			n;
} watch_list_t;

/* 64-bit FNV-1a: only has to tell an edited file from an untouched one */
static unsigned long long
watch_digest(const char *text, size_t len)
{
    unsigned long long	h = 0xcbf29ce484222325ULL;
    size_t		i;

    for (i = 0; i < len; i++) {
	h ^= (unsigned char)text[i];
	h *= 0x100000001b3ULL;
    }
    return h;
}

int
watch_name_from_file(const char *file, char *buf, size_t buflen)
{
    const char	*base, *dot;
    size_t	stem, i, n = 0;
    int		c;

    base = strrchr(file, '/');
    base = base ? base + 1 : file;
    /* Path(file).stem, as upstream names its autostart scripts */
    dot = strrchr(base, '.');
    stem = (dot && dot != base) ? (size_t)(dot - base) : strlen(base);
    if (dot == base && strcmp(base, ".bt") == 0)
	stem = 0;
    if (stem == 0)
	return -1;

    /* a metric name component must start with a letter */
    if (!((base[0] >= 'a' && base[0] <= 'z') || (base[0] >= 'A' && base[0] <= 'Z')))
	n = 3;
    if (n + stem > WATCH_MAX_NAME || n + stem + 1 > buflen)
	return -1;
    if (n)
	memcpy(buf, "bt_", 3);
    for (i = 0; i < stem; i++) {
	c = (unsigned char)base[i];
	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	      (c >= '0' && c <= '9') || c == '_'))
	    c = '_';
	buf[n++] = c;
    }
    buf[n] = '\0';
    return 0;
}

/*
 * Upstream's exclusive_writable_by_root(), plus: the owner must be root
 * (any owner can chmod u+w, write, and chmod back between two scans), and
 * a group-writable mode backed by a POSIX ACL is refused (then the group
 * bits are the ACL mask, and named users may hold write access).
 */
static int
watch_root_only_stat(const struct stat *st, int has_acl, const char *path,
		char *why, size_t whylen)
{
    if (st->st_uid != 0) {
	snprintf(why, whylen, "%s is owned by uid %u, not root",
		 path, (unsigned)st->st_uid);
	return -1;
    }
    if ((st->st_mode & S_IWGRP) && st->st_gid != 0) {
	snprintf(why, whylen, "%s is writable by group %u",
		 path, (unsigned)st->st_gid);
	return -1;
    }
    if (st->st_mode & S_IWOTH) {
	snprintf(why, whylen, "%s is world-writable", path);
	return -1;
    }
    if ((st->st_mode & S_IWGRP) && has_acl) {
	snprintf(why, whylen, "%s has an ACL that may grant write access", path);
	return -1;
    }
    return 0;
}

static int
watch_has_acl(const char *path, int fd)
{
    ssize_t	n;

    n = fd >= 0 ? fgetxattr(fd, "system.posix_acl_access", NULL, 0)
		: getxattr(path, "system.posix_acl_access", NULL, 0);
    return n > 0;
}

int
watch_root_only(const char *path, char *why, size_t whylen)
{
    struct stat	st;

    /* os.stat() as upstream: a symlink is judged by what it points to */
    if (stat(path, &st) < 0) {
	snprintf(why, whylen, "cannot stat %s: %s", path, strerror(errno));
	return -1;
    }
    return watch_root_only_stat(&st, watch_has_acl(path, -1), path, why, whylen);
}

/* the first folder watched through wd, -1 for none (a watch already dropped) */
static int
watch_dir_of(const watch_t *w, int wd)
{
    int		i;

    for (i = 0; i < w->ndirs; i++)
	if (w->wd[i] == wd)
	    return i;
    return -1;
}

/*
 * Watch whatever folder lives at dirs[i] now.  A watch follows the inode,
 * and the path can come to lead elsewhere with no event on that inode: a
 * parent folder renamed and made again, a symlink pointed at another
 * folder.  inotify_add_watch() returns the watch an inode already has, so
 * asking again on every scan is cheap, and a different answer means the
 * old folder is no longer ours to watch (unless another path leads to it).
 */
static int
watch_add(watch_t *w, int i)
{
    int		wd, old = w->wd[i];

    if (w->fd < 0)
	return -1;
    wd = inotify_add_watch(w->fd, w->dirs[i], WATCH_MASK | IN_ONLYDIR);
    w->wd[i] = wd;
    if (old >= 0 && old != wd && watch_dir_of(w, old) < 0)
	inotify_rm_watch(w->fd, old);
    return wd;
}

int
watch_init(watch_t *w, const char **dirs, int ndirs, long max_size)
{
    int		i;

    memset(w, 0, sizeof(*w));
    w->fd = -1;
    for (i = 0; i < WATCH_MAX_DIRS; i++)
	w->wd[i] = -1;
    if (ndirs < 0 || ndirs > WATCH_MAX_DIRS)
	return -EINVAL;
    /* config_t guarantees > 0; a nonsense value must not mean "no limit" */
    w->max_size = max_size > 0 ? max_size : 32768;
    for (i = 0; i < ndirs; i++) {
	if ((w->dirs[i] = strdup(dirs[i])) == NULL) {
	    watch_free(w);
	    return -ENOMEM;
	}
	w->ndirs++;
    }
    if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
	pmNotifyErr(LOG_INFO, "inotify unavailable (%s), autostart folders "
		    "are rescanned on a timer only", strerror(errno));
    /* a folder missing now gets its watch from a later watch_scan() */
    for (i = 0; i < w->ndirs; i++)
	watch_add(w, i);
    w->pending = 1;		/* nothing has been scanned yet */
    return 0;
}

int
watch_fd(const watch_t *w)
{
    return w->fd;
}

static int
watch_is_bt(const char *name)
{
    size_t	len = strlen(name);

    return len > 3 && strcmp(name + len - 3, ".bt") == 0;
}

/* one inotify event: does it call for a rescan? */
static int
watch_event(watch_t *w, const struct inotify_event *ev)
{
    int		i;

    if (ev->mask & IN_Q_OVERFLOW)
	return 1;		/* events were lost: anything may have changed */
    if ((i = watch_dir_of(w, ev->wd)) < 0)
	return 0;		/* a watch already dropped */
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
	/*
	 * The watch follows the inode, not the path: drop it so the next
	 * scan watches whatever folder then lives at the path.
	 */
	if (!(ev->mask & IN_IGNORED))
	    inotify_rm_watch(w->fd, w->wd[i]);
	w->wd[i] = -1;
	return 1;
    }
    if (ev->len == 0)
	return 1;		/* the folder itself, e.g. chmod */
    return watch_is_bt(ev->name);
}

int
watch_read(watch_t *w)
{
    char	buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    const struct inotify_event *ev;
    ssize_t	n;
    char	*p;

    if (w->fd < 0)
	return w->pending;
    for (;;) {
	n = read(w->fd, buf, sizeof(buf));
	if (n < 0 && errno == EINTR)
	    continue;
	if (n <= 0)
	    break;		/* EAGAIN: drained */
	for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
	    ev = (const struct inotify_event *)p;
	    if (watch_event(w, ev))
		w->pending = 1;
	}
    }
    return w->pending;
}

/* the refusal memory */

static watch_refusal_t *
watch_refusal_find(watch_t *w, const char *path)
{
    int		i;

    for (i = 0; i < w->nrefused; i++)
	if (strcmp(w->refused[i].path, path) == 0)
	    return &w->refused[i];
    return NULL;
}

/* remember that why was logged for path; on ENOMEM it is simply logged again */
static void
watch_refusal_note(watch_t *w, const char *path, const char *why)
{
    watch_refusal_t	*v;
    char		*p = strdup(path), *y = strdup(why);

    if (p == NULL || y == NULL ||
	(v = realloc(w->refused, (w->nrefused + 1) * sizeof(*v))) == NULL) {
	free(p);
	free(y);
	return;
    }
    w->refused = v;
    v[w->nrefused].path = p;
    v[w->nrefused].why = y;
    v[w->nrefused].seen = 1;
    w->nrefused++;
}

/* log a refusal of path unless this very reason was logged last time */
static void
watch_refuse(watch_t *w, const char *path, const char *fmt, ...)
{
    watch_refusal_t	*r;
    char		why[PATH_MAX + 256], *y;
    va_list		ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);

    if ((r = watch_refusal_find(w, path)) == NULL) {
	watch_refusal_note(w, path, why);
    } else {
	r->seen = 1;
	if (strcmp(r->why, why) == 0)
	    return;
	if ((y = strdup(why)) != NULL) {
	    free(r->why);
	    r->why = y;
	}
    }
    pmNotifyErr(LOG_ERR, "%s", why);
}

/* forget refusals of files now gone or accepted, so a new one is logged */
static void
watch_refusal_sweep(watch_t *w)
{
    int		i = 0;

    while (i < w->nrefused) {
	if (w->refused[i].seen) {
	    w->refused[i++].seen = 0;
	    continue;
	}
	free(w->refused[i].path);
	free(w->refused[i].why);
	w->refused[i] = w->refused[--w->nrefused];
    }
}

/* folder checks, logged when the verdict changes */

static void
watch_dir_state(watch_t *w, int i, int state, const char *why)
{
    const char	*dir = w->dirs[i];

    if (state == w->dir_state[i])
	return;
    if (state == WATCH_DIR_NOTROOT)
	pmNotifyErr(LOG_ERR, "Autostart directory %s must be exclusively "
		    "writable by root (%s)", dir, why);
    else if (state == WATCH_DIR_UNREADABLE)
	pmNotifyErr(LOG_ERR, "Autostart directory %s: %s", dir, why);
    else if (state == WATCH_DIR_OK &&
	     (w->dir_state[i] == WATCH_DIR_NOTROOT ||
	      w->dir_state[i] == WATCH_DIR_UNREADABLE))
	pmNotifyErr(LOG_INFO, "Autostart directory %s is usable again", dir);
    w->dir_state[i] = state;
}

/*
 * A failure that says nothing about the file or folder, only about this
 * moment (the agent is out of descriptors or memory, a read failed): what
 * was accepted before is kept as it was, and the next scan tries again.
 * Taking such a failure for a removal would stop every drop-in script of
 * an agent out of descriptors, and start them all again 5 s later.
 */
#define WATCH_TRANSIENT	(-3)

static int
watch_transient(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS ||
	   err == EAGAIN || err == EINTR || err == EIO;
}

/* 0 and dir's realpath in real when its scripts may be read */
static int
watch_dir_ok(watch_t *w, int i, char *real)
{
    const char	*dir = w->dirs[i];
    char	why[PATH_MAX + 128];
    struct stat	st;

    real[0] = '\0';
    if (stat(dir, &st) < 0) {
	if (watch_transient(errno))
	    return WATCH_TRANSIENT;
	if (errno == ENOENT) {
	    /* normal: a package may ship or create either folder later */
	    watch_dir_state(w, i, WATCH_DIR_MISSING, NULL);
	} else {
	    snprintf(why, sizeof(why), "%s", strerror(errno));
	    watch_dir_state(w, i, WATCH_DIR_UNREADABLE, why);
	}
	return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
	watch_dir_state(w, i, WATCH_DIR_UNREADABLE, "not a directory");
	return -1;
    }
    if (watch_root_only(dir, why, sizeof(why)) < 0) {
	watch_dir_state(w, i, WATCH_DIR_NOTROOT, why);
	return -1;
    }
    if (realpath(dir, real) == NULL) {
	real[0] = '\0';
	if (watch_transient(errno))
	    return WATCH_TRANSIENT;
	snprintf(why, sizeof(why), "%s", strerror(errno));
	watch_dir_state(w, i, WATCH_DIR_UNREADABLE, why);
	return -1;
    }
    watch_dir_state(w, i, WATCH_DIR_OK, NULL);
    return 0;
}

/* scandir() helpers: visible *.bt files, in byte order (not the locale's) */

static int
watch_filter(const struct dirent *d)
{
    /* glob("*.bt") skips dot files too (editor droppings) */
    return d->d_name[0] != '.' && watch_is_bt(d->d_name);
}

static int
watch_compare(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/*
 * Open path for reading if it is a regular file, or a symlink to one in
 * the same folder (realdir).  Returns the fd, -1 after logging a refusal,
 * or WATCH_TRANSIENT (errno says why).
 */
static int
watch_open(watch_t *w, const char *path, const char *realdir)
{
    char	real[PATH_MAX], *slash;
    struct stat	st;
    int		fd, nofollow = O_NOFOLLOW;

    if (lstat(path, &st) < 0) {
	if (watch_transient(errno))
	    return WATCH_TRANSIENT;
	watch_refuse(w, path, "Skipping autostart script %s: %s", path, strerror(errno));
	return -1;
    }
    if (S_ISLNK(st.st_mode)) {
	if (realpath(path, real) == NULL) {
	    if (watch_transient(errno))
		return WATCH_TRANSIENT;
	    watch_refuse(w, path, "Skipping autostart script %s: cannot "
			 "resolve symlink: %s", path, strerror(errno));
	    return -1;
	}
	slash = strrchr(real, '/');
	if (slash == NULL || (size_t)(slash - real) != strlen(realdir) ||
	    strncmp(real, realdir, slash - real) != 0) {
	    watch_refuse(w, path, "Skipping autostart script %s: symlink to "
			 "%s leads outside %s", path, real, realdir);
	    return -1;
	}
	if (stat(real, &st) < 0)
	    st.st_mode = 0;
	nofollow = 0;
    }
    /* before open(): opening a device or FIFO may block or have effects */
    if (!S_ISREG(st.st_mode)) {
	watch_refuse(w, path, "Skipping autostart script %s: not a regular file", path);
	return -1;
    }
    /* a plain file swapped for a symlink since lstat() fails with ELOOP */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | nofollow);
    if (fd < 0 && watch_transient(errno))
	return WATCH_TRANSIENT;
    if (fd < 0)
	watch_refuse(w, path, "Skipping autostart script %s: %s", path, strerror(errno));
    return fd;
}

/*
 * Read an opened script after checking the open file itself, so what is
 * checked is what runs.  0 with e->text set, -1 refused, -2 on ENOMEM,
 * WATCH_TRANSIENT (errno says why).
 */
static int
watch_read_script(watch_t *w, int fd, const char *path, watch_entry_t *e)
{
    char	why[PATH_MAX + 128];
    struct stat	st;
    size_t	len = 0, cap;
    ssize_t	n;
    char	*text, *more;

    if (fstat(fd, &st) < 0) {
	if (watch_transient(errno))
	    return WATCH_TRANSIENT;
	st.st_mode = 0;
    }
    if (!S_ISREG(st.st_mode)) {
	watch_refuse(w, path, "Skipping autostart script %s: not a regular file", path);
	return -1;
    }
    if (watch_root_only_stat(&st, watch_has_acl(NULL, fd), path, why, sizeof(why)) < 0) {
	watch_refuse(w, path, "Skipping autostart script %s: scripts must be "
		     "exclusively writable by root (%s)", path, why);
	return -1;
    }
    if (st.st_size > w->max_size) {
	watch_refuse(w, path, "Skipping autostart script %s: larger than %ld bytes",
		     path, w->max_size);
	return -1;
    }
    /* sized by fstat(), grown if the file grows meanwhile, up to one past the limit */
    cap = (size_t)st.st_size + 1;
    if ((text = malloc(cap + 1)) == NULL)
	return -2;
    for (;;) {
	if (len == cap) {
	    if (cap > (size_t)w->max_size)
		break;
	    cap = cap * 2 > (size_t)w->max_size + 1 ? (size_t)w->max_size + 1 : cap * 2;
	    if ((more = realloc(text, cap + 1)) == NULL) {
		free(text);
		return -2;
	    }
	    text = more;
	}
	n = read(fd, text + len, cap - len);
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0) {
	    int err = errno;

	    free(text);
	    if (watch_transient(err)) {
		errno = err;
		return WATCH_TRANSIENT;
	    }
	    watch_refuse(w, path, "Skipping autostart script %s: %s",
			 path, strerror(err));
	    return -1;
	}
	if (n == 0)
	    break;
	len += n;
    }
    if (len > (size_t)w->max_size) {
	watch_refuse(w, path, "Skipping autostart script %s: larger than %ld bytes",
		     path, w->max_size);
	free(text);
	return -1;
    }
    text[len] = '\0';
    e->text = text;
    e->len = len;
    e->digest = watch_digest(text, len);
    if (e->digest == 0)		/* 0 marks a refused file */
	e->digest = 1;
    return 0;
}

static void
watch_entry_free(watch_entry_t *e)
{
    free(e->path);
    free(e->name);
    free(e->text);
}

static void
watch_list_free(watch_list_t *l)
{
    int		i;

    for (i = 0; i < l->n; i++)
	watch_entry_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* e, named name, appended to cur, which then owns it; -2 on ENOMEM (e freed) */
static int
watch_list_add(watch_list_t *cur, watch_entry_t *e, const char *name)
{
    watch_entry_t	*v;

    if ((e->name = strdup(name)) == NULL ||
	(v = realloc(cur->v, (cur->n + 1) * sizeof(*v))) == NULL) {
	watch_entry_free(e);
	return -2;
    }
    cur->v = v;
    cur->v[cur->n++] = *e;
    return 0;
}

static int
watch_old_find(const watch_t *w, const char *path)
{
    int		i;

    for (i = 0; i < w->nfiles; i++)
	if (strcmp(w->files[i].path, path) == 0)
	    return i;
    return -1;
}

/*
 * path could not be read just now (err): keep what was accepted from it
 * last time, as it was, unreported; a file new since is left for the next
 * scan.  0, or -2 on ENOMEM.
 */
static int
watch_not_now(watch_t *w, watch_entry_t *e, watch_list_t *cur, int err)
{
    int			old = watch_old_find(w, e->path);

    watch_refuse(w, e->path, "Cannot read autostart script %s just now (%s): "
		 "kept as it was, read again at the next scan", e->path, strerror(err));
    if (old < 0) {
	free(e->path);
	return 0;
    }
    e->text = NULL;
    e->len = 0;
    e->digest = w->files[old].digest;
    return watch_list_add(cur, e, w->files[old].name);
}

/* evaluate one dir/file; 0 accepted or refused, -2 on ENOMEM */
static int
watch_consider(watch_t *w, const char *dir, const char *realdir,
		const char *file, watch_list_t *cur)
{
    watch_entry_t	e = { 0 };
    char		name[WATCH_MAX_NAME + 1];
    int			fd, i, sts, err;

    if (asprintf(&e.path, "%s/%s", dir, file) < 0)
	return -2;
    if (watch_name_from_file(file, name, sizeof(name)) < 0) {
	watch_refuse(w, e.path, "Skipping autostart script %s: its file name "
		     "makes no metric name (longer than %d characters?)",
		     e.path, WATCH_MAX_NAME);
	goto refused;
    }
    /* the first file to claim a name keeps it, whatever comes later */
    for (i = 0; i < cur->n; i++) {
	if (strcmp(cur->v[i].name, name) == 0) {
	    watch_refuse(w, e.path, "Skipping autostart script %s: its name "
			 "%s is taken by %s", e.path, name, cur->v[i].path);
	    goto refused;
	}
    }
    if ((fd = watch_open(w, e.path, realdir)) == WATCH_TRANSIENT)
	return watch_not_now(w, &e, cur, errno);
    if (fd < 0)
	goto refused;
    sts = watch_read_script(w, fd, e.path, &e);
    err = errno;
    close(fd);
    if (sts == WATCH_TRANSIENT)
	return watch_not_now(w, &e, cur, err);
    if (sts == -2) {
	free(e.path);
	return -2;
    }
    if (sts < 0)
	goto refused;
    return watch_list_add(cur, &e, name);

refused:
    free(e.path);
    return 0;
}

/*
 * folder i's accepted scripts appended to cur; -2 on ENOMEM, and
 * WATCH_TRANSIENT when the folder could not be read just now
 */
static int
watch_scan_dir(watch_t *w, int i, char reals[][PATH_MAX], watch_list_t *cur)
{
    struct dirent	**list = NULL;
    int			j, n, sts = 0;

    if ((sts = watch_dir_ok(w, i, reals[i])) < 0)
	return sts == WATCH_TRANSIENT ? sts : 0;
    /* the same folder named twice would collide with itself */
    for (j = 0; j < i; j++)
	if (reals[j][0] && strcmp(reals[j], reals[i]) == 0)
	    return 0;
    if ((n = scandir(w->dirs[i], &list, watch_filter, watch_compare)) < 0) {
	if (errno == ENOMEM)
	    return -2;
	if (watch_transient(errno))
	    return WATCH_TRANSIENT;
	watch_dir_state(w, i, WATCH_DIR_UNREADABLE, strerror(errno));
	return 0;
    }
    for (j = 0; j < n; j++) {
	if (sts == 0)
	    sts = watch_consider(w, w->dirs[i], reals[i], list[j]->d_name, cur);
	free(list[j]);
    }
    free(list);
    return sts;
}

static int
watch_list_find(const watch_list_t *l, const char *path)
{
    int		i;

    for (i = 0; i < l->n; i++)
	if (strcmp(l->v[i].path, path) == 0)
	    return i;
    return -1;
}

/* cur becomes w->files in files (allocated beforehand): path and name move over */
static void
watch_keep(watch_t *w, watch_list_t *cur, watch_file_t *files)
{
    int		i;

    for (i = 0; i < w->nfiles; i++) {
	free(w->files[i].path);
	free(w->files[i].name);
    }
    free(w->files);
    for (i = 0; i < cur->n; i++) {
	files[i].path = cur->v[i].path;
	files[i].name = cur->v[i].name;
	files[i].digest = cur->v[i].digest;
	files[i].seen = 1;
	cur->v[i].path = cur->v[i].name = NULL;
    }
    w->files = files;
    w->nfiles = cur->n;
}

void
watch_scan(watch_t *w, watch_cb_t cb, void *arg)
{
    char		reals[WATCH_MAX_DIRS][PATH_MAX];
    watch_list_t	cur = { NULL, 0 };
    watch_file_t	*files;
    watch_entry_t	*e;
    int			i, old, sts;

    w->pending = 0;
    for (i = 0; i < w->ndirs; i++) {
	watch_add(w, i);	/* the folder may exist by now */
	if ((sts = watch_scan_dir(w, i, reals, &cur)) == WATCH_TRANSIENT) {
	    /* the whole picture as it was; the next scan (5 s) tries again */
	    pmNotifyErr(LOG_WARNING, "autostart scan: cannot read %s just now (%s): "
			"its scripts are kept as they were", w->dirs[i], strerror(errno));
	    watch_list_free(&cur);
	    return;
	}
	if (sts < 0)
	    goto nomem;
    }
    /* allocated before any callback, so what was reported is what is kept */
    if ((files = calloc(cur.n + 1, sizeof(*files))) == NULL)
	goto nomem;

    /*
     * Removals first: a name freed by one file may be taken by another in
     * this same scan, and the callback must never see it twice at once.
     */
    for (i = 0; i < w->nfiles; i++)
	if (watch_list_find(&cur, w->files[i].path) < 0)
	    cb(arg, WATCH_REMOVED, w->files[i].path, w->files[i].name, NULL, 0);
    for (i = 0; i < cur.n; i++) {
	e = &cur.v[i];
	if ((old = watch_old_find(w, e->path)) >= 0 && w->files[old].digest == e->digest)
	    continue;			/* unchanged */
	if (cb(arg, old < 0 ? WATCH_ADDED : WATCH_CHANGED, e->path, e->name,
	       e->text, e->len) < 0)
	    e->digest = 0;		/* refused: offer it again next time */
    }
    watch_keep(w, &cur, files);
    watch_list_free(&cur);
    watch_refusal_sweep(w);
    return;

nomem:
    /* keep the previous picture, and try again on the next scan */
    pmNotifyErr(LOG_ERR, "autostart scan: out of memory");
    watch_list_free(&cur);
    w->pending = 1;
}

void
watch_free(watch_t *w)
{
    int		i;

    if (w->fd >= 0)
	close(w->fd);
    w->fd = -1;
    for (i = 0; i < w->ndirs; i++) {
	free(w->dirs[i]);
	w->dirs[i] = NULL;
	w->wd[i] = -1;
    }
    w->ndirs = 0;
    for (i = 0; i < w->nfiles; i++) {
	free(w->files[i].path);
	free(w->files[i].name);
    }
    free(w->files);
    w->files = NULL;
    w->nfiles = 0;
    for (i = 0; i < w->nrefused; i++) {
	free(w->refused[i].path);
	free(w->refused[i].why);
    }
    free(w->refused);
    w->refused = NULL;
    w->nrefused = 0;
}
