/*
 * Unit tests for src/pdu.c: a fetch answer encoded by the agent must be
 * the PDU libpcp's __pmEncodeResult() makes of the same result, byte for
 * byte (pmcd decodes it), and everything the encoder does not take must
 * still reach libpcp's own __pmSendResult(), with no stale answer sent.
 *
 * libpcp's encoder takes its internal __pmResult, not in the installed
 * headers: it is mirrored below as PCP 6.0 to 7.2 define it, and the
 * tests that need it are skipped, saying why, on any other version.
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
#include <arpa/inet.h>
#include <cmocka.h>
#include <pcp/pmapi.h>
#include "pdu.h"

/* libpcp.h's __pmTimestamp and __pmResult (PCP 6.0 to 7.2) */
typedef struct {
    int64_t	sec;
    int32_t	nsec;
} mirror_timestamp_t;

typedef struct {
    mirror_timestamp_t	timestamp;
    int			numpmid;
    pmValueSet		*vset[1];
} mirror_result_t;

extern int __pmEncodeResult(const void *, const mirror_result_t *, uint32_t **);
extern int __pmUnpinPDUBuf(void *);
extern int __pmSendResult(int, int, const void *);

#define MAXSETS	8

/* a result under construction: value sets and their blocks, all owned */
typedef struct {
    pmResult	*res;
    int		n;
} build_t;

static int
pcp_version_read(void)
{
    const char	*v = pmGetOptionalConfig("PCP_VERSION");
    int		major, minor, patch, ver;

    if (v == NULL || sscanf(v, "%d.%d.%d", &major, &minor, &patch) != 3)
	return 0;
    ver = PM_VERSION(major, minor, patch);
    return ver >= PM_VERSION(6,0,0) && ver < PM_VERSION(7,3,0);
}

static void
build_init(build_t *b)
{
    b->res = calloc(1, sizeof(pmResult) + MAXSETS * sizeof(pmValueSet *));
    assert_non_null(b->res);
    b->n = 0;
}

static pmValueSet *
build_set(build_t *b, pmID pmid, int numval, int valfmt)
{
    pmValueSet	*vs = calloc(1, sizeof(pmValueSet) + (numval > 1 ? numval : 1) * sizeof(pmValue));

    assert_non_null(vs);
    assert_true(b->n < MAXSETS);
    vs->pmid = pmid;
    vs->numval = numval;
    vs->valfmt = valfmt;
    b->res->vset[b->n++] = vs;
    b->res->numpmid = b->n;
    return vs;
}

/* a value block of type holding the len bytes at data */
static pmValueBlock *
block_of(int type, const void *data, size_t len)
{
    pmValueBlock	*vb = calloc(1, PM_VAL_HDR_SIZE + len);

    assert_non_null(vb);
    vb->vtype = type;
    vb->vlen = PM_VAL_HDR_SIZE + len;
    memcpy(vb->vbuf, data, len);
    return vb;
}

static pmValueBlock *
block_u64(int type, uint64_t value)
{
    return block_of(type, &value, sizeof(value));
}

static pmValueBlock *
block_string(const char *s)
{
    return block_of(PM_TYPE_STRING, s, strlen(s) + 1);
}

static pmValueBlock *
block_double(double d)
{
    return block_of(PM_TYPE_DOUBLE, &d, sizeof(d));
}

static void
build_free(build_t *b)
{
    int		i, j;

    for (i = 0; i < b->n; i++) {
	pmValueSet *vs = b->res->vset[i];

	if (vs->numval > 0 && vs->valfmt != PM_VAL_INSITU)
	    for (j = 0; j < vs->numval; j++)
		free(vs->vlist[j].value.pval);
	free(vs);
    }
    free(b->res);
}

/* libpcp's PDU for the same result: its length in bytes, *pdu pinned */
static int
libpcp_encode(const pmResult *res, uint32_t **pdu)
{
    mirror_result_t	*m;
    int			i, sts;

    m = calloc(1, sizeof(*m) + (res->numpmid + 1) * sizeof(pmValueSet *));
    assert_non_null(m);
    m->timestamp.sec = res->timestamp.tv_sec;
    m->timestamp.nsec = res->timestamp.tv_usec * 1000;
    m->numpmid = res->numpmid;
    for (i = 0; i < res->numpmid; i++)
	m->vset[i] = res->vset[i];
    sts = __pmEncodeResult(NULL, m, pdu);
    free(m);
    assert_int_equal(sts, 0);
    return (int)(*pdu)[0];		/* hdr.len, host order */
}

