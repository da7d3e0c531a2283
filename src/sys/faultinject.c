/*
   Test-only failure injection.  The environment variable

     WLM_TEST_FAIL=<point>:<rank>[,<point>:<rank>...]

   makes the named rank of MPI_COMM_WORLD fail at one of the points the code
   marks with WLMTestFailureInject() (load, step, eval, checkpoint) or see a
   non-finite loss where it asks WLMTestFailureRequested("nan").  Only that
   rank fails, so the tests of the drivers can check that an error raised on
   one rank ends the whole job instead of leaving the others waiting in a
   collective.  Without the variable both functions do nothing.
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
  const char *spec = getenv("WLM_TEST_FAIL");
  size_t      len  = strlen(point);
  PetscMPIInt rank = 0;

  if (!spec || !spec[0]) return PETSC_FALSE;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (const char *item = spec; item; item = strchr(item, ',')) {
    if (*item == ',') item++;
    if (strncmp(item, point, len) == 0 && item[len] == ':' && atoi(item + len + 1) == rank) return PETSC_TRUE;
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

  PetscFunctionBeginUser;
  if (!WLMTestFailureRequested(point)) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "Injected test failure at point \"%s\" on rank %d (WLM_TEST_FAIL=%s); unset WLM_TEST_FAIL for a normal run", point, rank, getenv("WLM_TEST_FAIL"));
}
