/*
 * Unit tests for src/watch.c: the autostart folders.  Runs as root in a
 * fresh folder under /tmp, so created files are root's; chmod/chown make
 * the cases that must be refused.  Checks what reaches the callback (and
 * in which order), what gets logged, and that inotify asks for rescans.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <cmocka.h>
#include "watch.h"

#define MAX_EVENTS	32

typedef struct event {
    watch_event_t	ev;
    char		path[512];
    char		name[128];
    char		text[512];
    size_t		len;
    int			has_text;
} event_t;

typedef struct fixture {
    char	root[64];	/* the temporary folder */
    char	d1[128], d2[128];
    watch_t	w;
    event_t	events[MAX_EVENTS];
    int		nevents;
} fixture_t;

#include "capture.h"

static int refuse;	/* record() refuses files while set */

static int
record(void *arg, watch_event_t ev, const char *path, const char *name,
	const char *text, size_t len)
{
    fixture_t	*f = arg;
    event_t	*e;

    assert_true(f->nevents < MAX_EVENTS);
    e = &f->events[f->nevents++];
    e->ev = ev;
    snprintf(e->path, sizeof(e->path), "%s", path);
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->has_text = text != NULL;
    e->len = len;
    if (text) {
	assert_int_equal(text[len], '\0');
	snprintf(e->text, sizeof(e->text), "%s", text);
    }
    return refuse ? -1 : 0;
}

/* scan, returning the number of events; the log is left in logbuf */
static int
scan(fixture_t *f)
{
    f->nevents = 0;
    capture_start();
    watch_scan(&f->w, record, f);
    capture_end();
    return f->nevents;
}

