/*
   Short error reports for the drivers.  PETSc's default handler prints a
   full traceback with the configure line of the PETSc build on every rank;
   users of wlm_mpi need the message, the rank and the place instead.
*/
#define _POSIX_C_SOURCE 200809L /* sleep under -std=c11 */
#include <wlm/wlmsys.h>
#include <unistd.h>

static PetscBool wlm_full_traceback = PETSC_FALSE;

/* Prints the initial message with the rank that raised it (once per communicator when every rank raised it), then one line per frame with -wlm_error_traceback. */
static PetscErrorCode WLMShortErrorHandler(MPI_Comm comm, int line, const char *func, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  PetscMPIInt world_rank = 0, comm_rank = 0, comm_size = 1;
  const char *text       = NULL;

  (void)ctx;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  if (comm != MPI_COMM_NULL) {
    MPI_Comm_rank(comm, &comm_rank);
    MPI_Comm_size(comm, &comm_size);
  }
  if (p == PETSC_ERROR_INITIAL && comm_size > 1 && comm_rank != 0) {
    /*
       A collective error is usually raised on every rank, and rank 0 prints
       it.  But a check on a communicator can also fail on this rank alone,
       when its condition depends on rank-local data, and then only this rank
       can print the message.  Waiting briefly first lets the MPI_Abort that
       follows rank 0's report end this process before it prints a duplicate.
    */
    sleep(1);
  }
  if (p == PETSC_ERROR_INITIAL) {
    PetscErrorMessage(n, &text, NULL);
    fprintf(stderr, "[rank %d] error: %s\n", world_rank, mess && mess[0] ? mess : (text ? text : "unknown error"));
    fprintf(stderr, "[rank %d]   (%s, raised in %s() at %s:%d%s)\n", world_rank, text ? text : "PETSc error", func, file, line, wlm_full_traceback ? "" : "; -wlm_error_traceback prints the call stack");
  } else if (wlm_full_traceback) {
    fprintf(stderr, "[rank %d]   called from %s() at %s:%d\n", world_rank, func, file, line);
  }
  fflush(stderr);
  return n;
}

/*@
  WLMPushErrorHandler - Installs the short error reports used by the wlm drivers.

  Options Database Key:
. -wlm_error_traceback - also print every frame of the call stack

  Notes:
  Tests keep PETSc's default handler; drivers call this after PetscInitialize().
@*/
PetscErrorCode WLMPushErrorHandler(void)
{
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-wlm_error_traceback", &wlm_full_traceback, NULL));
  PetscCall(PetscPushErrorHandler(WLMShortErrorHandler, NULL));
  PetscFunctionReturn(0);
}

/*@
  WLMOptionsCheckUnused - Fails when an option was given that nothing has read, which usually means a misspelling.

  Collective

  Notes:
  Call it after every object has been set up from the options.  Viewer
  options (names containing "view") are read by PETSc only when the viewed
  object finishes its work, so they are left to -options_left at exit.
@*/
PetscErrorCode WLMOptionsCheckUnused(MPI_Comm comm)
{
  char   **names, **values;
  PetscInt n, nunused = 0;
  char     first[256] = "";

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsHasName(NULL, NULL, "-options_left", NULL));
  PetscCall(PetscOptionsLeftGet(NULL, &n, &names, &values));
  for (PetscInt i = 0; i < n; i++) {
    if (strstr(names[i], "view")) continue;
    if (!nunused) PetscCall(PetscStrncpy(first, names[i], sizeof(first)));
    PetscCall(PetscPrintf(comm, "error: option -%s was given but no part of wlm reads it\n", names[i]));
    nunused++;
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &n, &names, &values));
  PetscCheck(!nunused, comm, PETSC_ERR_ARG_WRONG, "%" PetscInt_FMT " unknown option(s), the first is -%s; check the spelling against -help", nunused, first);
  PetscFunctionReturn(0);
}
