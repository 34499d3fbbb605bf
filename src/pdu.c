/*
 * pdu: the answer to a fetch, encoded by the agent straight into a PDU.
 *
 * A fetch of a 4,000-key map spent 40% of the agent's CPU in libpcp's
 * __pmSendResult(): __pmGetResultSize() walks every value to size the
 * PDU, __pmFindPDUBuf() allocates 80 KB for it, __pmEncodeValueSet()
 * copies each value block in with a memcpy() call of its own and swaps
 * its bytes, and the buffer is freed once written.  libpcp_pmda calls
 * __pmSendResult(pmda->e_outfd, FROM_ANON, rp) right after our fetch
 * callback returns (mainloop.c, PCP 6.0 to at least 7.2), with rp holding
 * exactly our result's value sets and timestamp.
 *
 * The agent therefore defines __pmSendResult: libpcp_pmda's call goes
 * through its PLT, and the dynamic linker looks in the executable first.
 * When fetch.c has offered the answer it just built (pdu_offer), that is
 * encoded here in one pass into a buffer kept from fetch to fetch, and
 * handed to libpcp's __pmXmitPDU() to write.  Anything else - no offer, a
 * value type this encoder leaves alone, pdu debugging (-D pdu) on - goes
 * to libpcp's own __pmSendResult, found with dlsym(RTLD_NEXT).  The bytes
 * are those __pmEncodeResult() writes for a PDU_RESULT (test_pdu compares
 * them), so pmcd sees no difference.
 *
 * An offer may carry a tag, fetch.c's promise that any later offer with
 * the same tag holds the same values: the PDU of a tagged answer stays in
 * the buffer, and an offer of that tag again is written from it as it is.
 */
#include <dlfcn.h>
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <arpa/inet.h>
#include "pdu.h"

#define PDU_TYPE_RESULT		0x7001	/* libpcp.h's PDU_RESULT */
#define PDU_HEAD_WORDS		6	/* len, type, from; tv_sec, tv_usec; numpmid */
#define PDU_WORDS(bytes)	(((bytes) + 3) / 4)

/* libpcp's, exported since PCP 3.0 (not in the installed headers) */
extern int __pmXmitPDU(int, uint32_t *);
int __pmSendResult(int, int, const void *);

typedef int (*pdu_send_t)(int, int, const void *);

static int		pdu_on;
static const pmResult	*pdu_offered;
static unsigned long	pdu_offered_tag;
static uint32_t		*pdu_buf;
static size_t		pdu_buf_words;
static unsigned long	pdu_kept_tag;	/* the tag of the PDU in pdu_buf, 0 none */
static int		pdu_kept_from;
static unsigned long	pdu_count;
static unsigned long	pdu_again_count;

void
pdu_enable(int on)
{
    pdu_on = on;
}

void
pdu_offer(const pmResult *result, unsigned long tag)
{
    pdu_offered = result;
    pdu_offered_tag = tag;
}

unsigned long
pdu_sent(void)
{
    return pdu_count;
}

unsigned long
pdu_sent_again(void)
{
    return pdu_again_count;
}

/*
 * Words of PDU for result: *headp the value lists, *blockp the value
 * blocks after them; < 0 for a value this encoder leaves to libpcp.
 */
static int
pdu_size(const pmResult *result, size_t *headp, size_t *blockp)
{
    size_t	head = PDU_HEAD_WORDS, blocks = 0;
    int		i, j;

    for (i = 0; i < result->numpmid; i++) {
	const pmValueSet *vs = result->vset[i];

	head += 2;			/* pmid, numval */
	if (vs->numval <= 0)
	    continue;
	head += 1 + 2 * (size_t)vs->numval;	/* valfmt; inst, value each */
	if (vs->valfmt == PM_VAL_INSITU)
	    continue;
	if (vs->valfmt != PM_VAL_DPTR && vs->valfmt != PM_VAL_SPTR)
	    return PM_ERR_CONV;
	for (j = 0; j < vs->numval; j++) {
	    const pmValueBlock *vb = vs->vlist[j].value.pval;

	    switch (vb->vtype) {
	    case PM_TYPE_64:
	    case PM_TYPE_U64:
		if (vb->vlen != PM_VAL_HDR_SIZE + sizeof(uint64_t))
		    return PM_ERR_CONV;
		break;
	    case PM_TYPE_STRING:
		if (vb->vlen < PM_VAL_HDR_SIZE)
		    return PM_ERR_CONV;
		break;
	    default:		/* doubles, events ...: libpcp's business */
		return PM_ERR_CONV;
	    }
	    blocks += PDU_WORDS(vb->vlen);
	}
    }
    *headp = head;
    *blockp = blocks;
    return 0;
}