static void
put(const char *dir, const char *file, const char *text, mode_t mode)
{
    char	path[512];
    FILE	*fp;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    assert_non_null(fp = fopen(path, "w"));
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static const char *
at(const char *dir, const char *file)
{
    static char	paths[4][512];
    static int	next;
    char	*p = paths[next++ % 4];

    snprintf(p, 512, "%s/%s", dir, file);
    return p;
}

static void
assert_event(const fixture_t *f, int i, watch_event_t ev, const char *path,
	const char *name, const char *text)
{
    const event_t	*e = &f->events[i];

    assert_true(i < f->nevents);
    assert_int_equal(e->ev, ev);
    assert_string_equal(e->path, path);
    assert_string_equal(e->name, name);
    if (text) {
	assert_true(e->has_text);
	assert_string_equal(e->text, text);
	assert_int_equal(e->len, strlen(text));
    } else {
	assert_false(e->has_text);
    }
}

static int
setup(void **state)
{
    fixture_t	*f = calloc(1, sizeof(*f));
    const char	*dirs[2];

    if (f == NULL)
	return -1;
    strcpy(f->root, "/tmp/test_watch.XXXXXX");
    if (mkdtemp(f->root) == NULL || chmod(f->root, 0755) < 0)
	return -1;
    snprintf(f->d1, sizeof(f->d1), "%s/etc", f->root);
    snprintf(f->d2, sizeof(f->d2), "%s/pmdas", f->root);
    if (mkdir(f->d1, 0755) < 0 || mkdir(f->d2, 0755) < 0)
	return -1;
    dirs[0] = f->d1;
    dirs[1] = f->d2;
    if (watch_init(&f->w, dirs, 2, 100) < 0)
	return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t	*f = *state;
    char	cmd[128];

    watch_free(&f->w);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
    if (system(cmd) != 0)
	return -1;
    free(f);
    return 0;
}

static void
test_name_from_file(void **state)
{
    char	buf[WATCH_MAX_NAME + 1], small[4];
    char	file[128];

    assert_int_equal(watch_name_from_file("my-tool.bt", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "my_tool");
    assert_int_equal(watch_name_from_file("1st.bt", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "bt_1st");
    assert_int_equal(watch_name_from_file("_x.bt", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "bt__x");
    assert_int_equal(watch_name_from_file("/etc/pcp/bpftrace/autostart/runq.bt",
					  buf, sizeof(buf)), 0);
    assert_string_equal(buf, "runq");
    assert_int_equal(watch_name_from_file("a.b c.bt", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "a_b_c");
    assert_int_equal(watch_name_from_file("caf\xc3\xa9.bt", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "caf__");
    assert_int_equal(watch_name_from_file("Upper.bt", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "Upper");

    assert_int_equal(watch_name_from_file(".bt", buf, sizeof(buf)), -1);
    assert_int_equal(watch_name_from_file("", buf, sizeof(buf)), -1);
    assert_int_equal(watch_name_from_file("dir/", buf, sizeof(buf)), -1);

    /* 64 characters fit, 65 do not, the "bt_" prefix included */
    memset(file, 'a', 64);
    strcpy(file + 64, ".bt");
    assert_int_equal(watch_name_from_file(file, buf, sizeof(buf)), 0);
    assert_int_equal(strlen(buf), 64);
    memset(file, 'a', 65);
    strcpy(file + 65, ".bt");
    assert_int_equal(watch_name_from_file(file, buf, sizeof(buf)), -1);
    memset(file, '9', 62);
    strcpy(file + 62, ".bt");
    assert_int_equal(watch_name_from_file(file, buf, sizeof(buf)), -1);
    memset(file, '9', 61);
    strcpy(file + 61, ".bt");
    assert_int_equal(watch_name_from_file(file, buf, sizeof(buf)), 0);
    assert_int_equal(strlen(buf), 64);

    /* never past the caller's buffer */
    assert_int_equal(watch_name_from_file("abcd.bt", small, sizeof(small)), -1);
    assert_int_equal(watch_name_from_file("abc.bt", small, sizeof(small)), 0);
    assert_string_equal(small, "abc");
}

static void
test_root_only(void **state)
{
    fixture_t	*f = *state;
    const char	*p = at(f->d1, "x.bt");
    char	why[512];

    put(f->d1, "x.bt", "x", 0644);
    assert_int_equal(watch_root_only(p, why, sizeof(why)), 0);
    assert_int_equal(watch_root_only(f->d1, why, sizeof(why)), 0);

    /* group-writable is fine while the group is root's */
    assert_int_equal(chmod(p, 0664), 0);
    assert_int_equal(watch_root_only(p, why, sizeof(why)), 0);
    assert_int_equal(chown(p, 0, 1000), 0);
    assert_int_equal(watch_root_only(p, why, sizeof(why)), -1);
    assert_non_null(strstr(why, p));
    assert_non_null(strstr(why, "group 1000"));

    /* group 1000 but not group-writable: fine */
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(watch_root_only(p, why, sizeof(why)), 0);

    assert_int_equal(chown(p, 0, 0), 0);
    assert_int_equal(chmod(p, 0646), 0);
    assert_int_equal(watch_root_only(p, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "world-writable"));

    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(chown(p, 65534, 0), 0);
    assert_int_equal(watch_root_only(p, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "uid 65534"));
    /* read-only does not help: its owner may chmod it back at will */
    assert_int_equal(chmod(p, 0444), 0);
    assert_int_equal(watch_root_only(p, why, sizeof(why)), -1);

    assert_int_equal(watch_root_only(at(f->d1, "missing.bt"), why, sizeof(why)), -1);
    assert_non_null(strstr(why, "cannot stat"));

    assert_int_equal(chmod(f->d1, 01777), 0);
    assert_int_equal(watch_root_only(f->d1, why, sizeof(why)), -1);
    assert_int_equal(chmod(f->d1, 0755), 0);
}

/* a POSIX ACL can hand write access to a user behind a root group */
static void
test_root_only_acl(void **state)
{
    fixture_t	*f = *state;
    const char	*p = at(f->d1, "acl.bt");
    char	why[512];
    struct { uint16_t tag, perm; uint32_t id; } __attribute__((packed)) e[] = {
	{ 0x01, 6, (uint32_t)-1 },	/* user:: rw */
	{ 0x02, 6, 65534 },		/* user:nobody: rw */
	{ 0x04, 4, (uint32_t)-1 },	/* group:: r */
	{ 0x10, 6, (uint32_t)-1 },	/* mask:: rw */
	{ 0x20, 4, (uint32_t)-1 },	/* other:: r */
    };
    char	acl[4 + sizeof(e)];
    uint32_t	version = 2;

    put(f->d1, "acl.bt", "x", 0644);
    memcpy(acl, &version, 4);
    memcpy(acl + 4, e, sizeof(e));
    if (setxattr(p, "system.posix_acl_access", acl, sizeof(acl), 0) < 0) {
	print_message("# skip: %s has no ACL support\n", f->d1);
	skip();
    }
    assert_int_equal(watch_root_only(p, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "ACL"));
    assert_int_equal(scan(f), 0);
}

static void
test_added_changed_removed(void **state)
{
    fixture_t	*f = *state;

    assert_int_equal(scan(f), 0);

    put(f->d2, "c.bt", "i:s:1 { @c = count(); }", 0644);
    put(f->d1, "b.bt", "kprobe:b { @b = count(); }", 0644);
    put(f->d1, "a-1.bt", "kprobe:a { @a = count(); }", 0600);
    put(f->d1, "notes.txt", "not a script", 0644);
    assert_int_equal(scan(f), 3);
    /* folder order, then name order */
    assert_event(f, 0, WATCH_ADDED, at(f->d1, "a-1.bt"), "a_1", "kprobe:a { @a = count(); }");
    assert_event(f, 1, WATCH_ADDED, at(f->d1, "b.bt"), "b", "kprobe:b { @b = count(); }");
    assert_event(f, 2, WATCH_ADDED, at(f->d2, "c.bt"), "c", "i:s:1 { @c = count(); }");
    assert_string_equal(logbuf, "");
    assert_int_equal(f->w.nfiles, 3);

    /* nothing changed, nothing reported; rewriting the same text neither */
    assert_int_equal(scan(f), 0);
    put(f->d1, "b.bt", "kprobe:b { @b = count(); }", 0644);
    assert_int_equal(scan(f), 0);

    put(f->d1, "b.bt", "kprobe:b2 { @b = count(); }", 0644);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_CHANGED, at(f->d1, "b.bt"), "b", "kprobe:b2 { @b = count(); }");

    /* removals come before additions */
    assert_int_equal(unlink(at(f->d2, "c.bt")), 0);
    put(f->d1, "0.bt", "", 0644);
    assert_int_equal(scan(f), 2);
    assert_event(f, 0, WATCH_REMOVED, at(f->d2, "c.bt"), "c", NULL);
    assert_event(f, 1, WATCH_ADDED, at(f->d1, "0.bt"), "bt_0", "");

    assert_int_equal(rename(at(f->d1, "b.bt"), at(f->d1, "renamed.bt")), 0);
    assert_int_equal(scan(f), 2);
    assert_event(f, 0, WATCH_REMOVED, at(f->d1, "b.bt"), "b", NULL);
    assert_event(f, 1, WATCH_ADDED, at(f->d1, "renamed.bt"), "renamed",
		 "kprobe:b2 { @b = count(); }");
    assert_int_equal(scan(f), 0);
}

/* a file the callback refused (its name taken for now) is offered again */
static void
test_callback_refusal_retried(void **state)
{
    fixture_t	*f = *state;

    put(f->d1, "r.bt", "i:s:1 { @r = count(); }", 0644);
    refuse = 1;
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_ADDED, at(f->d1, "r.bt"), "r", "i:s:1 { @r = count(); }");
    assert_int_equal(scan(f), 1);	/* still refused: offered again */
    assert_event(f, 0, WATCH_CHANGED, at(f->d1, "r.bt"), "r", "i:s:1 { @r = count(); }");
    refuse = 0;
    assert_int_equal(scan(f), 1);	/* taken now */
    assert_int_equal(scan(f), 0);	/* and not offered again */
}

static void
test_refused_world_writable(void **state)
{
    fixture_t	*f = *state;
    const char	*p = at(f->d1, "ww.bt");

    put(f->d1, "ww.bt", "BEGIN {}", 0666);
    assert_int_equal(scan(f), 0);
    assert_non_null(strstr(logbuf, "Skipping autostart script"));
    assert_non_null(strstr(logbuf, p));
    assert_non_null(strstr(logbuf, "must be exclusively writable by root"));

    /* logged once, not on every scan */
    assert_int_equal(scan(f), 0);
    assert_string_equal(logbuf, "");

    /* fixed: it starts on the next scan */
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_ADDED, p, "ww", "BEGIN {}");

    /* broken again: it goes, and that is logged again */
    assert_int_equal(chmod(p, 0646), 0);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_REMOVED, p, "ww", NULL);
    assert_non_null(strstr(logbuf, p));
}

static void
test_refused_not_root_owned(void **state)
{
    fixture_t	*f = *state;
    const char	*p = at(f->d2, "nobody.bt");

    put(f->d2, "nobody.bt", "BEGIN {}", 0644);
    assert_int_equal(chown(p, 65534, 65534), 0);
    assert_int_equal(scan(f), 0);
    assert_non_null(strstr(logbuf, "uid 65534"));

    /* a different reason for the same file is news: logged */
    assert_int_equal(chown(p, 0, 65534), 0);
    assert_int_equal(chmod(p, 0664), 0);
    assert_int_equal(scan(f), 0);
    assert_non_null(strstr(logbuf, "group 65534"));

    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_ADDED, p, "nobody", "BEGIN {}");
}

static void
test_refused_directory(void **state)
{
    fixture_t	*f = *state;

    put(f->d1, "a.bt", "A", 0644);
    put(f->d2, "b.bt", "B", 0644);
    assert_int_equal(chmod(f->d1, 0777), 0);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_ADDED, at(f->d2, "b.bt"), "b", "B");
    assert_non_null(strstr(logbuf, "Autostart directory"));
    assert_non_null(strstr(logbuf, f->d1));
    assert_non_null(strstr(logbuf, "must be exclusively writable by root"));

    assert_int_equal(scan(f), 0);
    assert_string_equal(logbuf, "");

    assert_int_equal(chmod(f->d1, 0755), 0);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_ADDED, at(f->d1, "a.bt"), "a", "A");

    /* a folder gone bad takes its running scripts with it */
    assert_int_equal(chown(f->d1, 65534, 0), 0);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_REMOVED, at(f->d1, "a.bt"), "a", NULL);
    assert_int_equal(chown(f->d1, 0, 0), 0);
}

