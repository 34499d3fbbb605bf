/*
 * tracepoints: bpftrace.info.tracepoints, the probes `bpftrace -l` lists,
 * gathered by a child while the agent's loop runs (the agent tells pmcd
 * it is ready once the list is in, or after a while: see pmda.c).
 */
#ifndef BPFTRACE_TRACEPOINTS_H
#define BPFTRACE_TRACEPOINTS_H

#include <poll.h>
#include <sys/types.h>

int tracepoints_start(const char *bpftrace_path);
int tracepoints_pollfds(struct pollfd *pfd);
void tracepoints_io(struct pollfd *pfd, int n, double now);
/* 1 if pid was the lister */
int tracepoints_reaped(pid_t pid, int wstatus);
/* 1 while the lister runs */
int tracepoints_pending(void);
/* comma separated, sorted, unique; "" until the list is complete */
const char *tracepoints_value(void);
void tracepoints_free(void);

#endif /* BPFTRACE_TRACEPOINTS_H */
