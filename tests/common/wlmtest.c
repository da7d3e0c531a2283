/*
   main() of every test program: PETSc and wlm initialization, a non-forking
   Check runner, failure reports from every rank, a common exit code, and an
   error for options that no test used (a misspelt option must not pass silently).
*/
#include "wlmtest.h"
#include <wlm/wlmsys.h>

PetscMPIInt wlm_test_size = 1, wlm_test_rank = 0;

/* Stores the message of the error just returned (or NULL when there was none). */
PetscErrorCode WLMTestRunQuietly(PetscErrorCode ierr, const char **message)
{
  const char *text;
  char       *specific = NULL;

  *message = NULL;
  if (!ierr) return 0;
  PetscErrorMessage(ierr, &text, &specific);
  *message = specific ? specific : text;
  return 0;
}

/* Prints this rank's failures; Check prints only rank 0's report. */
static void ReportFailuresOfRank(SRunner *sr)
{
  TestResult **results = srunner_failures(sr);
  int          nfailed = srunner_ntests_failed(sr);

  for (int i = 0; i < nfailed; i++) {
    fprintf(stderr, "[rank %d] %s:%d: %s: %s\n", wlm_test_rank, tr_lfile(results[i]), tr_lno(results[i]), tr_tcname(results[i]), tr_msg(results[i]));
  }
  free(results);
}

/* Number of options given to the program that nothing queried. */
static PetscErrorCode CountUnusedOptions(PetscInt *nunused)
{
  char   **names, **values;
  PetscInt n;

  PetscFunctionBeginUser;
  /* PetscFinalize() reads -options_left later; query it here so it does not count as unused */
  PetscCall(PetscOptionsHasName(NULL, NULL, "-options_left", NULL));
  PetscCall(PetscOptionsLeftGet(NULL, &n, &names, &values));
  for (PetscInt i = 0; i < n; i++) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "error: option -%s was given but not used by any test\n", names[i]));
  PetscCall(PetscOptionsLeftRestore(NULL, &n, &names, &values));
  *nunused = n;
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  SRunner *sr;
  int      nfailed, nfailed_all;
  PetscInt nunused = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(WLMInitializePackage());
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &wlm_test_size));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &wlm_test_rank));

  sr = srunner_create(WLMTestSuite());
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, wlm_test_rank == 0 ? CK_NORMAL : CK_SILENT);
  nfailed = srunner_ntests_failed(sr);
  if (wlm_test_rank > 0 && nfailed) ReportFailuresOfRank(sr);
  srunner_free(sr);

  PetscCallMPI(MPI_Allreduce(&nfailed, &nfailed_all, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD));
  PetscCall(CountUnusedOptions(&nunused));
  PetscCall(PetscFinalize());
  return (nfailed_all || nunused) ? 1 : 0;
}