static void
test_symlinks(void **state)
{
    fixture_t	*f = *state;
    char	outside[256];

    snprintf(outside, sizeof(outside), "%s/evil.bt", f->root);
    put(f->root, "evil.bt", "EVIL", 0644);
    put(f->d1, "target.txt", "INSIDE", 0644);
    assert_int_equal(mkdir(at(f->d1, "sub"), 0755), 0);
    put(at(f->d1, "sub"), "deep.bt", "DEEP", 0644);

    assert_int_equal(symlink("target.txt", at(f->d1, "in.bt")), 0);
    assert_int_equal(symlink(at(f->d1, "target.txt"), at(f->d1, "in_abs.bt")), 0);
    assert_int_equal(symlink(outside, at(f->d1, "out.bt")), 0);
    assert_int_equal(symlink("../evil.bt", at(f->d1, "out_rel.bt")), 0);
    assert_int_equal(symlink("sub/deep.bt", at(f->d1, "sub.bt")), 0);
    assert_int_equal(symlink("nowhere", at(f->d1, "dangling.bt")), 0);
    /* into the other autostart folder is still out of this one */
    put(f->d2, "other.txt", "OTHER", 0644);
    assert_int_equal(symlink(at(f->d2, "other.txt"), at(f->d1, "cross.bt")), 0);

    assert_int_equal(scan(f), 2);
    assert_event(f, 0, WATCH_ADDED, at(f->d1, "in.bt"), "in", "INSIDE");
    assert_event(f, 1, WATCH_ADDED, at(f->d1, "in_abs.bt"), "in_abs", "INSIDE");
    assert_non_null(strstr(logbuf, at(f->d1, "out.bt")));
    assert_non_null(strstr(logbuf, at(f->d1, "out_rel.bt")));
    assert_non_null(strstr(logbuf, at(f->d1, "sub.bt")));
    assert_non_null(strstr(logbuf, at(f->d1, "dangling.bt")));
    assert_non_null(strstr(logbuf, at(f->d1, "cross.bt")));
    assert_non_null(strstr(logbuf, "leads outside"));

    /* the target's permissions are what count */
    assert_int_equal(chmod(at(f->d1, "target.txt"), 0666), 0);
    assert_int_equal(scan(f), 2);
    assert_int_equal(f->events[0].ev, WATCH_REMOVED);
    assert_int_equal(f->events[1].ev, WATCH_REMOVED);
}

