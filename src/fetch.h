/*
 * fetch: answer a fetch without allocating per value.
 *
 * pmdaFetch() mallocs a pmValueBlock for every 64-bit or string value and
 * frees them all after the answer is sent; for a map of thousands of keys
 * that is most of the agent's time per fetch.  Here the values of keyed
 * data variables are laid out in one arena that lives from fetch to fetch
 * (it only grows), straight from the variable's active set, in the order
 * and with the instance profile pmdaFetch would use.  Every other metric
 * still goes through pmdaFetch() and the fetch callback.
 */
#ifndef BPFTRACE_FETCH_H
#define BPFTRACE_FETCH_H

#include <pcp/pmapi.h>
#include <pcp/pmda.h>

/* the dispatch table's fetch (after the namespace is in sync) */
int fetch_values(int numpmid, pmID *pmidlist, pmResult **resp, pmdaExt *pmda);

/* the dispatch table's profile: pmdaProfile, counted (a kept answer is stale) */
int fetch_set_profile(pmProfile *prof, pmdaExt *pmda);
/* pmdaSetResultCallBack: frees what pmdaFetch() made, keeps the arena */
void fetch_result_free(pmResult *result);

/* release the arena (agent shutdown) */
void fetch_free(void);

#endif /* BPFTRACE_FETCH_H */
