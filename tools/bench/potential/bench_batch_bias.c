static char help[] = "Bias and spread of meanfield rollouts with random batches, against the rollout with all pairs.\n\
Options:\n\
  -n <64>          particles\n\
  -seeds <100>     random-batch seeds per batch size\n\
  -t <1>           rollout length (one output time)\n\
  -friction <0.5>  friction gamma\n\
  -scale <1>       factor applied to every weight of the pair network, for stronger interactions\n";

/*
   A fixed meanfield model (no external field, pair network 16,16 tanh with
   PyTorch-style random weights, d = 2) and a fixed initial state (standard
   normal positions, zero velocities) define a known system: the rollout with
   all pairs is the reference X.  For batch sizes K and step counts S, the
   benchmark rolls out with -seeds different batch seeds and reports

     bias   = RMS over particles of |mean over seeds of X_K - X|
     spread = RMS over particles of the standard deviation over seeds of X_K

   The bias estimate contains the sampling error of the mean, whose RMS is
   about spread / sqrt(seeds).  The column "net bias" removes it in
   quadrature: sqrt(max(bias^2 - spread^2 / seeds, 0)).  The RMS distance that the
   particles move in the reference rollout sets the scale.
*/
#include <wlm/wlmsys.h>
#include <wlm/wlmdynamics.h>

int main(int argc, char **argv)
{
  const PetscInt dim = 2, hidden[2] = {16, 16}, batches[4] = {4, 8, 16, 32}, substeps[2] = {8, 32};
  PetscInt       n = 64, seeds = 100, nparam;
  PetscReal      T = 1.0, gamma = 0.5, scale = 1.0, *theta, *x0, *v0, *ref, *X, *mean, *sq;
  WLMRandom      r;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(WLMInitializePackage());
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &n, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-seeds", &seeds, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-t", &T, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-friction", &gamma, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-scale", &scale, NULL));
  PetscCall(PetscMalloc6(n * dim, &x0, n * dim, &v0, n * dim, &ref, n * dim, &X, n * dim, &mean, n * dim, &sq));
  WLMRandomSeed(&r, 5, 0);
  for (PetscInt i = 0; i < n * dim; i++) {
    x0[i] = WLMRandomNormal(&r);
    v0[i] = 0;
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%8s %4s %12s %12s %12s %12s\n", "steps", "K", "bias", "spread", "bias stderr", "net bias"));

  for (PetscInt si = 0; si < 2; si++) {
    for (PetscInt ki = -1; ki < 4; ki++) {
      const PetscInt K = ki < 0 ? 0 : batches[ki];
      WLMPotential   pot;
      WLMDynamics    dyn;
      PetscReal      bias = 0, spread = 0;

      /* ---- the model with batches of K (0: all pairs) and its dynamics ---- */
      PetscCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
      PetscCall(WLMPotentialSetType(pot, WLMPOTENTIALMEANFIELD));
      PetscCall(WLMPotentialSetDimension(pot, dim));
      PetscCall(WLMPotentialMeanfieldSetExternal(pot, PETSC_FALSE));
      PetscCall(WLMPotentialMeanfieldSetPairHidden(pot, 2, hidden));
      PetscCall(WLMPotentialMeanfieldSetPairActivation(pot, WLM_ACTIVATION_TANH));
      PetscCall(WLMPotentialMeanfieldSetBatch(pot, K));
      PetscCall(WLMPotentialSetUp(pot));
      PetscCall(WLMPotentialInitializeParameters(pot, 7));
      PetscCall(WLMPotentialGetNumParameters(pot, &nparam));
      PetscCall(WLMPotentialGetParameterArray(pot, &theta));
      for (PetscInt p = 0; p < nparam; p++) theta[p] *= scale;
      PetscCall(WLMDynamicsCreate(PETSC_COMM_SELF, &dyn));
      PetscCall(WLMDynamicsSetPotential(dyn, pot));
      PetscCall(WLMDynamicsSetFriction(dyn, gamma));
      PetscCall(WLMDynamicsSetSubsteps(dyn, substeps[si]));
      PetscCall(WLMDynamicsSetUp(dyn));

      /* ---- the reference, then the mean and spread over seeds ---- */
      if (K == 0) {
        PetscReal motion = 0;

        PetscCall(WLMDynamicsRollout(dyn, n, NULL, 0.0, x0, v0, 1, &T, &ref, NULL));
        for (PetscInt e = 0; e < n * dim; e++) motion += (ref[e] - x0[e]) * (ref[e] - x0[e]) / n;
        PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%8" PetscInt_FMT " steps: RMS motion of the reference rollout %.3e\n", substeps[si], (double)PetscSqrtReal(motion)));
      } else {
        PetscCall(PetscArrayzero(mean, n * dim));
        PetscCall(PetscArrayzero(sq, n * dim));
        for (PetscInt s = 0; s < seeds; s++) {
          PetscCall(WLMPotentialMeanfieldSetBatchSeed(pot, (uint64_t)s));
          PetscCall(WLMDynamicsRollout(dyn, n, NULL, 0.0, x0, v0, 1, &T, &X, NULL));
          for (PetscInt e = 0; e < n * dim; e++) {
            mean[e] += X[e] / seeds;
            sq[e] += X[e] * X[e] / seeds;
          }
        }
        for (PetscInt i = 0; i < n; i++) {
          PetscReal b2 = 0, s2 = 0;

          for (PetscInt k = 0; k < dim; k++) {
            b2 += (mean[i * dim + k] - ref[i * dim + k]) * (mean[i * dim + k] - ref[i * dim + k]);
            s2 += PetscMax(sq[i * dim + k] - mean[i * dim + k] * mean[i * dim + k], 0);
          }
          bias += b2 / n;
          spread += s2 / n;
        }
        PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%8" PetscInt_FMT " %4" PetscInt_FMT " %12.3e %12.3e %12.3e %12.3e\n", substeps[si], K, (double)PetscSqrtReal(bias), (double)PetscSqrtReal(spread), (double)(PetscSqrtReal(spread / seeds)), (double)PetscSqrtReal(PetscMax(bias - spread / seeds, 0))));
      }
      PetscCall(WLMDynamicsDestroy(&dyn));
      PetscCall(WLMPotentialDestroy(&pot));
    }
  }
  PetscCall(PetscFree6(x0, v0, ref, X, mean, sq));
  PetscCall(PetscFinalize());
  return 0;
}