static void
test_name_collision(void **state)
{
    fixture_t	*f = *state;

    put(f->d1, "a_b.bt", "UNDERSCORE", 0644);
    put(f->d1, "a-b.bt", "DASH", 0644);
    put(f->d1, "x.bt", "X1", 0644);
    put(f->d2, "x.bt", "X2", 0644);
    assert_int_equal(scan(f), 2);
    /* '-' sorts before '_'; the first folder before the second */
    assert_event(f, 0, WATCH_ADDED, at(f->d1, "a-b.bt"), "a_b", "DASH");
    assert_event(f, 1, WATCH_ADDED, at(f->d1, "x.bt"), "x", "X1");
    assert_non_null(strstr(logbuf, at(f->d1, "a_b.bt")));
    assert_non_null(strstr(logbuf, at(f->d1, "a-b.bt")));
    assert_non_null(strstr(logbuf, at(f->d2, "x.bt")));

    assert_int_equal(scan(f), 0);
    assert_string_equal(logbuf, "");

    /* the name is freed and taken over in one scan: removal first */
    assert_int_equal(unlink(at(f->d1, "a-b.bt")), 0);
    assert_int_equal(unlink(at(f->d1, "x.bt")), 0);
    assert_int_equal(scan(f), 4);
    assert_event(f, 0, WATCH_REMOVED, at(f->d1, "a-b.bt"), "a_b", NULL);
    assert_event(f, 1, WATCH_REMOVED, at(f->d1, "x.bt"), "x", NULL);
    assert_event(f, 2, WATCH_ADDED, at(f->d1, "a_b.bt"), "a_b", "UNDERSCORE");
    assert_event(f, 3, WATCH_ADDED, at(f->d2, "x.bt"), "x", "X2");
}

