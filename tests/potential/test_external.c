/*
   external potential.  Derivatives are checked against finite differences
   for every activation, with and without time input, at random sizes and
   over several row chunks.  Further tests: the energy against a direct
   evaluation of the MLP, permutation, sharded evaluation, save/load,
   options and bad input.
*/
#include "wlmtest.h"
#include "potentialcheck.h"
#include <wlm/wlmpotential.h>
#include <wlm/wlmsys.h>

/* capacity > 0 sizes the workspace before set-up (WLMPotentialSetMaxParticles()); 0 lets it grow on first use. */
static PetscErrorCode CreateExternal(MPI_Comm comm, PetscInt dim, PetscBool time_input, PetscInt nlayers, const PetscInt width[], WLMActivation act, uint64_t seed, PetscInt capacity, WLMPotential *pot)
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate(comm, pot));
  PetscCall(WLMPotentialSetType(*pot, WLMPOTENTIALEXTERNAL));
  PetscCall(WLMPotentialSetDimension(*pot, dim));
  PetscCall(WLMPotentialSetTimeInput(*pot, time_input));
  PetscCall(WLMPotentialSetHidden(*pot, nlayers, width));
  PetscCall(WLMPotentialSetActivation(*pot, act));
  if (capacity > 0) PetscCall(WLMPotentialSetMaxParticles(*pot, capacity, capacity));
  PetscCall(WLMPotentialSetUp(*pot));
  PetscCall(WLMPotentialInitializeParameters(*pot, seed));
  PetscFunctionReturn(0);
}

/* Positive masses drawn from seed, or NULL (uniform) for odd seeds. */
static PetscErrorCode RandomMasses(uint64_t seed, PetscInt n, PetscReal w[], PetscReal **wp)
{
  PetscFunctionBeginUser;
  PetscCall(WLMTestRandomArray(seed, n, 1.0, w));
  for (PetscInt i = 0; i < n; i++) w[i] = 0.2 + PetscAbsReal(w[i]);
  *wp = (seed % 2) ? NULL : w;
  PetscFunctionReturn(0);
}

START_TEST(test_external_derivatives)
{
  WLMRandom r;
  PetscInt  ncase = 0;

  WLMRandomSeed(&r, 101, 0);
  for (PetscInt tin = 0; tin < 2; tin++) {
    for (PetscInt act = WLM_ACTIVATION_SILU; act <= WLM_ACTIVATION_GELU; act++, ncase++) {
      const PetscInt          n = 2 + WLMRandomInteger(&r, 11), dim = 1 + WLMRandomInteger(&r, 3), nlayers = 1 + WLMRandomInteger(&r, 3);
      PetscInt                width[3];
      PetscReal               x[36], w[12], *wp = NULL;
      WLMPotential            pot;
      WLMTestDerivativeErrors err;
      PetscReal               combined, accumulated;

      for (PetscInt l = 0; l < nlayers; l++) width[l] = 2 + WLMRandomInteger(&r, 9);
      WLMTestCall(CreateExternal(PETSC_COMM_SELF, dim, (PetscBool)tin, nlayers, width, (WLMActivation)act, 200 + ncase, ncase % 2 ? n : 0, &pot));
      WLMTestCall(WLMTestRandomArray(300 + ncase, n * dim, 1.0, x));
      WLMTestCall(RandomMasses(400 + ncase, n, w, &wp));
      WLMTestCall(WLMTestPotentialDerivatives(pot, 0.7, n, x, wp, 500 + ncase, &err));
      WLMTestCall(WLMTestPotentialCombinedDifference(pot, 0.7, n, x, wp, 600 + ncase, &combined));
      ck_assert_msg(combined < 1e-13, "case %d: the combined call differs from separate calls by %g", (int)ncase, (double)combined);
      ck_assert_msg(err.forces < 1e-6, "case %d (%s, time %d): force error %g", (int)ncase, WLMActivations[act], (int)tin, (double)err.forces);
      ck_assert_msg(err.state < 1e-6, "case %d (%s, time %d): state product error %g", (int)ncase, WLMActivations[act], (int)tin, (double)err.state);
      ck_assert_msg(err.parameters < 1e-6, "case %d (%s, time %d): parameter product error %g", (int)ncase, WLMActivations[act], (int)tin, (double)err.parameters);
      ck_assert_msg(err.gradient < 1e-6, "case %d (%s, time %d, masses %d): parameter gradient error %g", (int)ncase, WLMActivations[act], (int)tin, wp != NULL, (double)err.gradient);
      WLMTestCall(WLMTestPotentialGradientAccumulation(pot, 0.7, n, x, wp, 700 + ncase, &accumulated));
      ck_assert_msg(accumulated < 1e-12, "case %d: the parameter gradient does not add to the array (difference %g)", (int)ncase, (double)accumulated);
      WLMTestCall(WLMPotentialDestroy(&pot));
    }
  }
}
END_TEST

