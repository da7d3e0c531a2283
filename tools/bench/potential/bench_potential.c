static char help[] = "Times the force evaluation, the force-cotangent products and the parameter gradient of a WLMPotential.\n\
  -n <1000>       particles over all ranks\n\
  -dim <2>        spatial dimension\n\
  -repeat <5>     timed calls of each kind after one warm-up call (the median is reported)\n\
  -skip_products  time only the forces\n\
  -combined_only  time only the call that returns forces and both products\n\
The model comes from the usual -wlm_potential_* options.\n";

/*
   Benchmark of one potential model on a population of N particles sharded
   over the ranks of PETSC_COMM_WORLD: positions and cotangents are standard
   normal, masses uniform.  The kinds of call are forces with energy,
   products with both outputs, the combined call that returns all four, and
   the parameter gradient with energy.  For each kind it reports the median
   wall time over the ranks (the slowest rank of each call) and the flop rate
   from the counts of PetscLogFlops() summed over the ranks.  The last line
   gives the peak resident memory of the largest rank (getrusage ru_maxrss).

   Example (attention at the flock sizes, one rank):
     OPENBLAS_NUM_THREADS=1 build/tools/bench/potential/bench_potential -n 1000 \
       -wlm_potential_type attention -wlm_potential_attention_hidden 64 \
       -wlm_potential_attention_heads 4 -wlm_potential_attention_ffn 512
*/
#include <wlm/wlmpotential.h>
#include <wlm/wlmsys.h>
#include <petsctime.h>
#include <time.h>
#include <sys/resource.h>

/* CPU time of this process in seconds; on a shared machine it shows how much of the wall time was spent waiting for a core. */
static PetscReal ProcessTime(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (PetscReal)ts.tv_sec + 1e-9 * (PetscReal)ts.tv_nsec;
}

static int CompareReal(const void *a, const void *b)
{
  const PetscReal x = *(const PetscReal *)a, y = *(const PetscReal *)b;

  return (x > y) - (x < y);
}

