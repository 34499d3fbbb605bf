/*
 * idle: what a PMDA's RSS is before it does any work.
 *
 * It links libpcp_pmda and libpcp as an agent does, sets up a pmdaInterface
 * the way an agent's main() does, then sleeps.  Its RSS is the part of any
 * agent's RSS that comes with libpcp and its libraries (libc, libcrypto,
 * libssl, libsasl2, libsystemd, ...): bench/run prints it beside the
 * agents' RSS, as the least a C agent on libpcp can measure.
 */
#include <signal.h>
#include <unistd.h>
#include <pcp/pmapi.h>
#include <pcp/pmda.h>

static pmdaInterface	dispatch;

int
main(int argc, char **argv)
{
    char	helptext[MAXPATHLEN];

    (void)argc;
    pmSetProgname(argv[0]);
    pmsprintf(helptext, sizeof(helptext), "%s/pmdas/bpftrace/help", pmGetConfig("PCP_VAR_DIR"));
    pmdaDaemon(&dispatch, PMDA_INTERFACE_7, pmGetProgname(), 151, NULL, helptext);
    for (;;)
	pause();
    return 0;
}
