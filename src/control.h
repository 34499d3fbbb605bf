/*
 * control: the pmstore API (bpftrace.control.*), its per-context answers,
 * who may use it, drop-in file events, and the scripts' JSON form shared
 * with bpftrace.info.scripts_json - the contract of PCP's Python agent
 * and grafana-pcp (see shared/docs/grafana-pcp-contract.md).
 */
#ifndef BPFTRACE_CONTROL_H
#define BPFTRACE_CONTROL_H

#include <pcp/pmapi.h>
#include <pcp/pmda.h>
#include "config.h"
#include "watch.h"

#ifndef pmdaResult
#define pmdaResult pmResult
#endif

void control_init(const config_t *cfg);
/* PMDA_ATTR_USERID / PMDA_ATTR_USERNAME from pmcd */
int control_attribute(int ctx, int attr, const char *value, int length, pmdaExt *pmda);
void control_end_context(int ctx);
/* stores to bpftrace.control.* */
int control_store(pmdaResult *result, pmdaExt *pmda);
/* the answer waiting for this context (returned once), "{}" if none */
const char *control_answer(int ctx, int item);
/* bpftrace.info.scripts_json: always a valid JSON array */
const char *control_scripts_json(void);
/* a drop-in file appeared, changed or went (watch_cb_t) */
int control_dropin(void *arg, watch_event_t ev, const char *path,
		const char *name, const char *text, size_t len);
void control_free(void);

#endif /* BPFTRACE_CONTROL_H */
