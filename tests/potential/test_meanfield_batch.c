/*
   Random batches of the meanfield potential (-wlm_potential_meanfield_batch K).
   The batch estimate is an exact potential for a fixed (seed, t), so its
   derivatives pass the finite-difference checks.  It is unbiased, so the
   mean of the forces and energies over many seeds matches the full pair sum
   within the statistical error.  A batch of N or more is the full sum, and
   sharded evaluation equals single-rank evaluation for the same seed.
*/
#include "wlmtest.h"
#include "potentialcheck.h"
#include <wlm/wlmpotential.h>
#include <wlm/wlmsys.h>

/* A small meanfield model in 2 dimensions with random batches of K (0: all pairs). */
static PetscErrorCode CreateBatchModel(MPI_Comm comm, PetscInt K, PetscBool external, WLMPotential *pot)
{
  const PetscInt hidden[1] = {6}, pair_hidden[2] = {8, 5};

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate(comm, pot));
  PetscCall(WLMPotentialSetType(*pot, WLMPOTENTIALMEANFIELD));
  PetscCall(WLMPotentialSetDimension(*pot, 2));
  PetscCall(WLMPotentialSetHidden(*pot, 1, hidden));
  PetscCall(WLMPotentialMeanfieldSetExternal(*pot, external));
  PetscCall(WLMPotentialMeanfieldSetPairHidden(*pot, 2, pair_hidden));
  PetscCall(WLMPotentialMeanfieldSetPairActivation(*pot, WLM_ACTIVATION_TANH));
  PetscCall(WLMPotentialMeanfieldSetBatch(*pot, K));
  PetscCall(WLMPotentialSetUp(*pot));
  PetscCall(WLMPotentialInitializeParameters(*pot, 17));
  PetscFunctionReturn(0);
}

START_TEST(test_batch_derivatives)
{
  const PetscInt N = 11;
  PetscReal      x[22], w[11];
  WLMPotential   pot;

  WLMTestCall(WLMTestRandomArray(3, N * 2, 1.0, x));
  for (PetscInt i = 0; i < N; i++) w[i] = 0.3 + 0.1 * i;
  for (PetscInt K = 2; K <= 4; K++) {
    WLMTestDerivativeErrors err;

    WLMTestCall(CreateBatchModel(PETSC_COMM_SELF, K, PETSC_TRUE, &pot));
    WLMTestCall(WLMPotentialMeanfieldSetBatchSeed(pot, 99 + K));
    WLMTestCall(WLMTestPotentialDerivatives(pot, 0.3, N, x, w, 5, &err));
    ck_assert_msg(err.forces < 1e-6, "K = %d: force error %g", (int)K, (double)err.forces);
    ck_assert_msg(err.state < 1e-6, "K = %d: state product error %g", (int)K, (double)err.state);
    ck_assert_msg(err.parameters < 1e-6, "K = %d: parameter product error %g", (int)K, (double)err.parameters);
    ck_assert_msg(err.gradient < 1e-6, "K = %d: parameter gradient error %g", (int)K, (double)err.gradient);
    WLMTestCall(WLMPotentialDestroy(&pot));
  }
}
END_TEST