/* one value block at out, in network order; returns the words written */
static size_t
pdu_block(uint32_t *out, const pmValueBlock *vb)
{
    uint32_t	word;
    uint64_t	u64;
    size_t	len = vb->vlen - PM_VAL_HDR_SIZE, pad;
    char	*p;

    /* vtype and vlen share a word, swapped whole, as __htonpmValueBlock does */
    memcpy(&word, vb, sizeof(word));
    out[0] = htonl(word);
    if (vb->vtype != PM_TYPE_STRING) {
	memcpy(&u64, vb->vbuf, sizeof(u64));
	u64 = htobe64(u64);
	memcpy(&out[1], &u64, sizeof(u64));
	return 3;
    }
    p = (char *)&out[1];
    memcpy(p, vb->vbuf, len);
    /* libpcp fills the padding with '~', lest it hold garbage */
    for (pad = len; pad % 4; pad++)
	p[pad] = '~';
    return 1 + pad / 4;
}

int
pdu_encode(const pmResult *result, int from, char **pdu)
{
    size_t	head, blocks, words;
    uint32_t	*w, *vb;
    int		i, j, sts;

    pdu_kept_tag = 0;		/* the buffer is rewritten */
    if ((sts = pdu_size(result, &head, &blocks)) < 0)
	return sts;
    words = head + blocks;
    if (words * 4 > INT32_MAX)
	return PM_ERR_TOOBIG;
    if (words + 1 > pdu_buf_words) {	/* + 1: __pmXmitPDU may pad a word */
	size_t		size = pdu_buf_words ? pdu_buf_words : 1024;
	uint32_t	*p;

	while (size < words + 1)
	    size *= 2;
	if ((p = malloc(size * sizeof(*p))) == NULL)
	    return -ENOMEM;
	free(pdu_buf);
	pdu_buf = p;
	pdu_buf_words = size;
    }
    w = pdu_buf;
    w[0] = (uint32_t)(words * 4);	/* the header stays in host order */
    w[1] = PDU_TYPE_RESULT;
    w[2] = (uint32_t)from;
    w[3] = htonl((uint32_t)result->timestamp.tv_sec);
    w[4] = htonl((uint32_t)result->timestamp.tv_usec);
    w[5] = htonl((uint32_t)result->numpmid);
    w += PDU_HEAD_WORDS;
    vb = pdu_buf + head;
    for (i = 0; i < result->numpmid; i++) {
	const pmValueSet *vs = result->vset[i];

	*w++ = htonl(vs->pmid);
	*w++ = htonl((uint32_t)vs->numval);
	if (vs->numval <= 0)
	    continue;
	*w++ = htonl((uint32_t)vs->valfmt);
	for (j = 0; j < vs->numval; j++) {
	    *w++ = htonl((uint32_t)vs->vlist[j].inst);
	    if (vs->valfmt == PM_VAL_INSITU)
		*w++ = htonl((uint32_t)vs->vlist[j].value.lval);
	    else {
		/* where the block is, in words from the start of the PDU */
		*w++ = htonl((uint32_t)(vb - pdu_buf));
		vb += pdu_block(vb, vs->vlist[j].value.pval);
	    }
	}
    }
    *pdu = (char *)pdu_buf;
    return (int)(words * 4);
}

/*
 * libpcp_pmda's call to send a fetch answer binds here.  The offer is
 * taken whatever happens, so a stale one is never sent.
 */
int
__pmSendResult(int fd, int from, const void *result)
{
    static pdu_send_t	libpcp_send;
    const pmResult	*offered = pdu_offered;
    unsigned long	tag = pdu_offered_tag;
    char		*pdu;
    int			len;

    pdu_offered = NULL;
    pdu_offered_tag = 0;
    /* with -D pdu, libpcp's own sender prints the result it sends */
    if (pdu_on && offered != NULL && !pmDebugOptions.pdu) {
	if (tag != 0 && tag == pdu_kept_tag && from == pdu_kept_from) {
	    if (pdu_again_count++ == 0)
		pmNotifyErr(LOG_INFO, "fetch answers unchanged since the last are sent again as they were (the first: %u bytes)", pdu_buf[0]);
	    return __pmXmitPDU(fd, pdu_buf);
	}
	if ((len = pdu_encode(offered, from, &pdu)) >= 0) {
	    pdu_kept_tag = tag;
	    pdu_kept_from = from;
	    /* once, so that the log says the binding works */
	    if (pdu_count++ == 0)
		pmNotifyErr(LOG_INFO, "fetch answers are encoded by the agent (the first: %d bytes)", len);
	    return __pmXmitPDU(fd, (uint32_t *)pdu);
	}
    }
    if (libpcp_send == NULL) {
	/* POSIX's way from dlsym's void * to a function pointer */
	*(void **)&libpcp_send = dlsym(RTLD_NEXT, "__pmSendResult");
	if (libpcp_send == NULL)
	    return PM_ERR_IPC;
    }
    return libpcp_send(fd, from, result);
}

void
pdu_free(void)
{
    free(pdu_buf);
    pdu_buf = NULL;
    pdu_buf_words = 0;
    pdu_kept_tag = 0;
    pdu_offered = NULL;
    pdu_offered_tag = 0;
}
