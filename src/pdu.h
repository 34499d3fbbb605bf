/*
 * pdu: the answer to a fetch, encoded by the agent straight into a PDU.
 *
 * libpcp_pmda sends each fetch answer with libpcp's __pmSendResult(),
 * which measures the result value by value, allocates a PDU buffer,
 * copies each value block into it and frees the buffer again.  The agent
 * defines __pmSendResult itself (the dynamic linker binds libpcp_pmda's
 * call to the executable's definition first): an answer fetch.c offered
 * is encoded here in one pass into a buffer kept from fetch to fetch, and
 * every other call goes on to libpcp's own function.
 */
#ifndef BPFTRACE_PDU_H
#define BPFTRACE_PDU_H

#include <pcp/pmapi.h>

/* encode offered answers here (1) or leave every one to libpcp (0) */
void pdu_enable(int on);

/*
 * The answer the next __pmSendResult call sends, or NULL for none.  Only
 * value sets of 64-bit integers and strings, as fetch.c builds them.
 * tag: 0, or the caller's promise that every answer offered with this tag
 * holds the same values; the PDU made for it is then kept, and written
 * again as it is while the tag is offered.
 */
void pdu_offer(const pmResult *result, unsigned long tag);

/*
 * The PDU_RESULT for result, as __pmEncodeResult lays it out (network
 * order, value blocks after the value lists): *pdu points to it, in a
 * buffer owned here, its header still in host order as __pmXmitPDU wants
 * it.  Returns its length in bytes, or a negative PCP error.
 */
int pdu_encode(const pmResult *result, int from, char **pdu);

/* the count of answers encoded here, and of those sent again (for tests) */
unsigned long pdu_sent(void);
unsigned long pdu_sent_again(void);

/* release the buffer (agent shutdown) */
void pdu_free(void);

#endif /* BPFTRACE_PDU_H */
