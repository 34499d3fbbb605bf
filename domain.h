/*
 * pmdabpftrace: the domain of PCP's bpftrace agent (stdpmid BPFTRACE)
 */
#define BPFTRACE 151