static void
test_oversized(void **state)
{
    fixture_t	*f = *state;
    char	text[102];

    memset(text, 'x', 101);
    text[101] = '\0';
    put(f->d1, "big.bt", text, 0644);
    text[100] = '\0';
    put(f->d1, "fits.bt", text, 0644);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_ADDED, at(f->d1, "fits.bt"), "fits", text);
    assert_non_null(strstr(logbuf, at(f->d1, "big.bt")));
    assert_non_null(strstr(logbuf, "larger than 100 bytes"));

    /* growing past the limit stops it */
    text[100] = 'x';
    put(f->d1, "fits.bt", text, 0644);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_REMOVED, at(f->d1, "fits.bt"), "fits", NULL);
}

static void
test_not_regular(void **state)
{
    fixture_t	*f = *state;

    assert_int_equal(mkdir(at(f->d1, "dir.bt"), 0755), 0);
    assert_int_equal(mkfifo(at(f->d1, "fifo.bt"), 0644), 0);
    assert_int_equal(symlink("fifo.bt", at(f->d1, "tofifo.bt")), 0);
    put(f->d1, ".hidden.bt", "HIDDEN", 0644);
    put(f->d1, "script.bt~", "BACKUP", 0644);
    assert_int_equal(scan(f), 0);	/* and did not block on the FIFO */
    assert_non_null(strstr(logbuf, at(f->d1, "dir.bt")));
    assert_non_null(strstr(logbuf, at(f->d1, "fifo.bt")));
    assert_non_null(strstr(logbuf, at(f->d1, "tofifo.bt")));
    assert_non_null(strstr(logbuf, "not a regular file"));
    /* not candidates at all, so not worth a word */
    assert_null(strstr(logbuf, "hidden"));
    assert_null(strstr(logbuf, "bt~"));
}

static void
test_inotify(void **state)
{
    fixture_t	*f = *state;

    assert_true(watch_fd(&f->w) >= 0);
    assert_int_equal(watch_read(&f->w), 1);	/* never scanned yet */
    scan(f);
    assert_int_equal(watch_read(&f->w), 0);

    put(f->d1, "new.bt", "NEW", 0644);
    assert_int_equal(watch_read(&f->w), 1);
    assert_int_equal(scan(f), 1);
    assert_int_equal(watch_read(&f->w), 0);

    /* files that are not scripts do not call for a rescan */
    put(f->d1, "notes.txt", "x", 0644);
    assert_int_equal(unlink(at(f->d1, "notes.txt")), 0);
    assert_int_equal(watch_read(&f->w), 0);

    /* chmod of a script, or of the folder itself, does */
    assert_int_equal(chmod(at(f->d1, "new.bt"), 0600), 0);
    assert_int_equal(watch_read(&f->w), 1);
    scan(f);
    assert_int_equal(chmod(f->d2, 0700), 0);
    assert_int_equal(watch_read(&f->w), 1);
    scan(f);

    assert_int_equal(unlink(at(f->d1, "new.bt")), 0);
    assert_int_equal(watch_read(&f->w), 1);
    assert_int_equal(scan(f), 1);
    assert_int_equal(f->events[0].ev, WATCH_REMOVED);
}

