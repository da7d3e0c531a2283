/*
   Test-only failure injection.  The environment variable

     WLM_TEST_FAIL=<point>:<rank>[:<skip>][,<point>:<rank>[:<skip>]...]

   makes the named rank of MPI_COMM_WORLD fail at one of the points the code
   marks with WLMTestFailureInject() (load, step, eval, checkpoint) or see a
   non-finite loss where it calls WLMTestFailureRequested("nan"), or kill
   itself with SIGKILL inside a checkpoint write ("kill-in-checkpoint").  Only that
   rank fails, after passing the point <skip> times (default 0), so the tests of the drivers can check that an error raised on
   one rank ends the whole job instead of leaving the others waiting in a
   collective.  The point name with "-collective" appended (step-collective)
   raises the error on PETSC_COMM_WORLD instead of PETSC_COMM_SELF, as a
   check whose condition holds on one rank only would.  Without the variable
   both functions do nothing.
*/
#include <wlm/wlmsys.h>
#include <stdlib.h>
#include <string.h>

/*@C
  WLMTestFailureRequested - Whether WLM_TEST_FAIL names this point for this rank of MPI_COMM_WORLD.

  Not Collective
@*/
PetscBool WLMTestFailureRequested(const char point[])
{
  static int  passes[16]; /* times each item of the list has matched so far */
  const char *spec = getenv("WLM_TEST_FAIL");
  size_t      len  = strlen(point);
  PetscMPIInt rank = 0;
  int         k    = 0;

  if (!spec || !spec[0]) return PETSC_FALSE;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (const char *item = spec; item && k < 16; item = strchr(item, ','), k++) {
    char *end;
    long  target, skip = 0;

    if (*item == ',') item++;
    if (strncmp(item, point, len) != 0 || item[len] != ':') continue;
    target = strtol(item + len + 1, &end, 10);
    if (*end == ':') skip = strtol(end + 1, NULL, 10);
    if (target == rank && passes[k]++ >= skip) return PETSC_TRUE;
  }
  return PETSC_FALSE;
}

/*@C
  WLMTestFailureInject - Raises an error on this rank alone when WLM_TEST_FAIL names this point and rank.

  Not Collective
@*/
PetscErrorCode WLMTestFailureInject(const char point[])
{
  PetscMPIInt rank;
  char        collective[64];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  PetscCall(PetscSNPrintf(collective, sizeof(collective), "%s-collective", point));
  PetscCheck(!WLMTestFailureRequested(collective), PETSC_COMM_WORLD, PETSC_ERR_LIB, "Injected test failure at point \"%s\" on rank %d (WLM_TEST_FAIL=%s); unset WLM_TEST_FAIL for a normal run", collective, rank, getenv("WLM_TEST_FAIL"));
  if (!WLMTestFailureRequested(point)) PetscFunctionReturn(0);
  SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "Injected test failure at point \"%s\" on rank %d (WLM_TEST_FAIL=%s); unset WLM_TEST_FAIL for a normal run", point, rank, getenv("WLM_TEST_FAIL"));
}
