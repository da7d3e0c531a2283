static char help[] = "Times the force evaluation and the force-cotangent products of a WLMPotential.\n\
  -n <1000>       particles over all ranks\n\
  -dim <2>        spatial dimension\n\
  -repeat <5>     timed calls of each kind after one warm-up call (the median is reported)\n\
  -skip_products  time only the forces\n\
The model comes from the usual -wlm_potential_* options.\n";

/*
   Benchmark of one potential model on a population of N particles sharded
   over the ranks of PETSC_COMM_WORLD: positions and cotangents are standard
   normal, masses uniform.  For each kind of call (forces with energy, and
   products with both outputs) it reports the median wall time over the
   ranks (the slowest rank of each call) and the flop rate from the counts
   of PetscLogFlops() summed over the ranks.

   Example (attention at the flock sizes, one rank):
     OPENBLAS_NUM_THREADS=1 build/tools/bench/potential/bench_potential -n 1000 \
       -wlm_potential_type attention -wlm_potential_attention_hidden 64 \
       -wlm_potential_attention_heads 4 -wlm_potential_attention_ffn 512
*/
#include <wlm/wlmpotential.h>
#include <wlm/wlmsys.h>
#include <petsctime.h>

static int CompareReal(const void *a, const void *b)
{
  const PetscReal x = *(const PetscReal *)a, y = *(const PetscReal *)b;

  return (x > y) - (x < y);
}

/* Times repeat calls of one kind (0 forces, 1 products); returns the median of the slowest rank's times and the flops per call over all ranks. */
static PetscErrorCode TimeCalls(WLMPotential pot, PetscInt kind, PetscInt repeat, PetscInt n, const PetscReal *x, const PetscReal *lambda, PetscReal *F, PetscReal *G, PetscReal *T, PetscReal *seconds, PetscReal *flops)
{
  PetscReal     *times, U;
  PetscLogDouble f0, f1, t0, t1;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(repeat, &times));
  for (PetscInt r = -1; r < repeat; r++) {
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    PetscCall(PetscGetFlops(&f0));
    PetscCall(PetscTime(&t0));
    if (kind == 0) PetscCall(WLMPotentialComputeForces(pot, 0.0, n, x, NULL, &U, F));
    else PetscCall(WLMPotentialComputeProducts(pot, 0.0, n, x, NULL, lambda, G, T));
    PetscCall(PetscTime(&t1));
    PetscCall(PetscGetFlops(&f1));
    if (r >= 0) {
      PetscReal local = (PetscReal)(t1 - t0);

      PetscCall(MPIU_Allreduce(&local, &times[r], 1, MPIU_REAL, MPIU_MAX, PETSC_COMM_WORLD));
    }
  }
  qsort(times, (size_t)repeat, sizeof(PetscReal), CompareReal);
  *seconds = times[repeat / 2];
  {
    PetscReal local = (PetscReal)(f1 - f0);

    PetscCall(MPIU_Allreduce(&local, flops, 1, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
  }
  PetscCall(PetscFree(times));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  WLMPotential pot;
  PetscInt     N = 1000, dim = 2, repeat = 5, n, start, np;
  PetscBool    skip = PETSC_FALSE;
  PetscMPIInt  size, rank;
  PetscReal   *x, *lambda, *F, *G, *T, tf, ff, tp = 0, fp = 0;
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
  PetscCall(TimeCalls(pot, 0, repeat, n, x, lambda, F, G, T, &tf, &ff));
  if (!skip) PetscCall(TimeCalls(pot, 1, repeat, n, x, lambda, F, G, T, &tp, &fp));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "N %" PetscInt_FMT ", dim %" PetscInt_FMT ", %d rank(s), %" PetscInt_FMT " parameters\n", N, dim, size, np));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "forces:           %10.4f s  %8.2f GFLOP/s (%.3g flop)\n", (double)tf, (double)(ff / tf * 1e-9), (double)ff));
  if (!skip) {
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "products:         %10.4f s  %8.2f GFLOP/s (%.3g flop)\n", (double)tp, (double)(fp / tp * 1e-9), (double)fp));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "forces + products: %9.4f s  %8.2f GFLOP/s, products / forces %.2f\n", (double)(tf + tp), (double)((ff + fp) / (tf + tp) * 1e-9), (double)(tp / tf)));
  }

  PetscCall(PetscFree5(x, lambda, F, G, T));
  PetscCall(WLMPotentialDestroy(&pot));
  PetscCall(PetscFinalize());
  return 0;
}
