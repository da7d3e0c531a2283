static char help[] = "Cost of a training rollout (forward + adjoint) relative to the forward rollout alone.\n\
Options:\n\
  -n <400>        particles on each rank (one whole ensemble per rank, PETSC_COMM_SELF)\n\
  -dim <2>        spatial dimension\n\
  -nout <10>      output times 1, 2, ..., nout after t0 = 0 (a loss term at each)\n\
  -reps <20>      timed repetitions of each measurement; the medians are reported\n\
  -malloc_debug   also report the memory PETSc allocated, before and after the warm-up rollout\n\
  -wlm_potential_type <harmonic> and the model's options, -wlm_friction, -wlm_substeps,\n\
  -ts_type, -ts_rk_type, -ts_dt and the other WLMDynamics options.\n";

/*
   The benchmark times, on rank 0's ensemble, the forward rollout alone
   (what evaluation runs) and the rollout followed by its adjoint (what one
   training step runs, without the loss), and prints the median of each and
   their ratio.  The potential type "wellpair" of the tests is registered
   too, for a nonlinear model when no learned model is built.
*/
#include <wlm/wlmsys.h>
#include <wlm/wlmdynamics.h>
#include "wellpair.h"

static int CompareReal(const void *a, const void *b)
{
  const PetscReal x = *(const PetscReal *)a, y = *(const PetscReal *)b;

  return (x > y) - (x < y);
}

static PetscReal Median(PetscInt n, PetscReal v[])
{
  qsort(v, (size_t)n, sizeof(PetscReal), CompareReal);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
  PetscInt           n = 400, dim = 2, nout = 10, reps = 20, nparam, nsteps;
  PetscReal         *x0, *v0, *times, **X, **G, *gtheta, *dx0, *dv0, dlg, *tfwd, *ttrain, t0, t1;
  PetscLogDouble     mem0, mem1;
  PetscBool          tracked;
  WLMPotential       pot;
  WLMDynamics        dyn;
  TS                 ts;
  TSType             tstype;
  WLMPotentialType   pottype;
  WLMFrictionVariant variant;
  WLMRandom          rng;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(WLMInitializePackage());
  PetscCall(WLMTestRegisterWellPair());
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &n, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-dim", &dim, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-nout", &nout, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-reps", &reps, NULL));

  /* ---- model and dynamics, configured from the options ---- */
  PetscCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  PetscCall(WLMPotentialSetType(pot, WLMPOTENTIALHARMONIC));
  PetscCall(WLMPotentialSetDimension(pot, dim));
  PetscCall(WLMPotentialSetMaxParticles(pot, n, n));
  PetscCall(WLMPotentialSetFromOptions(pot));
  PetscCall(WLMPotentialSetUp(pot));
  PetscCall(WLMPotentialGetNumParameters(pot, &nparam));
  PetscCall(WLMDynamicsCreate(PETSC_COMM_SELF, &dyn));
  PetscCall(WLMDynamicsSetPotential(dyn, pot));
  PetscCall(WLMDynamicsSetFriction(dyn, 0.1));
  PetscCall(WLMDynamicsSetFromOptions(dyn));

  /* ---- a random ensemble, loss cotangents, output times 1..nout ---- */
  PetscCall(PetscMalloc6(n * dim, &x0, n * dim, &v0, nout, &times, nout, &X, nout, &G, nparam, &gtheta));
  PetscCall(PetscMalloc4(n * dim, &dx0, n * dim, &dv0, reps, &tfwd, reps, &ttrain));
  WLMRandomSeed(&rng, 7, 0);
  for (PetscInt i = 0; i < n * dim; i++) {
    x0[i] = WLMRandomNormal(&rng);
    v0[i] = 0.5 * WLMRandomNormal(&rng);
  }
  for (PetscInt m = 0; m < nout; m++) {
    times[m] = m + 1;
    PetscCall(PetscMalloc2(n * dim, &X[m], n * dim, &G[m]));
    for (PetscInt i = 0; i < n * dim; i++) G[m][i] = WLMRandomNormal(&rng) / (n * nout);
  }

  /* ---- warm-up rollout (sizes the workspaces and the trajectory), then timed repetitions ---- */
  PetscCall(PetscMallocGetCurrentUsage(&mem0));
  PetscCall(WLMDynamicsRollout(dyn, n, NULL, 0.0, x0, v0, nout, times, X, NULL));
  PetscCall(WLMDynamicsRolloutAdjoint(dyn, (const PetscReal *const *)G, NULL, gtheta, &dlg, dx0, dv0));
  PetscCall(PetscMallocGetCurrentUsage(&mem1));
  for (PetscInt r = 0; r < reps; r++) {
    PetscCall(PetscTime(&t0));
    PetscCall(WLMDynamicsRollout(dyn, n, NULL, 0.0, x0, v0, nout, times, X, NULL));
    PetscCall(PetscTime(&t1));
    tfwd[r] = t1 - t0;
    PetscCall(PetscTime(&t0));
    PetscCall(WLMDynamicsRollout(dyn, n, NULL, 0.0, x0, v0, nout, times, X, NULL));
    PetscCall(WLMDynamicsRolloutAdjoint(dyn, (const PetscReal *const *)G, NULL, gtheta, &dlg, dx0, dv0));
    PetscCall(PetscTime(&t1));
    ttrain[r] = t1 - t0;
  }

  /* ---- report ---- */
  PetscCall(WLMDynamicsGetRolloutSteps(dyn, &nsteps, NULL));
  PetscCall(WLMDynamicsGetTS(dyn, &ts));
  PetscCall(TSGetType(ts, &tstype));
  PetscCall(WLMPotentialGetType(pot, &pottype));
  PetscCall(WLMDynamicsGetFrictionVariant(dyn, &variant));
  {
    const PetscReal fwd = Median(reps, tfwd), train = Median(reps, ttrain);

    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "potential %s (%" PetscInt_FMT " parameters), n = %" PetscInt_FMT ", dim = %" PetscInt_FMT ", TS %s, variant %s, %" PetscInt_FMT " outputs, %" PetscInt_FMT " steps, %" PetscInt_FMT " repetitions\n", pottype, nparam, n, dim, tstype,
                          WLMFrictionVariants[variant], nout, nsteps, reps));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "forward rollout            median %10.3e s  (%9.3e s per step)\n", (double)fwd, (double)(fwd / nsteps)));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "rollout + adjoint          median %10.3e s  (%9.3e s per step)\n", (double)train, (double)(train / nsteps)));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "training / forward ratio   %.2f\n", (double)(train / fwd)));
    PetscCall(PetscMallocGetDebug(&tracked, NULL, NULL));
    if (tracked) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "memory allocated by the first rollout and adjoint: %.0f B (%.0f B per step)\n", (double)(mem1 - mem0), (double)((mem1 - mem0) / nsteps)));
  }

  for (PetscInt m = 0; m < nout; m++) PetscCall(PetscFree2(X[m], G[m]));
  PetscCall(PetscFree6(x0, v0, times, X, G, gtheta));
  PetscCall(PetscFree4(dx0, dv0, tfwd, ttrain));
  PetscCall(WLMDynamicsDestroy(&dyn));
  PetscCall(WLMPotentialDestroy(&pot));
  PetscCall(PetscFinalize());
  return 0;
}