/* ours against libpcp's, header (len, type) and every byte after it */
static void
assert_same_pdu(const pmResult *res)
{
    uint32_t	*theirs;
    char	*ours;
    int		len, tlen;

    if (!pcp_version_read())
	skip();
    len = pdu_encode(res, 0, &ours);
    assert_true(len > 0);
    tlen = libpcp_encode(res, &theirs);
    assert_int_equal(len, tlen);
    assert_int_equal(((uint32_t *)ours)[0], theirs[0]);	/* len */
    assert_int_equal(((uint32_t *)ours)[1], theirs[1]);	/* type */
    /* [2] is "from", set by the sender; the body from the timestamp on */
    assert_memory_equal(ours + 12, (char *)theirs + 12, len - 12);
    __pmUnpinPDUBuf(theirs);
}

/*
 * A map of n 64-bit values of type, base + j * step, its instances in id
 * order or (reversed) in display order as bpftrace prints them: ours and
 * libpcp's PDU must be the same.
 */
static void
check_map(int type, int n, int reversed, int64_t base, int64_t step)
{
    build_t	b;
    pmValueSet	*vs;
    int		j;

    build_init(&b);
    vs = build_set(&b, pmID_build(151, 1, 10), n, PM_VAL_DPTR);
    for (j = 0; j < n; j++) {
	vs->vlist[j].inst = reversed ? n - 1 - j : j;
	vs->vlist[j].value.pval = block_u64(type, (uint64_t)(base + j * step));
    }
    assert_same_pdu(b.res);
    build_free(&b);
}

static void
test_map_u64(void **state)
{
    check_map(PM_TYPE_U64, 5, 1, 0, 0x0102030405060708LL);
}

static void
test_negative_64(void **state)
{
    check_map(PM_TYPE_64, 3, 0, -1, -1000000007LL);
}

/* strings of every length modulo 4: the padding bytes must match too */
static void
test_strings_padding(void **state)
{
    static const char *strs[] = { "", "a", "ab", "abc", "abcd", "abcde", "caf\xc3\xa9 \xe2\x9c\x93", "tail" };
    build_t	b;
    pmValueSet	*vs;
    int		j, n = sizeof(strs) / sizeof(strs[0]);

    build_init(&b);
    vs = build_set(&b, pmID_build(151, 3, 12), n, PM_VAL_DPTR);
    for (j = 0; j < n; j++) {
	vs->vlist[j].inst = 100 + j;
	vs->vlist[j].value.pval = block_string(strs[j]);
    }
    assert_same_pdu(b.res);
    build_free(&b);
}

/* what a mixed fetch holds: pmdaFetch's sets beside the arena's */
static void
test_mixed_sets(void **state)
{
    build_t	b;
    pmValueSet	*vs;

    build_init(&b);
    vs = build_set(&b, pmID_build(151, 0, 1), 1, PM_VAL_INSITU);
    vs->vlist[0].inst = PM_IN_NULL;
    vs->vlist[0].value.lval = -42;
    build_set(&b, pmID_build(151, 4, 13), 0, PM_VAL_INSITU);	/* an empty map */
    build_set(&b, pmID_build(151, 4, 14), PM_ERR_INST, 0);	/* an error */
    vs = build_set(&b, pmID_build(151, 4, 15), 2, PM_VAL_DPTR);
    vs->vlist[0].inst = 7;
    vs->vlist[0].value.pval = block_u64(PM_TYPE_U64, 77);
    vs->vlist[1].inst = 8;
    vs->vlist[1].value.pval = block_string("eight");
    vs = build_set(&b, pmID_build(151, 0, 2), 1, PM_VAL_SPTR);
    vs->vlist[0].inst = PM_IN_NULL;
    vs->vlist[0].value.pval = block_string("started");
    assert_same_pdu(b.res);
    build_free(&b);
}

static void
test_no_values(void **state)
{
    build_t	b;

    build_init(&b);
    assert_same_pdu(b.res);			/* numpmid 0 */
    build_free(&b);
}

/* a map of 20,000 keys grows the buffer, and a small answer after it fits */
static void
test_large_then_small(void **state)
{
    check_map(PM_TYPE_U64, 20000, 0, 0, 7919);
    check_map(PM_TYPE_U64, 5, 1, 0, 0x0102030405060708LL);
}

/* values it does not encode are left to libpcp */
static void
test_refuses_other_types(void **state)
{
    build_t	b;
    pmValueSet	*vs;
    char	*pdu;

    build_init(&b);
    vs = build_set(&b, pmID_build(151, 0, 3), 1, PM_VAL_DPTR);
    vs->vlist[0].inst = PM_IN_NULL;
    vs->vlist[0].value.pval = block_double(2.5);
    assert_true(pdu_encode(b.res, 0, &pdu) < 0);
    build_free(&b);
}

