/*
   attention potential.  Derivatives are checked against finite differences
   with and without time input, masses and the score cache, at random sizes
   and over several query tiles.  Further tests: the score cache against
   recomputation, permutation, the effect of masses on the attention,
   sharded evaluation, save/load, options and bad sizes.
*/
#include "wlmtest.h"
#include "potentialcheck.h"
#include <wlm/wlmpotential.h>
#include <wlm/wlmsys.h>

/* capacity > 0 sizes the workspace before set-up (WLMPotentialSetMaxParticles()); 0 lets it grow on first use. */
static PetscErrorCode CreateAttention(MPI_Comm comm, PetscInt dim, PetscBool time_input, PetscInt hidden, PetscInt heads, PetscInt layers, PetscInt ffn, PetscInt time_width, uint64_t seed, PetscInt capacity, WLMPotential *pot)
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate(comm, pot));
  PetscCall(WLMPotentialSetType(*pot, WLMPOTENTIALATTENTION));
  PetscCall(WLMPotentialSetDimension(*pot, dim));
  PetscCall(WLMPotentialSetTimeInput(*pot, time_input));
  PetscCall(WLMPotentialAttentionSetSizes(*pot, hidden, heads, layers, ffn, time_width));
  if (capacity > 0) PetscCall(WLMPotentialSetMaxParticles(*pot, capacity, capacity));
  PetscCall(WLMPotentialSetUp(*pot));
  PetscCall(WLMPotentialInitializeParameters(*pot, seed));
  PetscFunctionReturn(0);
}

START_TEST(test_attention_derivatives)
{
  WLMRandom r;

  WLMRandomSeed(&r, 301, 0);
  for (PetscInt ncase = 0; ncase < 8; ncase++) {
    const PetscBool         tin = (PetscBool)(ncase % 2), masses = (PetscBool)((ncase / 2) % 2);
    const PetscInt          n = 2 + WLMRandomInteger(&r, 10), dim = 1 + WLMRandomInteger(&r, 3), heads = 1 + WLMRandomInteger(&r, 3);
    const PetscInt          hidden = heads * (1 + WLMRandomInteger(&r, 4)), layers = 1 + WLMRandomInteger(&r, 3), ffn = 1 + WLMRandomInteger(&r, 12);
    PetscReal               x[33], w[11];
    WLMPotential            pot;
    WLMTestDerivativeErrors err;
    PetscReal               combined, accumulated;

    WLMTestCall(CreateAttention(PETSC_COMM_SELF, dim, tin, hidden, heads, layers, ffn, 1 + WLMRandomInteger(&r, 5), 310 + ncase, ncase % 2 ? n : 0, &pot));
    if (ncase % 4 >= 2) WLMTestCall(WLMPotentialAttentionSetScoreMemory(pot, 0.0)); /* recompute the scores in the reverse pass */
    WLMTestCall(WLMTestRandomArray(320 + ncase, n * dim, 1.0, x));
    WLMTestCall(WLMTestRandomArray(330 + ncase, n, 1.0, w));
    for (PetscInt i = 0; i < n; i++) w[i] = 0.2 + PetscAbsReal(w[i]);
    WLMTestCall(WLMTestPotentialDerivatives(pot, 0.6, n, x, masses ? w : NULL, 340 + ncase, &err));
    WLMTestCall(WLMTestPotentialCombinedDifference(pot, 0.6, n, x, masses ? w : NULL, 350 + ncase, &combined));
    ck_assert_msg(combined < 1e-13, "case %d: the combined call differs from separate calls by %g", (int)ncase, (double)combined);
    ck_assert_msg(err.forces < 1e-6, "case %d (n %d, d %d, D %d, H %d, L %d, F %d, time %d, masses %d): force error %g", (int)ncase, (int)n, (int)dim, (int)hidden, (int)heads, (int)layers, (int)ffn, (int)tin, (int)masses, (double)err.forces);
    ck_assert_msg(err.state < 1e-6, "case %d (n %d, d %d, D %d, H %d, L %d, F %d, time %d, masses %d): state product error %g", (int)ncase, (int)n, (int)dim, (int)hidden, (int)heads, (int)layers, (int)ffn, (int)tin, (int)masses, (double)err.state);
    ck_assert_msg(err.parameters < 1e-6, "case %d (n %d, d %d, D %d, H %d, L %d, F %d, time %d, masses %d): parameter product error %g", (int)ncase, (int)n, (int)dim, (int)hidden, (int)heads, (int)layers, (int)ffn, (int)tin, (int)masses, (double)err.parameters);
    ck_assert_msg(err.gradient < 1e-6, "case %d (n %d, d %d, D %d, H %d, L %d, F %d, time %d, masses %d): parameter gradient error %g", (int)ncase, (int)n, (int)dim, (int)hidden, (int)heads, (int)layers, (int)ffn, (int)tin, (int)masses, (double)err.gradient);
    WLMTestCall(WLMTestPotentialGradientAccumulation(pot, 0.6, n, x, masses ? w : NULL, 360 + ncase, &accumulated));
    ck_assert_msg(accumulated < 1e-12, "case %d: the parameter gradient does not add to the array (difference %g)", (int)ncase, (double)accumulated);
    WLMTestCall(WLMPotentialDestroy(&pot));
  }
}
END_TEST