/* 1100 particles: V runs in several chunks of rows. */
START_TEST(test_external_many_particles)
{
  const PetscInt          n = 1100, dim = 2, width[2] = {6, 5};
  PetscReal              *x, *w, combined, accumulated;
  WLMPotential            pot;
  WLMTestDerivativeErrors err;

  WLMTestCall(PetscMalloc2(n * dim, &x, n, &w));
  WLMTestCall(CreateExternal(PETSC_COMM_SELF, dim, PETSC_TRUE, 2, width, WLM_ACTIVATION_SILU, 17, 0, &pot));
  WLMTestCall(WLMTestRandomArray(18, n * dim, 1.0, x));
  for (PetscInt i = 0; i < n; i++) w[i] = 1.0 + 0.001 * i;
  WLMTestCall(WLMTestPotentialDerivatives(pot, 0.3, n, x, w, 19, &err));
  ck_assert_double_lt(err.forces, 1e-6);
  ck_assert_double_lt(err.state, 1e-6);
  ck_assert_double_lt(err.parameters, 1e-6);
  ck_assert_double_lt(err.gradient, 1e-6);
  WLMTestCall(WLMTestPotentialCombinedDifference(pot, 0.3, n, x, w, 20, &combined));
  ck_assert_double_lt(combined, 1e-13);
  WLMTestCall(WLMTestPotentialGradientAccumulation(pot, 0.3, n, x, w, 21, &accumulated));
  ck_assert_double_lt(accumulated, 1e-12);
  WLMTestCall(WLMPotentialDestroy(&pot));
  WLMTestCall(PetscFree2(x, w));
}
END_TEST

START_TEST(test_external_direct_energy)
{
  const PetscInt  n = 6, dim = 2, width[2] = {5, 4};
  const PetscReal t = 0.3;
  PetscReal       x[12], w[6], *theta, U, Uref = 0;
  PetscInt        np;
  WLMPotential    pot;

  WLMTestCall(CreateExternal(PETSC_COMM_SELF, dim, PETSC_TRUE, 2, width, WLM_ACTIVATION_TANH, 7, 0, &pot));
  WLMTestCall(WLMPotentialGetNumParameters(pot, &np));
  ck_assert_int_eq(np, (3 + 1) * 5 + (5 + 1) * 4 + 4 + 1);
  WLMTestCall(WLMPotentialGetParameterArray(pot, &theta));
  WLMTestCall(WLMTestRandomArray(8, n * dim, 1.0, x));
  for (PetscInt i = 0; i < n; i++) {
    PetscReal in[3] = {x[2 * i], x[2 * i + 1], t};

    w[i] = 0.5 + i;
    Uref += w[i] * WLMTestReferenceMLP(theta, 3, 2, width, WLM_ACTIVATION_TANH, in);
  }
  WLMTestCall(WLMPotentialComputeEnergy(pot, t, n, x, w, &U));
  ck_assert_double_lt(WLMTestRelativeError(U, Uref, 1e-300), 1e-13);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_external_permutation)
{
  const PetscInt n = 9, dim = 3, width[2] = {8, 8};
  PetscReal      x[27], w[9], Udiff, Fdiff;
  WLMPotential   pot;

  WLMTestCall(CreateExternal(PETSC_COMM_SELF, dim, PETSC_FALSE, 2, width, WLM_ACTIVATION_SILU, 9, 0, &pot));
  WLMTestCall(WLMTestRandomArray(10, n * dim, 1.0, x));
  for (PetscInt i = 0; i < n; i++) w[i] = 1.0 + 0.1 * i;
  WLMTestCall(WLMTestPotentialPermutationDifference(pot, 0.0, n, x, w, 11, &Udiff, &Fdiff));
  ck_assert_double_lt(Udiff, 1e-14);
  ck_assert_double_lt(Fdiff, 1e-14);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_external_sharded)
{
  const PetscInt N = 13, dim = 2, width[2] = {6, 7};
  PetscReal      x[26], w[13], diff;
  WLMPotential   single, sharded;

  for (PetscInt tin = 0; tin < 2; tin++) {
    WLMTestCall(CreateExternal(PETSC_COMM_SELF, dim, (PetscBool)tin, 2, width, WLM_ACTIVATION_SILU, 12, 16, &single));
    WLMTestCall(CreateExternal(PETSC_COMM_WORLD, dim, (PetscBool)tin, 2, width, WLM_ACTIVATION_SILU, 12, 16, &sharded));
    WLMTestCall(WLMTestRandomArray(13, N * dim, 1.0, x));
    for (PetscInt i = 0; i < N; i++) w[i] = 1.0 / (i + 2);
    WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.4, N, x, w, 14, &diff));
    ck_assert_double_lt(diff, 1e-12);
    WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.4, N, x, NULL, 15, &diff));
    ck_assert_double_lt(diff, 1e-12);
    WLMTestCall(WLMPotentialDestroy(&single));
    WLMTestCall(WLMPotentialDestroy(&sharded));
  }
}
END_TEST

