/*
   SIGTERM and SIGUSR1 handling for batch jobs.  SLURM sends SIGUSR1 (with
   --signal) or SIGTERM before a time limit; the handler only sets a flag,
   and the trainer reads it at the end of a step (it travels in the step's
   gradient allreduce), writes a checkpoint and exits normally.
*/
#define _POSIX_C_SOURCE 200809L /* sigaction under -std=c11 */
#include <wlm/private/trainimpl.h>
#include <signal.h>

static volatile sig_atomic_t wlm_signal_received = 0;

static void SetFlag(int sig)
{
  (void)sig;
  wlm_signal_received = 1;
}

/*@
  WLMTrainerInstallSignalHandlers - Makes SIGTERM and SIGUSR1 request a checkpoint and a clean stop, and ignores SIGXFSZ.

  Not Collective
@*/
PetscErrorCode WLMTrainerInstallSignalHandlers(void)
{
  struct sigaction action;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&action, sizeof(action)));
  action.sa_handler = SetFlag;
  sigemptyset(&action.sa_mask);
  PetscCheck(sigaction(SIGTERM, &action, NULL) == 0, PETSC_COMM_SELF, PETSC_ERR_SYS, "Could not install the SIGTERM handler");
  PetscCheck(sigaction(SIGUSR1, &action, NULL) == 0, PETSC_COMM_SELF, PETSC_ERR_SYS, "Could not install the SIGUSR1 handler");
  /* past a file-size limit (ulimit -f) a write then fails with EFBIG, which is reported, instead of killing the process */
  action.sa_handler = SIG_IGN;
  PetscCheck(sigaction(SIGXFSZ, &action, NULL) == 0, PETSC_COMM_SELF, PETSC_ERR_SYS, "Could not ignore SIGXFSZ");
  PetscFunctionReturn(0);
}

/* Whether this rank received SIGTERM or SIGUSR1 since the handlers were installed. */
PetscBool WLMTrainerSignalReceived(void)
{
  return wlm_signal_received ? PETSC_TRUE : PETSC_FALSE;
}

/* Forgets a received signal once the trainer has acted on it, so a later run in the same process starts clean. */
void WLMTrainerSignalClear(void)
{
  wlm_signal_received = 0;
}
