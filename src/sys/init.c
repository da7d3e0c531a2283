/*
   Package initialization: registers every module's classes, types and log
   events once, and sets the default thread count of BLAS and OpenMP.
*/
#include <wlm/wlmsys.h>
#include <wlm/wlmsnapshots.h>
#include <wlm/wlmpotential.h>
#include <wlm/wlmdynamics.h>
#include <wlm/wlmloss.h>
#include <wlm/wlmtransport.h>
#include <wlm/wlmvelocity.h>
#include <wlm/wlmtrain.h>
#include <wlm/private/h5util.h>
#include <wlmversion.h>
#include <cblas.h>
#if defined(_OPENMP)
  #include <omp.h>
#endif

static PetscBool WLMPackageInitialized = PETSC_FALSE;

/*@
  WLMSetNumThreads - Sets the number of threads that BLAS and OpenMP regions use on this rank.

  Input Parameter:
. nthreads - threads per rank, at least 1

  Notes:
  With one MPI rank per core, more than one thread per rank oversubscribes the
  cores; WLMInitializePackage() therefore sets 1 unless the user set
  OPENBLAS_NUM_THREADS or OMP_NUM_THREADS, or passed -wlm_threads.
@*/
PetscErrorCode WLMSetNumThreads(PetscInt nthreads)
{
  PetscFunctionBeginUser;
  PetscCheck(nthreads >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Thread count %" PetscInt_FMT " is invalid; use at least 1", nthreads);
  openblas_set_num_threads((int)nthreads);
#if defined(_OPENMP)
  omp_set_num_threads((int)nthreads);
#endif
  PetscFunctionReturn(0);
}

/* Applies -wlm_threads, or 1 thread per rank when neither the option nor the usual environment variables set a count. */
static PetscErrorCode WLMSetDefaultThreads(void)
{
  PetscInt  nthreads = 1;
  PetscBool set;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-wlm_threads", &nthreads, &set));
  if (!set && (getenv("OPENBLAS_NUM_THREADS") || getenv("OMP_NUM_THREADS"))) PetscFunctionReturn(0);
  PetscCall(WLMSetNumThreads(nthreads));
  PetscFunctionReturn(0);
}

/*@
  WLMGetVersion - Returns the wlm version and the git revision it was built from.

  Output Parameters:
+ version  - release version, for example "0.1.0"
- revision - output of git describe at build time, or "unknown"
@*/
PetscErrorCode WLMGetVersion(const char **version, const char **revision)
{
  PetscFunctionBeginUser;
  if (version) *version = WLM_VERSION;
  if (revision) *revision = WLM_GIT_REVISION;
  PetscFunctionReturn(0);
}

/*@
  WLMFinalizePackage - Marks the package as finalized; called by PetscFinalize().
@*/
PetscErrorCode WLMFinalizePackage(void)
{
  PetscFunctionBeginUser;
  WLMPackageInitialized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMInitializePackage - Registers the classes, types and log events of every wlm module.

  Notes:
  Call it once after PetscInitialize(); further calls do nothing.  It also
  applies the thread policy of WLMSetNumThreads().
@*/
PetscErrorCode WLMInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMPackageInitialized) PetscFunctionReturn(0);
  WLMPackageInitialized = PETSC_TRUE;
  PetscCall(WLMH5Silence());
  PetscCall(WLMSnapshotsInitializePackage());
  PetscCall(WLMPotentialInitializePackage());
  PetscCall(WLMDynamicsInitializePackage());
  PetscCall(WLMLossInitializePackage());
  PetscCall(WLMTransportInitializePackage());
  PetscCall(WLMVelocityInitializePackage());
  PetscCall(WLMTrainInitializePackage());
  PetscCall(WLMSetDefaultThreads());
  PetscCall(PetscRegisterFinalize(WLMFinalizePackage));
  PetscFunctionReturn(0);
}
