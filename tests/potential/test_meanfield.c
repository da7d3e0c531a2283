/*
   meanfield potential.  Derivatives are checked against finite differences
   for both pair inputs, with and without cutoff, external field and time
   input, at random sizes and with several pair tiles.  Further tests: the
   energy against a direct double sum, translation invariance without the
   external field, the cutoff, permutation, sharded evaluation (odd, even
   and tiny N), save/load and bad input.
*/
#include "wlmtest.h"
#include "potentialcheck.h"
#include <wlm/wlmpotential.h>
#include <wlm/wlmsys.h>

typedef struct {
  PetscInt      dim;
  PetscBool     time_input, external;
  WLMPairInput  input;
  PetscReal     cutoff;
  PetscInt      nlayers, width[3], pair_nlayers, pair_width[3];
  WLMActivation act, pair_act;
} MeanfieldConfig;

/* capacity > 0 sizes the workspace before set-up (WLMPotentialSetMaxParticles()); 0 lets it grow on first use. */
static PetscErrorCode CreateMeanfield(MPI_Comm comm, const MeanfieldConfig *c, uint64_t seed, PetscInt capacity, WLMPotential *pot)
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate(comm, pot));
  PetscCall(WLMPotentialSetType(*pot, WLMPOTENTIALMEANFIELD));
  PetscCall(WLMPotentialSetDimension(*pot, c->dim));
  PetscCall(WLMPotentialSetTimeInput(*pot, c->time_input));
  PetscCall(WLMPotentialSetHidden(*pot, c->nlayers, c->width));
  PetscCall(WLMPotentialSetActivation(*pot, c->act));
  PetscCall(WLMPotentialMeanfieldSetExternal(*pot, c->external));
  PetscCall(WLMPotentialMeanfieldSetPairHidden(*pot, c->pair_nlayers, c->pair_width));
  PetscCall(WLMPotentialMeanfieldSetPairActivation(*pot, c->pair_act));
  PetscCall(WLMPotentialMeanfieldSetPairInput(*pot, c->input));
  PetscCall(WLMPotentialMeanfieldSetCutoff(*pot, c->cutoff));
  if (capacity > 0) PetscCall(WLMPotentialSetMaxParticles(*pot, capacity, capacity));
  PetscCall(WLMPotentialSetUp(*pot));
  PetscCall(WLMPotentialInitializeParameters(*pot, seed));
  PetscFunctionReturn(0);
}

/* A small configuration with the given switches and widths from r. */
static void RandomConfig(WLMRandom *r, PetscBool time_input, PetscBool external, WLMPairInput input, PetscReal cutoff, MeanfieldConfig *c)
{
  c->dim          = 1 + WLMRandomInteger(r, 3);
  c->time_input   = time_input;
  c->external     = external;
  c->input        = input;
  c->cutoff       = cutoff;
  c->nlayers      = 1 + WLMRandomInteger(r, 2);
  c->pair_nlayers = 1 + WLMRandomInteger(r, 3);
  for (PetscInt l = 0; l < 3; l++) {
    c->width[l]      = 2 + WLMRandomInteger(r, 7);
    c->pair_width[l] = 2 + WLMRandomInteger(r, 7);
  }
  c->act      = (WLMActivation)WLMRandomInteger(r, 4);
  c->pair_act = (WLMActivation)WLMRandomInteger(r, 4);
}