/*
 * A script written into dir wakes the watch, and the scan reports it
 * added, under the path seen_as (dir itself, or a symlink to it).
 */
static void
expect_added(fixture_t *f, const char *dir, const char *seen_as,
	const char *file, const char *name, const char *text)
{
    put(dir, file, text, 0644);
    assert_int_equal(watch_read(&f->w), 1);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_ADDED, at(seen_as, file), name, text);
}

/* a folder that is missing at first is picked up by a later scan */
static void
test_folder_appears(void **state)
{
    fixture_t	*f = *state;
    char	late[160], moved[160];
    const char	*dirs[1];

    snprintf(late, sizeof(late), "%s/late", f->root);
    snprintf(moved, sizeof(moved), "%s/moved", f->root);
    dirs[0] = late;
    watch_free(&f->w);
    assert_int_equal(watch_init(&f->w, dirs, 1, 1000), 0);

    assert_int_equal(scan(f), 0);
    assert_string_equal(logbuf, "");	/* missing is normal, not an error */

    assert_int_equal(mkdir(late, 0755), 0);
    put(late, "l.bt", "LATE", 0644);
    assert_int_equal(scan(f), 1);
    assert_event(f, 0, WATCH_ADDED, at(late, "l.bt"), "l", "LATE");

    /* and it is watched from then on */
    assert_int_equal(watch_read(&f->w), 0);
    put(late, "m.bt", "M", 0644);
    assert_int_equal(watch_read(&f->w), 1);
    assert_int_equal(scan(f), 1);

    /* moved away: its scripts go, and a new folder at the path is watched */
    assert_int_equal(rename(late, moved), 0);
    assert_int_equal(watch_read(&f->w), 1);
    assert_int_equal(scan(f), 2);
    assert_int_equal(f->events[0].ev, WATCH_REMOVED);
    assert_int_equal(f->events[1].ev, WATCH_REMOVED);
    assert_int_equal(mkdir(late, 0755), 0);
    assert_int_equal(scan(f), 0);
    expect_added(f, late, late, "n.bt", "n", "N");
    /* changes in the moved folder are no concern any more */
    put(moved, "o.bt", "O", 0644);
    assert_int_equal(watch_read(&f->w), 0);
}

/*
 * The path comes to lead to another folder with no event on the watched
 * one: its parent renamed and made again, or a symlink pointed elsewhere.
 * The next scan watches the new folder, and drops the old one.
 */
static void
test_path_leads_elsewhere(void **state)
{
    fixture_t	*f = *state;
    char	parent[160], dir[160], oldparent[160], olddir[160];
    char	link[160], a[160], b[160];
    const char	*dirs[2];

    snprintf(parent, sizeof(parent), "%s/p", f->root);
    snprintf(dir, sizeof(dir), "%s/p/drop", f->root);
    snprintf(oldparent, sizeof(oldparent), "%s/p.old", f->root);
    snprintf(olddir, sizeof(olddir), "%s/p.old/drop", f->root);
    snprintf(link, sizeof(link), "%s/link", f->root);
    snprintf(a, sizeof(a), "%s/a", f->root);
    snprintf(b, sizeof(b), "%s/b", f->root);
    assert_int_equal(mkdir(parent, 0755), 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(a, 0755), 0);
    assert_int_equal(mkdir(b, 0755), 0);
    assert_int_equal(symlink("a", link), 0);
    dirs[0] = dir;
    dirs[1] = link;
    watch_free(&f->w);
    assert_int_equal(watch_init(&f->w, dirs, 2, 1000), 0);
    scan(f);
    assert_int_equal(watch_read(&f->w), 0);

    /* the parent renamed: no event for the watched folder itself */
    assert_int_equal(rename(parent, oldparent), 0);
    assert_int_equal(mkdir(parent, 0755), 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(watch_read(&f->w), 0);
    /* the symlink pointed at another folder: none either */
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink("b", link), 0);
    assert_int_equal(watch_read(&f->w), 0);

    assert_int_equal(scan(f), 0);
    expect_added(f, dir, dir, "n.bt", "n", "N");
    expect_added(f, b, link, "m.bt", "m", "M");

    /* the folders the paths left are not watched any more */
    put(olddir, "o.bt", "O", 0644);
    put(a, "o.bt", "O", 0644);
    assert_int_equal(watch_read(&f->w), 0);
}