/* read a whole PDU of len bytes from fd */
static void
read_pdu(int fd, char *buf, size_t len)
{
    size_t	got = 0;
    ssize_t	n;

    while (got < len) {
	n = read(fd, buf + got, len - got);
	assert_true(n > 0);
	got += n;
    }
}

/* res's PDU length, and two buffers that hold it */
static int
wires(const pmResult *res, char **wire1, char **wire2)
{
    char	*ours;
    int		len = pdu_encode(res, 0, &ours);

    assert_true(len > 0);
    *wire1 = malloc(len);
    *wire2 = malloc(len);
    assert_non_null(*wire1);
    assert_non_null(*wire2);
    return len;
}

/* b: one 64-bit map of three values, base, base + 1, base + 2 */
static pmValueSet *
map3(build_t *b, uint64_t base)
{
    pmValueSet	*vs;
    int		j;

    build_init(b);
    vs = build_set(b, pmID_build(151, 1, 10), 3, PM_VAL_DPTR);
    for (j = 0; j < 3; j++) {
	vs->vlist[j].inst = j;
	vs->vlist[j].value.pval = block_u64(PM_TYPE_U64, base + j);
    }
    return vs;
}

/*
 * Through __pmSendResult, as libpcp_pmda calls it: an offered answer is
 * sent by pdu.c, in network order with "from" set; without an offer, or
 * after the offer was taken, or for a type pdu.c leaves alone, libpcp's
 * own function sends the same bytes.  Both return __pmXmitPDU's count of
 * bytes written.
 */
static void
test_send_paths(void **state)
{
    build_t		b, d;
    pmValueSet		*vs;
    mirror_result_t	*m;
    int			fds[2], len;
    unsigned long	sent;
    char		*wire1, *wire2;

    if (!pcp_version_read())
	skip();
    assert_int_equal(pipe(fds), 0);
    vs = map3(&b, 1000);
    /* libpcp_pmda passes its own __pmResult; pdu.c sends the offered one */
    m = calloc(1, sizeof(*m) + 4 * sizeof(pmValueSet *));
    assert_non_null(m);
    m->numpmid = 1;
    m->vset[0] = vs;
    len = wires(b.res, &wire1, &wire2);

    pdu_enable(1);
    sent = pdu_sent();
    pdu_offer(b.res, 0);
    assert_int_equal(__pmSendResult(fds[1], 0x1234, m), len);
    assert_int_equal(pdu_sent(), sent + 1);
    read_pdu(fds[0], wire1, len);
    assert_int_equal(ntohl(((uint32_t *)wire1)[0]), len);
    assert_int_equal(ntohl(((uint32_t *)wire1)[1]), 0x7001);	/* PDU_RESULT */
    assert_int_equal(ntohl(((uint32_t *)wire1)[2]), 0x1234);	/* from */

    /* the offer was taken: the same call again is libpcp's, same bytes */
    assert_int_equal(__pmSendResult(fds[1], 0x1234, m), len);
    assert_int_equal(pdu_sent(), sent + 1);
    read_pdu(fds[0], wire2, len);
    assert_memory_equal(wire1, wire2, len);

    /* turned off, an offer is ignored */
    pdu_enable(0);
    pdu_offer(b.res, 0);
    assert_int_equal(__pmSendResult(fds[1], 0x1234, m), len);
    assert_int_equal(pdu_sent(), sent + 1);
    read_pdu(fds[0], wire2, len);
    assert_memory_equal(wire1, wire2, len);
    pdu_enable(1);

    /* -D pdu: libpcp's sender, which prints what it sends (to stderr, muted) */
    {
	int	saved = dup(2), null = open("/dev/null", O_WRONLY);

	assert_true(saved >= 0 && null >= 0);
	dup2(null, 2);
	pmDebugOptions.pdu = 1;
	pdu_offer(b.res, 0);
	len = __pmSendResult(fds[1], 0x1234, m);
	pmDebugOptions.pdu = 0;
	dup2(saved, 2);
	close(saved);
	close(null);
	assert_int_equal(pdu_sent(), sent + 1);
	read_pdu(fds[0], wire2, len);
	assert_memory_equal(wire1, wire2, len);
    }

    /* a double in the answer: offered, refused, sent by libpcp */
    build_init(&d);
    vs = build_set(&d, pmID_build(151, 0, 3), 1, PM_VAL_DPTR);
    vs->vlist[0].inst = PM_IN_NULL;
    vs->vlist[0].value.pval = block_double(2.5);
    m->vset[0] = vs;
    pdu_offer(d.res, 0);
    assert_true(__pmSendResult(fds[1], 0, m) > 12);
    assert_int_equal(pdu_sent(), sent + 1);
    free(wire2);
    wire2 = malloc(64);
    assert_non_null(wire2);
    read_pdu(fds[0], wire2, 12);
    len = ntohl(((uint32_t *)wire2)[0]);
    assert_true(len > 12 && len <= 64);
    read_pdu(fds[0], wire2 + 12, len - 12);
    build_free(&d);

    free(wire1);
    free(wire2);
    free(m);
    build_free(&b);
    close(fds[0]);
    close(fds[1]);
}