START_TEST(test_meanfield_derivatives)
{
  WLMRandom r;
  PetscInt  ncase = 0;

  WLMRandomSeed(&r, 201, 0);
  for (PetscInt tin = 0; tin < 2; tin++) {
    for (PetscInt input = 0; input < 2; input++) {
      for (PetscInt cut = 0; cut < 2; cut++) {
        for (PetscInt ext = 0; ext < 2; ext++, ncase++) {
          MeanfieldConfig         c;
          const PetscInt          n = 2 + WLMRandomInteger(&r, 10);
          PetscReal               x[33], w[11], *wp;
          WLMPotential            pot;
          WLMTestDerivativeErrors err;
          PetscReal               combined, accumulated;

          /* a cutoff of 1.5 with unit-normal positions leaves pairs on both sides of it */
          RandomConfig(&r, (PetscBool)tin, (PetscBool)ext, (WLMPairInput)input, cut ? 1.5 : 0.0, &c);
          WLMTestCall(CreateMeanfield(PETSC_COMM_SELF, &c, 210 + ncase, ncase % 2 ? n : 0, &pot));
          WLMTestCall(WLMTestRandomArray(310 + ncase, n * c.dim, 1.0, x));
          WLMTestCall(WLMTestRandomArray(410 + ncase, n, 1.0, w));
          for (PetscInt i = 0; i < n; i++) w[i] = 0.2 + PetscAbsReal(w[i]);
          wp = (ncase % 3) ? w : NULL;
          WLMTestCall(WLMTestPotentialDerivatives(pot, 0.7, n, x, wp, 510 + ncase, &err));
          WLMTestCall(WLMTestPotentialCombinedDifference(pot, 0.7, n, x, wp, 610 + ncase, &combined));
          ck_assert_msg(combined < 1e-13, "case %d: the combined call differs from separate calls by %g", (int)ncase, (double)combined);
          ck_assert_msg(err.forces < 1e-6, "case %d (time %d, input %s, cutoff %d, external %d): force error %g", (int)ncase, (int)tin, WLMPairInputs[input], (int)cut, (int)ext, (double)err.forces);
          ck_assert_msg(err.state < 1e-6, "case %d (time %d, input %s, cutoff %d, external %d): state product error %g", (int)ncase, (int)tin, WLMPairInputs[input], (int)cut, (int)ext, (double)err.state);
          ck_assert_msg(err.parameters < 1e-6, "case %d (time %d, input %s, cutoff %d, external %d): parameter product error %g", (int)ncase, (int)tin, WLMPairInputs[input], (int)cut, (int)ext, (double)err.parameters);
          ck_assert_msg(err.gradient < 1e-6, "case %d (time %d, input %s, cutoff %d, external %d, masses %d): parameter gradient error %g", (int)ncase, (int)tin, WLMPairInputs[input], (int)cut, (int)ext, wp != NULL, (double)err.gradient);
          WLMTestCall(WLMTestPotentialGradientAccumulation(pot, 0.7, n, x, wp, 710 + ncase, &accumulated));
          ck_assert_msg(accumulated < 1e-12, "case %d: the parameter gradient does not add to the array (difference %g)", (int)ncase, (double)accumulated);
          WLMTestCall(WLMPotentialDestroy(&pot));
        }
      }
    }
  }
}
END_TEST

/* 40 particles: 780 pairs pass through the pair MLP in several tiles, for both pair inputs, with and without cutoff. */
START_TEST(test_meanfield_many_pairs)
{
  const PetscInt n = 40, dim = 2;
  PetscReal      x[80], w[40], combined, accumulated;
  WLMPotential   pot;

  WLMTestCall(WLMTestRandomArray(71, n * dim, 1.0, x));
  for (PetscInt i = 0; i < n; i++) w[i] = 0.5 + 0.02 * i;
  for (PetscInt cs = 0; cs < 4; cs++) {
    MeanfieldConfig         c = {dim, PETSC_TRUE, PETSC_TRUE, (WLMPairInput)(cs % 2), cs / 2 ? 1.5 : 0.0, 1, {5, 0, 0}, 2, {6, 4, 0}, WLM_ACTIVATION_SILU, WLM_ACTIVATION_TANH};
    WLMTestDerivativeErrors err;

    WLMTestCall(CreateMeanfield(PETSC_COMM_SELF, &c, 72 + cs, 0, &pot));
    WLMTestCall(WLMTestPotentialDerivatives(pot, 0.2, n, x, w, 80 + cs, &err));
    ck_assert_msg(err.forces < 1e-6, "case %d: force error %g", (int)cs, (double)err.forces);
    ck_assert_msg(err.state < 1e-6, "case %d: state product error %g", (int)cs, (double)err.state);
    ck_assert_msg(err.parameters < 1e-6, "case %d: parameter product error %g", (int)cs, (double)err.parameters);
    ck_assert_msg(err.gradient < 1e-6, "case %d: parameter gradient error %g", (int)cs, (double)err.gradient);
    WLMTestCall(WLMTestPotentialCombinedDifference(pot, 0.2, n, x, w, 90 + cs, &combined));
    ck_assert_msg(combined < 1e-13, "case %d: the combined call differs from separate calls by %g", (int)cs, (double)combined);
    WLMTestCall(WLMTestPotentialGradientAccumulation(pot, 0.2, n, x, w, 95 + cs, &accumulated));
    ck_assert_msg(accumulated < 1e-12, "case %d: the parameter gradient does not add to the array (difference %g)", (int)cs, (double)accumulated);
    WLMTestCall(WLMPotentialDestroy(&pot));
  }
}
END_TEST