/* the same folder named twice must not collide with itself */
static void
test_same_folder_twice(void **state)
{
    fixture_t	*f = *state;
    const char	*dirs[2] = { f->d1, f->d1 };

    watch_free(&f->w);
    assert_int_equal(watch_init(&f->w, dirs, 2, 1000), 0);
    put(f->d1, "a.bt", "A", 0644);
    assert_int_equal(scan(f), 1);
    assert_string_equal(logbuf, "");
    /* rescans keep the one watch both paths share */
    assert_int_equal(scan(f), 0);
    put(f->d1, "b.bt", "B", 0644);
    assert_int_equal(watch_read(&f->w), 1);
    assert_int_equal(scan(f), 1);
}

static void
test_init_limits(void **state)
{
    const char	*dirs[WATCH_MAX_DIRS + 1] = { "/a", "/b", "/c", "/d", "/e" };
    watch_t	w;

    assert_int_equal(watch_init(&w, dirs, WATCH_MAX_DIRS + 1, 100), -EINVAL);
    watch_free(&w);
    assert_int_equal(watch_init(&w, dirs, 0, 100), 0);
    watch_free(&w);
}

/*
 * Out of descriptors (EMFILE: the agent's scripts hold them all) a scan
 * cannot list a folder: nothing is reported removed, a file changed
 * meanwhile is not reported, a new one waits; once descriptors are free
 * again the next scan catches up.  (The agent has one thread, and the
 * listing's descriptor is closed before a file is opened: a file's own
 * open does not meet EMFILE where the listing did not.)
 */
static int
exhaust_fds(int *fds, int max)
{
    int		n = 0, fd;

    while (n < max && (fd = dup(0)) >= 0)
	fds[n++] = fd;
    assert_int_equal(errno, EMFILE);
    return n;
}

static void
release_fds(int *fds, int n)
{
    while (n > 0)
	close(fds[--n]);
}

static void
test_out_of_descriptors(void **state)
{
    fixture_t		*f = *state;
    struct rlimit	old, low;
    int			fds[256], n;

    put(f->d1, "a.bt", "i:s:1 { @a = count(); }", 0644);
    put(f->d2, "b.bt", "i:s:1 { @b = count(); }", 0644);
    assert_int_equal(scan(f), 2);
    put(f->d2, "b.bt", "i:s:1 { @b = sum(2); }", 0644);
    put(f->d1, "c.bt", "i:s:1 { @c = count(); }", 0644);

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    f->nevents = 0;
    capture_start();
    n = exhaust_fds(fds, 256);
    watch_scan(&f->w, record, f);
    release_fds(fds, n);
    capture_end();
    assert_int_equal(f->nevents, 0);
    assert_int_equal(f->w.nfiles, 2);
    assert_non_null(strstr(logbuf, "cannot read"));
    assert_non_null(strstr(logbuf, "Too many open files"));

    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

    /* descriptors again: the change and the new file, in folder order */
    assert_int_equal(scan(f), 2);
    assert_event(f, 0, WATCH_ADDED, at(f->d1, "c.bt"), "c", "i:s:1 { @c = count(); }");
    assert_event(f, 1, WATCH_CHANGED, at(f->d2, "b.bt"), "b", "i:s:1 { @b = sum(2); }");
    assert_int_equal(f->w.nfiles, 3);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* stands in for the tests that need root (to chown), so they show as skipped */
static void
needs_root(void **state)
{
    (void)state;
    skip();
}

int
main(void)
{
    struct CMUnitTest tests[] = {
	cmocka_unit_test(test_name_from_file),
	cmocka_unit_test(test_init_limits),
	T(test_root_only),
	T(test_root_only_acl),
	T(test_added_changed_removed),
	T(test_callback_refusal_retried),
	T(test_refused_world_writable),
	T(test_refused_not_root_owned),
	T(test_refused_directory),
	T(test_symlinks),
	T(test_name_collision),
	T(test_oversized),
	T(test_not_regular),
	T(test_inotify),
	T(test_folder_appears),
	T(test_path_leads_elsewhere),
	T(test_out_of_descriptors),
	T(test_same_folder_twice),
    };

    size_t	i;

    if (geteuid() != 0) {
	print_message("# skip: the tests with a folder fixture chown files, which needs root\n");
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
	    if (tests[i].setup_func == setup) {
		tests[i].test_func = needs_root;
		tests[i].setup_func = tests[i].teardown_func = NULL;
	    }
	}
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