START_TEST(test_external_save_load)
{
  const PetscInt n = 5, dim = 3, width[3] = {4, 6, 3};
  PetscReal      x[15];
  PetscBool      identical;
  WLMPotential   pot;
  char           name[64];

  WLMTestCall(CreateExternal(PETSC_COMM_SELF, dim, PETSC_TRUE, 3, width, WLM_ACTIVATION_SOFTPLUS, 16, 0, &pot));
  WLMTestCall(WLMTestRandomArray(17, n * dim, 1.0, x));
  PetscSNPrintf(name, sizeof(name), "external-save-%d.h5", wlm_test_rank);
  WLMTestCall(WLMTestPotentialSaveLoadIdentical(pot, 1.5, n, x, NULL, name, &identical));
  ck_assert(identical);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_external_options)
{
  WLMPotential pot;
  PetscInt     np;

  WLMTestCall(PetscOptionsSetValue(NULL, "-ext_wlm_potential_type", "external"));
  WLMTestCall(PetscOptionsSetValue(NULL, "-ext_wlm_potential_hidden", "3,2"));
  WLMTestCall(PetscOptionsSetValue(NULL, "-ext_wlm_potential_activation", "tanh"));
  WLMTestCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  WLMTestCall(WLMPotentialSetOptionsPrefix(pot, "ext_"));
  WLMTestCall(WLMPotentialSetDimension(pot, 2));
  WLMTestCall(WLMPotentialSetFromOptions(pot));
  WLMTestCall(WLMPotentialGetNumParameters(pot, &np));
  ck_assert_int_eq(np, (2 + 1) * 3 + (3 + 1) * 2 + 2 + 1);
  WLMTestCall(PetscOptionsClearValue(NULL, "-ext_wlm_potential_type"));
  WLMTestCall(PetscOptionsClearValue(NULL, "-ext_wlm_potential_hidden"));
  WLMTestCall(PetscOptionsClearValue(NULL, "-ext_wlm_potential_activation"));
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_external_bad_input)
{
  const PetscInt zero[2] = {4, 0}, ok[1] = {4};
  WLMPotential   pot;

  WLMTestCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  WLMTestCall(WLMPotentialSetType(pot, WLMPOTENTIALEXTERNAL));
  WLMTestExpectError(WLMPotentialSetHidden(pot, 2, zero), PETSC_ERR_ARG_OUTOFRANGE, "width 0 of layer 1");
  WLMTestExpectError(WLMPotentialSetHidden(pot, 9, zero), PETSC_ERR_ARG_OUTOFRANGE, "has 9 layers");
  WLMTestExpectError(WLMPotentialSetActivation(pot, (WLMActivation)7), PETSC_ERR_ARG_OUTOFRANGE, "Activation 7");
  WLMTestCall(WLMPotentialSetDimension(pot, 2));
  WLMTestCall(WLMPotentialSetUp(pot));
  WLMTestExpectError(WLMPotentialSetHidden(pot, 1, ok), PETSC_ERR_ARG_WRONGSTATE, "after WLMPotentialSetUp");
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("potential_external");
  TCase *tc = tcase_create("external");

  tcase_add_test(tc, test_external_derivatives);
  tcase_add_test(tc, test_external_many_particles);
  tcase_add_test(tc, test_external_direct_energy);
  tcase_add_test(tc, test_external_permutation);
  tcase_add_test(tc, test_external_sharded);
  tcase_add_test(tc, test_external_save_load);
  tcase_add_test(tc, test_external_options);
  tcase_add_test(tc, test_external_bad_input);
  suite_add_tcase(s, tc);
  return s;
}