/* U = sum_i w_i V(x_i, t) + 1/2 sum_{i != j} w_i w_j c(|r|^2) m(r) by a double loop over ordered pairs. */
START_TEST(test_meanfield_direct_energy)
{
  const PetscInt  n = 7, dim = 2;
  const PetscReal t = -0.4, R = 1.8;
  PetscReal       x[14], w[7], *theta, U, Uref = 0;
  MeanfieldConfig c = {dim, PETSC_TRUE, PETSC_TRUE, WLM_PAIR_INPUT_DIFFERENCE, R, 2, {5, 3, 0}, 2, {4, 6, 0}, WLM_ACTIVATION_TANH, WLM_ACTIVATION_SILU};
  PetscInt        nV = (3 + 1) * 5 + (5 + 1) * 3 + 3 + 1;
  WLMPotential    pot;

  WLMTestCall(CreateMeanfield(PETSC_COMM_SELF, &c, 5, 0, &pot));
  WLMTestCall(WLMPotentialGetParameterArray(pot, &theta));
  WLMTestCall(WLMTestRandomArray(6, n * dim, 1.0, x));
  for (PetscInt i = 0; i < n; i++) w[i] = 0.3 + 0.1 * i;
  for (PetscInt i = 0; i < n; i++) {
    PetscReal in[3] = {x[2 * i], x[2 * i + 1], t};

    Uref += w[i] * WLMTestReferenceMLP(theta, 3, c.nlayers, c.width, c.act, in);
    for (PetscInt j = 0; j < n; j++) {
      PetscReal rp[3], rm[3], s, m;

      if (j == i) continue;
      rp[0] = x[2 * i] - x[2 * j];
      rp[1] = x[2 * i + 1] - x[2 * j + 1];
      rm[0] = -rp[0];
      rm[1] = -rp[1];
      rp[2] = rm[2] = t;
      s = rp[0] * rp[0] + rp[1] * rp[1];
      if (s >= R * R) continue;
      m = 0.5 * (WLMTestReferenceMLP(theta + nV, 3, c.pair_nlayers, c.pair_width, c.pair_act, rp) + WLMTestReferenceMLP(theta + nV, 3, c.pair_nlayers, c.pair_width, c.pair_act, rm));
      Uref += 0.5 * w[i] * w[j] * PetscPowReal(1.0 - s / (R * R), 3) * m;
    }
  }
  WLMTestCall(WLMPotentialComputeEnergy(pot, t, n, x, w, &U));
  ck_assert_double_lt(WLMTestRelativeError(U, Uref, 1e-300), 1e-13);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

/* Without the external field the forces are internal: they sum to zero, and U is invariant under translation. */
START_TEST(test_meanfield_translation)
{
  const PetscInt n = 10, dim = 3;
  PetscReal      x[30], xs[30], w[10], F[30], U, Us, sum[3] = {0, 0, 0}, scale = 0;
  WLMPotential   pot;

  for (PetscInt input = 0; input < 2; input++) {
    MeanfieldConfig c = {dim, PETSC_FALSE, PETSC_FALSE, (WLMPairInput)input, 0.0, 1, {4, 0, 0}, 2, {8, 8, 0}, WLM_ACTIVATION_SILU, WLM_ACTIVATION_GELU};

    WLMTestCall(CreateMeanfield(PETSC_COMM_SELF, &c, 21, 0, &pot));
    WLMTestCall(WLMTestRandomArray(22, n * dim, 1.0, x));
    for (PetscInt i = 0; i < n; i++) w[i] = 1.0 + 0.2 * i;
    WLMTestCall(WLMPotentialComputeForces(pot, 0.0, n, x, w, &U, F));
    for (PetscInt i = 0; i < n; i++) {
      for (PetscInt k = 0; k < dim; k++) {
        sum[k] += F[i * dim + k];
        scale = PetscMax(scale, PetscAbsReal(F[i * dim + k]));
        xs[i * dim + k] = x[i * dim + k] + 3.0 + k;
      }
    }
    for (PetscInt k = 0; k < dim; k++) ck_assert_msg(PetscAbsReal(sum[k]) < 1e-14 * n * scale, "total force component %d is %g with forces up to %g", (int)k, (double)sum[k], (double)scale);
    WLMTestCall(WLMPotentialComputeEnergy(pot, 0.0, n, xs, w, &Us));
    ck_assert_double_lt(WLMTestRelativeError(U, Us, 1e-300), 1e-12);
    WLMTestCall(WLMPotentialDestroy(&pot));
  }
}
END_TEST

/* Two particles: W and its force vanish smoothly at the cutoff and are exactly zero beyond it. */
START_TEST(test_meanfield_cutoff)
{
  const PetscReal R = 2.0;
  MeanfieldConfig c = {1, PETSC_FALSE, PETSC_FALSE, WLM_PAIR_INPUT_DISTANCE2, R, 1, {4, 0, 0}, 1, {6, 0, 0}, WLM_ACTIVATION_SILU, WLM_ACTIVATION_TANH};
  PetscReal       x[2], F[2], U, Uinside;
  WLMPotential    pot;

  WLMTestCall(CreateMeanfield(PETSC_COMM_SELF, &c, 31, 0, &pot));
  x[0] = 0.0;
  x[1] = 0.5 * R;
  WLMTestCall(WLMPotentialComputeForces(pot, 0.0, 2, x, NULL, &Uinside, F));
  ck_assert(PetscAbsReal(Uinside) > 1e-6);
  x[1] = R * (1.0 - 1e-4); /* c ~ (2e-4)^3 and c' ~ 3 (2e-4)^2 / R^2, while M and M' are O(1) */
  WLMTestCall(WLMPotentialComputeForces(pot, 0.0, 2, x, NULL, &U, F));
  ck_assert_double_lt(PetscAbsReal(U), 1e-10);
  ck_assert_double_lt(PetscAbsReal(F[0]), 1e-6);
  x[1] = R * (1.0 + 1e-12);
  WLMTestCall(WLMPotentialComputeForces(pot, 0.0, 2, x, NULL, &U, F));
  ck_assert_double_eq(U, 0.0);
  ck_assert_double_eq(F[0], 0.0);
  ck_assert_double_eq(F[1], 0.0);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_meanfield_permutation)
{
  const PetscInt  n = 9;
  MeanfieldConfig c = {2, PETSC_TRUE, PETSC_TRUE, WLM_PAIR_INPUT_DIFFERENCE, 0.0, 2, {6, 6, 0}, 2, {6, 6, 0}, WLM_ACTIVATION_SILU, WLM_ACTIVATION_SILU};
  PetscReal       x[18], w[9], Udiff, Fdiff;
  WLMPotential    pot;

  WLMTestCall(CreateMeanfield(PETSC_COMM_SELF, &c, 41, 0, &pot));
  WLMTestCall(WLMTestRandomArray(42, n * 2, 1.0, x));
  for (PetscInt i = 0; i < n; i++) w[i] = 1.0 + 0.1 * i;
  WLMTestCall(WLMTestPotentialPermutationDifference(pot, 0.3, n, x, w, 43, &Udiff, &Fdiff));
  ck_assert_double_lt(Udiff, 1e-13);
  ck_assert_double_lt(Fdiff, 1e-13);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_meanfield_sharded)
{
  const PetscInt sizes[3] = {13, 12, 2}; /* 2 particles leave a rank empty on 3 ranks */
  PetscReal      x[39], w[13], diff;
  WLMPotential   single, sharded;

  for (PetscInt cs = 0; cs < 5; cs++) {
    const PetscInt  N = sizes[cs < 4 ? cs % 2 : 2], kind = PetscMin(cs, 3);
    MeanfieldConfig c = {3, (PetscBool)(kind / 2), PETSC_TRUE, (WLMPairInput)(kind / 2), kind == 3 ? 1.7 : 0.0, 1, {5, 0, 0}, 2, {7, 5, 0}, WLM_ACTIVATION_TANH, WLM_ACTIVATION_SILU};

    WLMTestCall(CreateMeanfield(PETSC_COMM_SELF, &c, 51, 16, &single));
    WLMTestCall(CreateMeanfield(PETSC_COMM_WORLD, &c, 51, 16, &sharded));
    WLMTestCall(WLMTestRandomArray(52, N * 3, 1.0, x));
    for (PetscInt i = 0; i < N; i++) w[i] = 1.0 / (i + 2);
    WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.4, N, x, w, 53, &diff));
    ck_assert_msg(diff < 1e-12, "case %d with masses: sharded and single-rank results differ by %g", (int)cs, (double)diff);
    WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.4, N, x, NULL, 54, &diff));
    ck_assert_msg(diff < 1e-12, "case %d with uniform masses: sharded and single-rank results differ by %g", (int)cs, (double)diff);
    WLMTestCall(WLMPotentialDestroy(&single));
    WLMTestCall(WLMPotentialDestroy(&sharded));
  }
}
END_TEST