/* 300 particles: the queries run in several tiles, and on more ranks in shards of several tiles. */
START_TEST(test_attention_many_tiles)
{
  const PetscInt          N = 300, dim = 2;
  PetscReal              *x, *w, diff, combined, accumulated;
  WLMPotential            single, sharded;
  WLMTestDerivativeErrors err;

  WLMTestCall(PetscMalloc2(N * dim, &x, N, &w));
  WLMTestCall(WLMTestRandomArray(81, N * dim, 1.0, x));
  for (PetscInt i = 0; i < N; i++) w[i] = 0.5 + 0.01 * i;
  WLMTestCall(CreateAttention(PETSC_COMM_SELF, dim, PETSC_TRUE, 4, 2, 1, 6, 2, 82, 0, &single));
  WLMTestCall(WLMTestPotentialDerivatives(single, 0.1, N, x, w, 83, &err));
  ck_assert_double_lt(err.forces, 1e-6);
  ck_assert_double_lt(err.state, 1e-6);
  ck_assert_double_lt(err.parameters, 1e-6);
  ck_assert_double_lt(err.gradient, 1e-6);
  WLMTestCall(WLMTestPotentialCombinedDifference(single, 0.1, N, x, w, 84, &combined));
  ck_assert_double_lt(combined, 1e-13);
  WLMTestCall(WLMTestPotentialGradientAccumulation(single, 0.1, N, x, w, 86, &accumulated));
  ck_assert_double_lt(accumulated, 1e-12);
  WLMTestCall(CreateAttention(PETSC_COMM_WORLD, dim, PETSC_TRUE, 4, 2, 1, 6, 2, 82, 0, &sharded));
  WLMTestCall(WLMPotentialAttentionSetScoreMemory(sharded, 0.0));
  WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.1, N, x, w, 85, &diff));
  ck_assert_double_lt(diff, 1e-12);
  WLMTestCall(WLMPotentialDestroy(&single));
  WLMTestCall(WLMPotentialDestroy(&sharded));
  WLMTestCall(PetscFree2(x, w));
}
END_TEST