/*
   Mean over S seeds of the batch forces and energy against the full pair sum.
   The pair part alone (no external field) with N = 10 and K = 4, so batches
   of 4, 4 and 2 test the weight for unequal batch sizes.
*/
START_TEST(test_batch_unbiased)
{
  const PetscInt N = 10, dim = 2, S = 3000;
  PetscReal      x[20], F[20], Fexact[20], mean[21], sq[21], U, Uexact, worst = 0;
  WLMPotential   full, batch;

  WLMTestCall(WLMTestRandomArray(8, N * dim, 1.0, x));
  WLMTestCall(CreateBatchModel(PETSC_COMM_SELF, 0, PETSC_FALSE, &full));
  WLMTestCall(CreateBatchModel(PETSC_COMM_SELF, 4, PETSC_FALSE, &batch));
  WLMTestCall(WLMPotentialComputeForces(full, 0.1, N, x, NULL, &Uexact, Fexact));
  for (PetscInt e = 0; e <= N * dim; e++) mean[e] = sq[e] = 0;
  for (PetscInt s = 0; s < S; s++) {
    WLMTestCall(WLMPotentialMeanfieldSetBatchSeed(batch, (uint64_t)s));
    WLMTestCall(WLMPotentialComputeForces(batch, 0.1, N, x, NULL, &U, F));
    for (PetscInt e = 0; e < N * dim; e++) {
      mean[e] += F[e] / S;
      sq[e] += F[e] * F[e] / S;
    }
    mean[N * dim] += U / S;
    sq[N * dim] += U * U / S;
  }
  /* each estimate within 5 standard errors of the exact value; the exact values differ from one seed's estimate by much more */
  for (PetscInt e = 0; e <= N * dim; e++) {
    const PetscReal exact  = e < N * dim ? Fexact[e] : Uexact;
    const PetscReal stderr_ = PetscSqrtReal(PetscMax(sq[e] - mean[e] * mean[e], 0) / (S - 1));

    ck_assert_msg(stderr_ > 0, "entry %d has no variance over the seeds", (int)e);
    worst = PetscMax(worst, PetscAbsReal(mean[e] - exact) / stderr_);
  }
  ck_assert_msg(worst < 5, "the batch mean is %g standard errors from the full pair sum", (double)worst);
  WLMTestCall(WLMPotentialDestroy(&full));
  WLMTestCall(WLMPotentialDestroy(&batch));
}
END_TEST

/* K >= N is the full pair sum, bit for bit. */
START_TEST(test_batch_large_is_full)
{
  const PetscInt N = 7, dim = 2;
  PetscReal      x[14], F1[14], F2[14], U1, U2;
  WLMPotential   full, batch;

  WLMTestCall(WLMTestRandomArray(9, N * dim, 1.0, x));
  WLMTestCall(CreateBatchModel(PETSC_COMM_SELF, 0, PETSC_TRUE, &full));
  WLMTestCall(CreateBatchModel(PETSC_COMM_SELF, N, PETSC_TRUE, &batch));
  WLMTestCall(WLMPotentialComputeForces(full, 0.0, N, x, NULL, &U1, F1));
  WLMTestCall(WLMPotentialComputeForces(batch, 0.0, N, x, NULL, &U2, F2));
  ck_assert_mem_eq(F1, F2, sizeof(F1));
  ck_assert_double_eq(U1, U2);
  WLMTestCall(WLMPotentialDestroy(&full));
  WLMTestCall(WLMPotentialDestroy(&batch));
}
END_TEST

/* The same seed gives the same batches on every rank, so a sharded model equals a single-rank one. */
START_TEST(test_batch_sharded)
{
  const PetscInt N = 13;
  PetscReal      x[26], w[13], diff;
  WLMPotential   single, sharded;

  WLMTestCall(WLMTestRandomArray(10, N * 2, 1.0, x));
  for (PetscInt i = 0; i < N; i++) w[i] = 1.0 / (i + 2);
  WLMTestCall(CreateBatchModel(PETSC_COMM_SELF, 3, PETSC_TRUE, &single));
  WLMTestCall(CreateBatchModel(PETSC_COMM_WORLD, 3, PETSC_TRUE, &sharded));
  WLMTestCall(WLMPotentialMeanfieldSetBatchSeed(single, 12345));
  WLMTestCall(WLMPotentialMeanfieldSetBatchSeed(sharded, 12345));
  WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.25, N, x, w, 11, &diff));
  ck_assert_msg(diff < 1e-12, "sharded and single-rank batch results differ by %g", (double)diff);
  WLMTestCall(WLMPotentialDestroy(&single));
  WLMTestCall(WLMPotentialDestroy(&sharded));
}
END_TEST

START_TEST(test_batch_bad_size)
{
  WLMPotential pot;

  WLMTestCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  WLMTestCall(WLMPotentialSetType(pot, WLMPOTENTIALMEANFIELD));
  WLMTestExpectError(WLMPotentialMeanfieldSetBatch(pot, 1), PETSC_ERR_ARG_OUTOFRANGE, "Random-batch size 1 is invalid");
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("potential_meanfield_batch");
  TCase *tc = tcase_create("batch");

  tcase_add_test(tc, test_batch_derivatives);
  tcase_add_test(tc, test_batch_unbiased);
  tcase_add_test(tc, test_batch_large_is_full);
  tcase_add_test(tc, test_batch_sharded);
  tcase_add_test(tc, test_batch_bad_size);
  suite_add_tcase(s, tc);
  return s;
}