/* 41 particles: 820 pairs, several tiles on every rank. */
START_TEST(test_meanfield_sharded_many_pairs)
{
  const PetscInt  N = 41;
  MeanfieldConfig c = {2, PETSC_FALSE, PETSC_TRUE, WLM_PAIR_INPUT_DIFFERENCE, 0.0, 1, {4, 0, 0}, 1, {6, 0, 0}, WLM_ACTIVATION_SILU, WLM_ACTIVATION_SILU};
  PetscReal       x[82], diff;
  WLMPotential    single, sharded;

  WLMTestCall(CreateMeanfield(PETSC_COMM_SELF, &c, 55, 0, &single));
  WLMTestCall(CreateMeanfield(PETSC_COMM_WORLD, &c, 55, 0, &sharded));
  WLMTestCall(WLMTestRandomArray(56, N * 2, 1.0, x));
  WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.0, N, x, NULL, 57, &diff));
  ck_assert_double_lt(diff, 1e-12);
  WLMTestCall(WLMPotentialDestroy(&single));
  WLMTestCall(WLMPotentialDestroy(&sharded));
}
END_TEST

START_TEST(test_meanfield_save_load)
{
  MeanfieldConfig c = {2, PETSC_TRUE, PETSC_FALSE, WLM_PAIR_INPUT_DIFFERENCE, 2.5, 1, {3, 0, 0}, 3, {4, 5, 3}, WLM_ACTIVATION_GELU, WLM_ACTIVATION_SOFTPLUS};
  PetscReal       x[12];
  PetscBool       identical;
  WLMPotential    pot;
  char            name[64];

  WLMTestCall(CreateMeanfield(PETSC_COMM_SELF, &c, 61, 0, &pot));
  WLMTestCall(WLMTestRandomArray(62, 12, 1.0, x));
  PetscSNPrintf(name, sizeof(name), "meanfield-save-%d.h5", wlm_test_rank);
  WLMTestCall(WLMTestPotentialSaveLoadIdentical(pot, 0.9, 6, x, NULL, name, &identical));
  ck_assert(identical);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_meanfield_bad_input)
{
  WLMPotential pot;

  WLMTestCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  WLMTestCall(WLMPotentialSetType(pot, WLMPOTENTIALEXTERNAL));
  WLMTestExpectError(WLMPotentialMeanfieldSetCutoff(pot, 1.0), PETSC_ERR_ARG_WRONG, "not external");
  WLMTestCall(WLMPotentialSetType(pot, WLMPOTENTIALMEANFIELD));
  WLMTestExpectError(WLMPotentialMeanfieldSetCutoff(pot, -1.0), PETSC_ERR_ARG_OUTOFRANGE, "Cutoff radius -1");
  WLMTestExpectError(WLMPotentialMeanfieldSetPairInput(pot, (WLMPairInput)5), PETSC_ERR_ARG_OUTOFRANGE, "Pair input 5");
  WLMTestCall(WLMPotentialSetDimension(pot, 2));
  WLMTestCall(WLMPotentialSetUp(pot));
  WLMTestExpectError(WLMPotentialMeanfieldSetCutoff(pot, 1.0), PETSC_ERR_ARG_WRONGSTATE, "before WLMPotentialSetUp");
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("potential_meanfield");
  TCase *tc = tcase_create("meanfield");

  tcase_add_test(tc, test_meanfield_derivatives);
  tcase_add_test(tc, test_meanfield_many_pairs);
  tcase_add_test(tc, test_meanfield_direct_energy);
  tcase_add_test(tc, test_meanfield_translation);
  tcase_add_test(tc, test_meanfield_cutoff);
  tcase_add_test(tc, test_meanfield_permutation);
  tcase_add_test(tc, test_meanfield_sharded);
  tcase_add_test(tc, test_meanfield_sharded_many_pairs);
  tcase_add_test(tc, test_meanfield_save_load);
  tcase_add_test(tc, test_meanfield_bad_input);
  suite_add_tcase(s, tc);
  return s;
}