/* Keeping the scores between the passes and recomputing them give the same results, bit for bit. */
START_TEST(test_attention_score_cache)
{
  const PetscInt n = 9, dim = 2;
  PetscReal      x[18], lambda[18], F[2][18], G[2][18], *T[2], U[2];
  PetscInt       np;
  WLMPotential   pot;

  WLMTestCall(CreateAttention(PETSC_COMM_SELF, dim, PETSC_TRUE, 6, 2, 2, 8, 3, 91, 0, &pot));
  WLMTestCall(WLMPotentialGetNumParameters(pot, &np));
  WLMTestCall(PetscCalloc2(np, &T[0], np, &T[1]));
  WLMTestCall(WLMTestRandomArray(92, n * dim, 1.0, x));
  WLMTestCall(WLMTestRandomArray(93, n * dim, 1.0, lambda));
  for (PetscInt m = 0; m < 2; m++) {
    WLMTestCall(WLMPotentialAttentionSetScoreMemory(pot, m ? 0.0 : 1.0));
    WLMTestCall(WLMPotentialComputeForcesAndProducts(pot, 0.5, n, x, NULL, lambda, &U[m], F[m], G[m], T[m]));
  }
  ck_assert_mem_eq(&U[0], &U[1], sizeof(PetscReal));
  ck_assert_mem_eq(F[0], F[1], sizeof(F[0]));
  ck_assert_mem_eq(G[0], G[1], sizeof(G[0]));
  ck_assert_mem_eq(T[0], T[1], np * sizeof(PetscReal));
  WLMTestCall(PetscFree2(T[0], T[1]));
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_attention_permutation)
{
  const PetscInt n = 11, dim = 2;
  PetscReal      x[22], w[11], Udiff, Fdiff;
  WLMPotential   pot;

  WLMTestCall(CreateAttention(PETSC_COMM_SELF, dim, PETSC_TRUE, 8, 2, 2, 16, 4, 41, 0, &pot));
  WLMTestCall(WLMTestRandomArray(42, n * dim, 1.0, x));
  for (PetscInt i = 0; i < n; i++) w[i] = 1.0 + 0.1 * i;
  WLMTestCall(WLMTestPotentialPermutationDifference(pot, 0.2, n, x, w, 43, &Udiff, &Fdiff));
  ck_assert_double_lt(Udiff, 1e-13);
  ck_assert_double_lt(Fdiff, 1e-13);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

/*
   Masses enter as log w_j in the scores: uniform masses equal to no masses,
   and splitting a particle into two copies of half its mass leaves the
   attention of every other particle unchanged.  With U = sum_i w_i psi_i
   the energy is unchanged too.
*/
START_TEST(test_attention_masses)
{
  const PetscInt n = 6, dim = 2;
  PetscReal      x[14], w[7], U1, U2, Usplit;
  WLMPotential   pot;

  WLMTestCall(CreateAttention(PETSC_COMM_SELF, dim, PETSC_FALSE, 6, 3, 2, 10, 4, 51, 0, &pot));
  WLMTestCall(WLMTestRandomArray(52, n * dim, 1.0, x));
  for (PetscInt i = 0; i < n; i++) w[i] = 1.0 / n;
  WLMTestCall(WLMPotentialComputeEnergy(pot, 0.0, n, x, NULL, &U1));
  WLMTestCall(WLMPotentialComputeEnergy(pot, 0.0, n, x, w, &U2));
  ck_assert_double_lt(WLMTestRelativeError(U1, U2, 1e-300), 1e-14);

  for (PetscInt i = 0; i < n; i++) w[i] = 0.5 + 0.3 * i;
  WLMTestCall(WLMPotentialComputeEnergy(pot, 0.0, n, x, w, &U1));
  x[2 * n]     = x[0];
  x[2 * n + 1] = x[1];
  w[n]         = 0.5 * w[0];
  w[0]         = w[n];
  WLMTestCall(WLMPotentialComputeEnergy(pot, 0.0, n + 1, x, w, &Usplit));
  ck_assert_double_lt(WLMTestRelativeError(U1, Usplit, 1e-300), 1e-13);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_attention_sharded)
{
  const PetscInt sizes[3] = {13, 8, 2}; /* 2 particles leave a rank empty on 3 ranks */
  PetscReal      x[39], w[13], diff;
  WLMPotential   single, sharded;

  for (PetscInt cs = 0; cs < 3; cs++) {
    const PetscInt N = sizes[cs], dim = 3 - cs;

    WLMTestCall(CreateAttention(PETSC_COMM_SELF, dim, (PetscBool)(cs % 2), 8, 2, 2, 12, 3, 61, 16, &single));
    WLMTestCall(CreateAttention(PETSC_COMM_WORLD, dim, (PetscBool)(cs % 2), 8, 2, 2, 12, 3, 61, 16, &sharded));
    WLMTestCall(WLMTestRandomArray(62, N * dim, 1.0, x));
    for (PetscInt i = 0; i < N; i++) w[i] = 1.0 / (i + 2);
    WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.4, N, x, w, 63, &diff));
    ck_assert_msg(diff < 1e-12, "case %d with masses: sharded and single-rank results differ by %g", (int)cs, (double)diff);
    WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.4, N, x, NULL, 64, &diff));
    ck_assert_msg(diff < 1e-12, "case %d with uniform masses: sharded and single-rank results differ by %g", (int)cs, (double)diff);
    WLMTestCall(WLMPotentialDestroy(&single));
    WLMTestCall(WLMPotentialDestroy(&sharded));
  }
}
END_TEST