/*
   Times repeat calls of one kind (0 forces, 1 products, 2 forces and
   products in one call, 3 parameter gradient) after one warm-up call.  Returns the medians of the
   wall time and of the CPU time of the slowest rank, and the flops per call
   summed over the ranks.
*/
static PetscErrorCode TimeCalls(WLMPotential pot, PetscInt kind, PetscInt repeat, PetscInt n, const PetscReal *x, const PetscReal *lambda, PetscReal *F, PetscReal *G, PetscReal *T, PetscReal *seconds, PetscReal *cpu, PetscReal *flops)
{
  PetscReal     *times, *cpus, U, c0, local[2], slowest[2], fl;
  PetscLogDouble f0, f1, t0, t1;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(repeat, &times, repeat, &cpus));
  for (PetscInt r = -1; r < repeat; r++) {
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    PetscCall(PetscGetFlops(&f0));
    c0 = ProcessTime();
    PetscCall(PetscTime(&t0));
    if (kind == 0) PetscCall(WLMPotentialComputeForces(pot, 0.0, n, x, NULL, &U, F));
    else if (kind == 1) PetscCall(WLMPotentialComputeProducts(pot, 0.0, n, x, NULL, lambda, G, T));
    else if (kind == 2) PetscCall(WLMPotentialComputeForcesAndProducts(pot, 0.0, n, x, NULL, lambda, &U, F, G, T));
    else PetscCall(WLMPotentialComputeParameterGradient(pot, 0.0, n, x, NULL, &U, T));
    PetscCall(PetscTime(&t1));
    local[1] = ProcessTime() - c0;
    PetscCall(PetscGetFlops(&f1));
    if (r >= 0) {
      local[0] = (PetscReal)(t1 - t0);
      PetscCall(MPIU_Allreduce(local, slowest, 2, MPIU_REAL, MPIU_MAX, PETSC_COMM_WORLD));
      times[r] = slowest[0];
      cpus[r]  = slowest[1];
    }
  }
  qsort(times, (size_t)repeat, sizeof(PetscReal), CompareReal);
  qsort(cpus, (size_t)repeat, sizeof(PetscReal), CompareReal);
  *seconds = times[repeat / 2];
  *cpu     = cpus[repeat / 2];
  fl       = (PetscReal)(f1 - f0);
  PetscCall(MPIU_Allreduce(&fl, flops, 1, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
  PetscCall(PetscFree2(times, cpus));
  PetscFunctionReturn(0);
}

/* Prints one timing line: wall and CPU seconds, and the flop rate over all ranks by wall time. */
static PetscErrorCode PrintTiming(const char label[], PetscReal seconds, PetscReal cpu, PetscReal flops)
{
  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%-20s %9.4f s wall %9.4f s cpu  %7.2f GFLOP/s (%.3g flop)\n", label, (double)seconds, (double)cpu, (double)(flops / seconds * 1e-9), (double)flops));
  PetscFunctionReturn(0);
}

/* Prints the peak resident memory of the largest rank (Linux reports ru_maxrss in KiB). */
static PetscErrorCode PrintPeakMemory(void)
{
  struct rusage usage;
  PetscReal     megabytes, max_megabytes;

  PetscFunctionBeginUser;
  getrusage(RUSAGE_SELF, &usage);
  megabytes = (PetscReal)usage.ru_maxrss / 1024.0;
  PetscCall(MPIU_Allreduce(&megabytes, &max_megabytes, 1, MPIU_REAL, MPIU_MAX, PETSC_COMM_WORLD));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "peak resident memory: %.1f MB on the largest rank\n", (double)max_megabytes));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  WLMPotential pot;
  PetscInt     N = 1000, dim = 2, repeat = 5, n, start, np;
  PetscBool    skip = PETSC_FALSE, combined_only = PETSC_FALSE;
  PetscMPIInt  size, rank;
  PetscReal   *x, *lambda, *F, *G, *T, tf, cf, ff, tp = 0, cp = 0, fp = 0, tc = 0, cc = 0, fc = 0, tg = 0, cg = 0, fg = 0;
  WLMRandom    rng;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(WLMInitializePackage());
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "Potential benchmark options", NULL);
  PetscCall(PetscOptionsInt("-n", "Particles over all ranks", NULL, N, &N, NULL));
  PetscCall(PetscOptionsInt("-dim", "Spatial dimension", NULL, dim, &dim, NULL));
  PetscCall(PetscOptionsInt("-repeat", "Timed calls of each kind", NULL, repeat, &repeat, NULL));
  PetscCall(PetscOptionsBool("-skip_products", "Time only the forces", NULL, skip, &skip, NULL));
  PetscCall(PetscOptionsBool("-combined_only", "Time only the call that returns forces and both products", NULL, combined_only, &combined_only, NULL));
  PetscOptionsEnd();
  PetscCheck(N >= 1 && repeat >= 1, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-n %" PetscInt_FMT " and -repeat %" PetscInt_FMT " must be at least 1", N, repeat);

  /* ---- the model, sized for this rank's block ---- */
  start = (N * rank) / size;
  n     = (N * (rank + 1)) / size - start;
  PetscCall(WLMPotentialCreate(PETSC_COMM_WORLD, &pot));
  PetscCall(WLMPotentialSetDimension(pot, dim));
  PetscCall(WLMPotentialSetMaxParticles(pot, n, N));
  PetscCall(WLMPotentialSetFromOptions(pot));
  PetscCall(WLMPotentialSetUp(pot));
  PetscCall(WLMPotentialGetNumParameters(pot, &np));
  PetscCall(WLMPotentialView(pot, PETSC_VIEWER_STDOUT_WORLD));

  /* ---- this rank's particles: the same population whatever the rank count ---- */
  PetscCall(PetscMalloc5(n * dim, &x, n * dim, &lambda, n * dim, &F, n * dim, &G, np, &T));
  for (PetscInt i = 0; i < n; i++) {
    WLMRandomSeed(&rng, 1, (uint64_t)(start + i));
    for (PetscInt k = 0; k < dim; k++) {
      x[i * dim + k]      = WLMRandomNormal(&rng);
      lambda[i * dim + k] = WLMRandomNormal(&rng);
    }
  }
  PetscCall(PetscArrayzero(T, np));

  /* ---- timings ---- */
  if (combined_only) {
    PetscCall(TimeCalls(pot, 2, repeat, n, x, lambda, F, G, T, &tc, &cc, &fc));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "N %" PetscInt_FMT ", dim %" PetscInt_FMT ", %d rank(s), %" PetscInt_FMT " parameters\n", N, dim, size, np));
    PetscCall(PrintTiming("forces+products:", tc, cc, fc));
  } else {
    PetscCall(TimeCalls(pot, 0, repeat, n, x, lambda, F, G, T, &tf, &cf, &ff));
    if (!skip) {
      PetscCall(TimeCalls(pot, 1, repeat, n, x, lambda, F, G, T, &tp, &cp, &fp));
      PetscCall(TimeCalls(pot, 2, repeat, n, x, lambda, F, G, T, &tc, &cc, &fc));
      PetscCall(TimeCalls(pot, 3, repeat, n, x, lambda, F, G, T, &tg, &cg, &fg));
    }
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "N %" PetscInt_FMT ", dim %" PetscInt_FMT ", %d rank(s), %" PetscInt_FMT " parameters\n", N, dim, size, np));
    PetscCall(PrintTiming("forces:", tf, cf, ff));
    if (!skip) {
      PetscCall(PrintTiming("products:", tp, cp, fp));
      PetscCall(PrintTiming("forces+products:", tc, cc, fc));
      PetscCall(PrintTiming("parameter gradient:", tg, cg, fg));
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "(forces+products is one WLMPotentialComputeForcesAndProducts call; products/forces wall ratio %.2f, gradient/forces %.2f)\n", (double)(tp / tf), (double)(tg / tf)));
    }
  }
  PetscCall(PrintPeakMemory());

  PetscCall(PetscFree5(x, lambda, F, G, T));
  PetscCall(WLMPotentialDestroy(&pot));
  PetscCall(PetscFinalize());
  return 0;
}
