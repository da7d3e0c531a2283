/*
   Derivative checks shared by the tests of every potential type: central
   finite differences of the energy, the forces, the force-cotangent product
   and the parameter gradient along random directions, and
   sharded-versus-single-rank equality.
*/
#ifndef WLMTEST_POTENTIALCHECK_H
#define WLMTEST_POTENTIALCHECK_H

#include <wlm/wlmpotential.h>

/* Largest relative errors seen by WLMTestPotentialDerivatives(). */
typedef struct {
  PetscReal forces;      /* F . delta against -(U(x + h delta) - U(x - h delta)) / 2h */
  PetscReal state;       /* -H lambda against (F(x + h lambda) - F(x - h lambda)) / 2h, as vectors */
  PetscReal parameters;  /* grad_theta (lambda . F) . eta against central differences along eta */
  PetscReal gradient;    /* grad_theta U . eta against (U(theta + h eta) - U(theta - h eta)) / 2h; 0 for a type without the parameter gradient */
} WLMTestDerivativeErrors;

PetscReal      WLMTestReferenceMLP(const PetscReal[], PetscInt, PetscInt, const PetscInt[], WLMActivation, const PetscReal[]);
PetscErrorCode WLMTestRandomArray(uint64_t, PetscInt, PetscReal, PetscReal[]);
PetscErrorCode WLMTestPotentialDerivatives(WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], uint64_t, WLMTestDerivativeErrors *);
PetscErrorCode WLMTestPotentialShardedDifference(WLMPotential, WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], uint64_t, PetscReal *);
PetscErrorCode WLMTestPotentialPermutationDifference(WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], uint64_t, PetscReal *, PetscReal *);
PetscErrorCode WLMTestPotentialGradientAccumulation(WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], uint64_t, PetscReal *);
PetscErrorCode WLMTestPotentialCombinedDifference(WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], uint64_t, PetscReal *);
PetscErrorCode WLMTestPotentialSaveLoadIdentical(WLMPotential, PetscReal, PetscInt, const PetscReal[], const PetscReal[], const char[], PetscBool *);

#endif