START_TEST(test_attention_save_load)
{
  PetscReal    x[14], w[7];
  PetscBool    identical;
  WLMPotential pot;
  char         name[64];

  WLMTestCall(CreateAttention(PETSC_COMM_SELF, 2, PETSC_TRUE, 12, 3, 2, 20, 5, 71, 0, &pot));
  WLMTestCall(WLMTestRandomArray(72, 14, 1.0, x));
  for (PetscInt i = 0; i < 7; i++) w[i] = 0.4 + 0.1 * i;
  PetscSNPrintf(name, sizeof(name), "attention-save-%d.h5", wlm_test_rank);
  WLMTestCall(WLMTestPotentialSaveLoadIdentical(pot, 0.9, 7, x, w, name, &identical));
  ck_assert(identical);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_attention_options)
{
  WLMPotential pot;
  PetscInt     np;
  const char  *names[5]  = {"-att_wlm_potential_attention_hidden", "-att_wlm_potential_attention_heads", "-att_wlm_potential_attention_layers", "-att_wlm_potential_attention_ffn", "-att_wlm_potential_attention_time_width"};
  const char  *values[5] = {"6", "2", "3", "5", "4"};

  WLMTestCall(PetscOptionsSetValue(NULL, "-att_wlm_potential_type", "attention"));
  WLMTestCall(PetscOptionsSetValue(NULL, "-att_wlm_potential_time_input", "true"));
  for (PetscInt k = 0; k < 5; k++) WLMTestCall(PetscOptionsSetValue(NULL, names[k], values[k]));
  WLMTestCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  WLMTestCall(WLMPotentialSetOptionsPrefix(pot, "att_"));
  WLMTestCall(WLMPotentialSetDimension(pot, 2));
  WLMTestCall(WLMPotentialSetFromOptions(pot));
  WLMTestCall(WLMPotentialGetNumParameters(pot, &np));
  /* input 2*6+6, time 2*4+4*6+6, 3 blocks of 2*6+6*18+18+36+6+2*6+6*5+5+5*6+6, head 6+1 */
  ck_assert_int_eq(np, 18 + 38 + 3 * (12 + 108 + 18 + 36 + 6 + 12 + 30 + 5 + 30 + 6) + 7);
  WLMTestCall(PetscOptionsClearValue(NULL, "-att_wlm_potential_type"));
  WLMTestCall(PetscOptionsClearValue(NULL, "-att_wlm_potential_time_input"));
  for (PetscInt k = 0; k < 5; k++) WLMTestCall(PetscOptionsClearValue(NULL, names[k]));
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_attention_bad_sizes)
{
  WLMPotential pot;

  WLMTestCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  WLMTestCall(WLMPotentialSetType(pot, WLMPOTENTIALATTENTION));
  WLMTestExpectError(WLMPotentialAttentionSetSizes(pot, 10, 3, 2, 8, 4), PETSC_ERR_ARG_OUTOFRANGE, "3 attention heads do not divide the hidden width 10");
  WLMTestExpectError(WLMPotentialAttentionSetSizes(pot, 8, 2, 0, 8, 4), PETSC_ERR_ARG_OUTOFRANGE, "block count 0");
  WLMTestExpectError(WLMPotentialAttentionSetScoreMemory(pot, -1.0), PETSC_ERR_ARG_OUTOFRANGE, "Score memory -1");
  WLMTestCall(WLMPotentialSetType(pot, WLMPOTENTIALEXTERNAL));
  WLMTestExpectError(WLMPotentialAttentionSetSizes(pot, 8, 2, 2, 8, 4), PETSC_ERR_ARG_WRONG, "not external");
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("potential_attention");
  TCase *tc = tcase_create("attention");

  tcase_add_test(tc, test_attention_derivatives);
  tcase_add_test(tc, test_attention_many_tiles);
  tcase_add_test(tc, test_attention_score_cache);
  tcase_add_test(tc, test_attention_permutation);
  tcase_add_test(tc, test_attention_masses);
  tcase_add_test(tc, test_attention_sharded);
  tcase_add_test(tc, test_attention_save_load);
  tcase_add_test(tc, test_attention_options);
  tcase_add_test(tc, test_attention_bad_sizes);
  suite_add_tcase(s, tc);
  return s;
}
