static char help[] = "Times exact W1 or W2 (WLMTransportWassersteinSeq) between two Gaussian clouds.\n\
  -n <2000>  particles of x ~ N(0, I)\n\
  -m <n>     particles of y ~ N(0.5, I)\n\
  -dim <2>   dimension\n\
  -p <1>     1 for W1, 2 for W2\n\
  -reps <3>  timed calls; the median and the fastest are reported\n";

/*
   Benchmark of the exact transport solver.  Prints the sizes, the value, the
   median and fastest wall time and the peak resident memory of the process,
   for docs/benchmarks.md; -info adds the pivot counts.
*/
#include <wlm/wlmtransport.h>
#include <wlm/wlmsys.h>
#include <sys/resource.h>

static int CompareReals(const void *a, const void *b)
{
  const PetscReal u = *(const PetscReal *)a, v = *(const PetscReal *)b;

  return (u > v) - (u < v);
}

int main(int argc, char **argv)
{
  PetscInt       n = 2000, m = -1, dim = 2, p = 1, reps = 3;
  PetscReal     *x, *y, *times, w = 0;
  PetscLogDouble t0, t1;
  WLMRandom      r;
  struct rusage  usage;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(WLMInitializePackage());
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &n, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-m", &m, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-dim", &dim, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-p", &p, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-reps", &reps, NULL));
  if (m < 0) m = n;
  PetscCall(PetscMalloc3(n * dim, &x, m * dim, &y, reps, &times));
  WLMRandomSeed(&r, 2026, 0);
  for (PetscInt i = 0; i < n * dim; i++) x[i] = WLMRandomNormal(&r);
  for (PetscInt j = 0; j < m * dim; j++) y[j] = WLMRandomNormal(&r) + 0.5;

  for (PetscInt k = 0; k < reps; k++) {
    PetscCall(PetscTime(&t0));
    PetscCall(WLMTransportWassersteinSeq(p, dim, n, x, NULL, m, y, NULL, &w));
    PetscCall(PetscTime(&t1));
    times[k] = t1 - t0;
  }
  qsort(times, reps, sizeof(PetscReal), CompareReals);
  getrusage(RUSAGE_SELF, &usage);
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "W%" PetscInt_FMT " n %" PetscInt_FMT " m %" PetscInt_FMT " dim %" PetscInt_FMT " value %.15g median %.4f s fastest %.4f s maxrss %.1f MB\n", p, n, m, dim, (double)w, (double)times[reps / 2], (double)times[0], usage.ru_maxrss / 1024.0));
  PetscCall(PetscFree3(x, y, times));
  PetscCall(PetscFinalize());
  return 0;
}
