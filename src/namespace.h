/*
 * namespace: the dynamic PMNS under "bpftrace", PMIDs, help text, labels.
 *
 * Every metric of the agent is here: the control and info metrics (a
 * fixed catalogue), and per script the state metrics and one metric per
 * exported variable.  A script name keeps its PMID cluster, and a
 * variable its item, across agent restarts (a saved map), so pmlogger
 * never sees a logged metric change identity; a new name takes the next
 * cluster in turn, so that the clusters of scripts that are gone are
 * reused only after all others.  The only module that touches PMNS trees
 * and PMIDs.
 */
#ifndef BPFTRACE_NAMESPACE_H
#define BPFTRACE_NAMESPACE_H

#include <pcp/pmapi.h>
#include <pcp/pmda.h>

/* clusters and items */
#define NS_CLUSTER_CONTROL	0
#define  NS_CONTROL_REGISTER	0
#define  NS_CONTROL_DEREGISTER	1
#define  NS_CONTROL_START	2
#define  NS_CONTROL_STOP	3
#define NS_CLUSTER_INFO		1
#define  NS_INFO_SCRIPTS	0
#define  NS_INFO_SCRIPTS_JSON	1
#define  NS_INFO_TRACEPOINTS	2
#define NS_CLUSTER_FIRST_SCRIPT	100
#define NS_CLUSTER_MAX		4095	/* 12 bits */
/* per script */
#define  NS_SCRIPT_STATUS	0
#define  NS_SCRIPT_PID		1
#define  NS_SCRIPT_EXIT_CODE	2
#define  NS_SCRIPT_ERROR	3
#define  NS_SCRIPT_PROBES	4
#define  NS_SCRIPT_CODE		5
#define  NS_SCRIPT_DATA_BYTES	6
#define  NS_SCRIPT_FIRST_VAR	10
#define  NS_SCRIPT_MAX_VAR	999
#define  NS_SCRIPT_RESTARTS	1000
#define  NS_SCRIPT_LAST_EXIT	1001
#define  NS_SCRIPT_DROPPED_KEYS	1002
#define  NS_SCRIPT_PARSE_ERRORS	1003
#define  NS_SCRIPT_LOST_EVENTS	1004
#define  NS_SCRIPT_RUNTIME_ERRORS 1005

#define NS_INDOM_SCRIPTS	0	/* bpftrace.info.scripts */

/* saved map of names to clusters; NULL path keeps it in memory only */
int ns_init(pmdaInterface *dp, const char *mapfile);
/*
 * Bring tree, metric table and instance domains in line with the script
 * registry when it changed; cheap when it did not.  Call before serving
 * any request.  Returns 1 when names changed since the last call.
 */
int ns_sync(pmdaExt *pmda);
/* point every pmdaIndom at its variable's current instance set */
void ns_refresh_indoms(pmdaExt *pmda);
/* the static part of the table, for pmdaInit */
pmdaMetric *ns_metrics(int *n);
pmdaIndom *ns_indoms(int *n);

int ns_pmid(const char *name, pmID *pmid, pmdaExt *pmda);
int ns_name(pmID pmid, char ***nameset, pmdaExt *pmda);
int ns_children(const char *name, int traverse, char ***kids, int **sts, pmdaExt *pmda);
int ns_text(int ident, int type, char **buffer, pmdaExt *pmda);
int ns_label(int ident, int type, pmLabelSet **lpp, pmdaExt *pmda);

/* script owning a cluster, NULL if none */
struct script *ns_script(unsigned int cluster);
/* the data variable behind a pmid, NULL if none */
struct variable *ns_variable(pmID pmid);

void ns_free(void);

#endif /* BPFTRACE_NAMESPACE_H */
