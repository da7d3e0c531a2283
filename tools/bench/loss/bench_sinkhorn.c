static char help[] = "Times WLMLossCompute (value and gradient) on two Gaussian clouds.\n\
  -n <1000>       particles of the predicted cloud x ~ N(0, I)\n\
  -m <n>          particles of the observed cloud y ~ N(0.5, I)\n\
  -dim <2>        dimension\n\
  -reps <3>       timed calls; the median and the fastest are reported\n\
  -ranks_share    split both clouds over PETSC_COMM_WORLD (default: every rank computes alone)\n\
  -dgemm_n <0>    also time cblas_dgemm on n x n matrices, as the reference flop rate\n\
  and the loss options -wlm_loss_type, -wlm_loss_p, -wlm_loss_blur, -wlm_loss_scaling.\n";

/*
   Benchmark of the losses.  Prints one line per run with the sizes, the
   blur, the Sinkhorn steps, the median and fastest wall time of a call with
   gradient, the flop rate from the counts the kernels log, and the peak
   resident memory of the process (getrusage), for docs/benchmarks.md.
*/
#include <wlm/wlmloss.h>
#include <wlm/wlmsys.h>
#include <cblas.h>
#include <sys/resource.h>

static int CompareReals(const void *a, const void *b)
{
  const PetscReal u = *(const PetscReal *)a, v = *(const PetscReal *)b;

  return (u > v) - (u < v);
}

/* Rate of cblas_dgemm on n x n matrices in GFLOP/s, best of 3. */
static PetscErrorCode DgemmRate(PetscInt n, PetscReal *gflops)
{
  PetscReal     *A, *B, *C, best = PETSC_MAX_REAL;
  PetscLogDouble t0, t1;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(n * n, &A, n * n, &B, n * n, &C));
  for (PetscInt i = 0; i < n * n; i++) {
    A[i] = 1.0 / (1 + i % 7);
    B[i] = 1.0 / (1 + i % 5);
  }
  for (PetscInt r = 0; r < 3; r++) {
    PetscCall(PetscTime(&t0));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
    PetscCall(PetscTime(&t1));
    best = PetscMin(best, t1 - t0);
  }
  *gflops = 2.0 * n * n * n / best * 1e-9;
  PetscCall(PetscFree3(A, B, C));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt       n = 1000, m = -1, dim = 2, reps = 3, nsteps = 0, dgemm_n = 0, x0 = 0, x1, y0 = 0, y1;
  PetscBool      share = PETSC_FALSE;
  PetscReal     *x, *y, *grad, *times, value = 0, blur, p_flops = 0;
  PetscLogDouble t0, t1, f0, f1;
  MPI_Comm       comm;
  PetscMPIInt    size, rank;
  WLMLoss        loss;
  WLMLossType    type;
  WLMRandom      r;
  struct rusage  usage;

  /* ---- options and data ---- */
  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(WLMInitializePackage());
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &n, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-m", &m, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-dim", &dim, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-reps", &reps, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-dgemm_n", &dgemm_n, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-ranks_share", &share, NULL));
  if (m < 0) m = n;
  comm = share ? PETSC_COMM_WORLD : PETSC_COMM_SELF;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (dgemm_n > 0) {
    PetscReal gflops = 0;

    PetscCall(DgemmRate(dgemm_n, &gflops));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "dgemm n %" PetscInt_FMT " rate %.2f GFLOP/s\n", dgemm_n, (double)gflops));
  }
  PetscCall(PetscMalloc4(n * dim, &x, m * dim, &y, n * dim, &grad, reps, &times));
  WLMRandomSeed(&r, 2026, 0);
  for (PetscInt i = 0; i < n * dim; i++) x[i] = WLMRandomNormal(&r);
  for (PetscInt j = 0; j < m * dim; j++) y[j] = WLMRandomNormal(&r) + 0.5;
  x1 = n;
  y1 = m;
  if (share) {
    x0 = n * rank / size;
    x1 = n * (rank + 1) / size;
    y0 = m * rank / size;
    y1 = m * (rank + 1) / size;
  }

  /* ---- the loss ---- */
  PetscCall(WLMLossCreate(comm, &loss));
  PetscCall(WLMLossSetDimension(loss, dim));
  PetscCall(WLMLossSetFromOptions(loss));
  PetscCall(WLMLossSetUp(loss));

  /* ---- timed calls; the first call also sizes the workspaces ---- */
  for (PetscInt k = 0; k < reps; k++) {
    PetscCallMPI(MPI_Barrier(comm));
    PetscCall(PetscGetFlops(&f0));
    PetscCall(PetscTime(&t0));
    PetscCall(WLMLossCompute(loss, x1 - x0, x + x0 * dim, NULL, y1 - y0, y + y0 * dim, NULL, &value, grad));
    PetscCall(PetscTime(&t1));
    PetscCall(PetscGetFlops(&f1));
    times[k] = t1 - t0;
    p_flops  = (f1 - f0) / (t1 - t0) * 1e-9;
  }
  qsort(times, reps, sizeof(PetscReal), CompareReals);

  /* ---- report ---- */
  PetscCall(WLMLossGetType(loss, &type));
  PetscCall(WLMLossGetBlur(loss, &blur));
  PetscCall(WLMLossSinkhornGetStepCount(loss, &nsteps));
  getrusage(RUSAGE_SELF, &usage);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s n %" PetscInt_FMT " m %" PetscInt_FMT " dim %" PetscInt_FMT " ranks %d blur %.4g steps %" PetscInt_FMT " value %.10g median %.4f s fastest %.4f s rate %.2f GFLOP/s per rank maxrss %.1f MB\n", type, n, m, dim, size, (double)blur, nsteps, (double)value, (double)times[reps / 2], (double)times[0], (double)p_flops, usage.ru_maxrss / 1024.0));
  PetscCall(WLMLossDestroy(&loss));
  PetscCall(PetscFree4(x, y, grad, times));
  PetscCall(PetscFinalize());
  return 0;
}