/*
 * Tags: an answer offered with a tag is encoded once and its PDU kept; the
 * same tag offered again is written from it as it is (even if the result
 * handed over says otherwise: the tag is fetch.c's promise), with the
 * header back in host order after each write.  A new tag, no tag, another
 * "from", or any pdu_encode() in between encodes afresh.
 */
/* offer res with tag, have libpcp_pmda's call send it as from, read it back */
static void
send_read(const int *fds, const pmResult *res, unsigned long tag, int from,
	char *wire, int len)
{
    pdu_offer(res, tag);
    assert_int_equal(__pmSendResult(fds[1], from, NULL), len);
    read_pdu(fds[0], wire, len);
}

static void
test_send_again(void **state)
{
    build_t		b, c;
    int			fds[2], len;
    unsigned long	sent, again;
    char		*ours, *wire1, *wire2;

    if (!pcp_version_read())
	skip();
    assert_int_equal(pipe(fds), 0);
    map3(&b, 1000);
    map3(&c, 2000);			/* the same shape, other values */
    len = wires(b.res, &wire1, &wire2);
    pdu_enable(1);
    sent = pdu_sent();
    again = pdu_sent_again();

    send_read(fds, b.res, 7, 0x1234, wire1, len);
    assert_int_equal(pdu_sent(), sent + 1);
    assert_int_equal(pdu_sent_again(), again);

    /* tag 7 again, with other values offered: the kept PDU, unchanged */
    send_read(fds, c.res, 7, 0x1234, wire2, len);
    assert_memory_equal(wire1, wire2, len);
    assert_int_equal(pdu_sent(), sent + 1);
    assert_int_equal(pdu_sent_again(), again + 1);
    /* ... and again: __pmXmitPDU put the header back in host order */
    send_read(fds, c.res, 7, 0x1234, wire2, len);
    assert_memory_equal(wire1, wire2, len);
    assert_int_equal(pdu_sent_again(), again + 2);

    /* another "from": encoded afresh */
    send_read(fds, c.res, 7, 0x99, wire2, len);
    assert_int_equal(ntohl(((uint32_t *)wire2)[2]), 0x99);
    assert_memory_not_equal(wire1 + 12, wire2 + 12, len - 12);
    assert_int_equal(pdu_sent(), sent + 2);

    /* a new tag: encoded afresh, c's values */
    send_read(fds, c.res, 8, 0x1234, wire2, len);
    assert_memory_not_equal(wire1, wire2, len);
    assert_int_equal(pdu_sent(), sent + 3);

    /* untagged: encoded, and nothing kept for the tag before it */
    send_read(fds, b.res, 0, 0x1234, wire2, len);
    assert_memory_equal(wire1, wire2, len);
    send_read(fds, c.res, 8, 0x1234, wire2, len);
    assert_memory_not_equal(wire1, wire2, len);
    assert_int_equal(pdu_sent(), sent + 5);

    /* pdu_encode() rewrites the buffer: tag 8 is encoded again */
    assert_int_equal(pdu_encode(b.res, 0, &ours), len);
    send_read(fds, c.res, 8, 0x1234, wire2, len);
    assert_memory_not_equal(wire1, wire2, len);
    assert_int_equal(pdu_sent(), sent + 6);
    assert_int_equal(pdu_sent_again(), again + 2);

    free(wire1);
    free(wire2);
    build_free(&b);
    build_free(&c);
    close(fds[0]);
    close(fds[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_map_u64),
	cmocka_unit_test(test_negative_64),
	cmocka_unit_test(test_strings_padding),
	cmocka_unit_test(test_mixed_sets),
	cmocka_unit_test(test_no_values),
	cmocka_unit_test(test_large_then_small),
	cmocka_unit_test(test_refuses_other_types),
	cmocka_unit_test(test_send_paths),
	cmocka_unit_test(test_send_again),
    };

    pdu_enable(1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
