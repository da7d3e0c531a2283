/*
   Losses on a communicator of several ranks: each rank passes a block of
   rows of both clouds (uneven blocks, some empty), and the value and the
   position and mass gradients of its block must equal those of one rank
   that has everything, up to the order of the additions.  Also the errors that only a split can
   cause: ranks that disagree on the dimension or on passing masses, and bad
   data on one rank, which every rank must report.
*/
#include "wlmtest.h"
#include "loss_fixtures.h"
#include <wlm/wlmloss.h>
#include <math.h>

/* Block [*i0, *i1) of n rows for this rank: rank r gets a share proportional to r (so rank 0 none) with skipfirst, to r + 1 without. */
static void Block(PetscInt n, PetscBool skipfirst, PetscInt *i0, PetscInt *i1)
{
  const PetscInt size = wlm_test_size, r = wlm_test_rank;

  if (size == 1) {
    *i0 = 0;
    *i1 = n;
  } else if (skipfirst) {
    *i0 = n * (r * (r - 1) / 2) / (size * (size - 1) / 2);
    *i1 = n * (r * (r + 1) / 2) / (size * (size - 1) / 2);
  } else {
    *i0 = n * (r * (r + 1) / 2) / (size * (size + 1) / 2);
    *i1 = n * ((r + 1) * (r + 2) / 2) / (size * (size + 1) / 2);
  }
}

static PetscErrorCode CreateLoss(MPI_Comm comm, WLMLossType type, const LossFixture *fx, PetscBool blur, WLMLoss *loss)
{
  PetscFunctionBeginUser;
  PetscCall(WLMLossCreate(comm, loss));
  PetscCall(WLMLossSetType(*loss, type));
  PetscCall(WLMLossSetDimension(*loss, fx->dim));
  PetscCall(WLMLossSetExponent(*loss, fx->p));
  if (blur) PetscCall(WLMLossSetBlur(*loss, fx->blur));
  PetscCall(WLMLossSetScaling(*loss, fx->scaling));
  PetscCall(WLMLossSetUp(*loss));
  PetscFunctionReturn(0);
}

/* Compares the loss of type on the split clouds with the loss on one rank, for every fixture. */
static void CheckSplit(WLMLossType type, PetscBool blur)
{
  for (size_t c = 0; c < sizeof(loss_fixtures) / sizeof(loss_fixtures[0]); c++) {
    const LossFixture *fx = &loss_fixtures[c];
    PetscReal          vone, vall, gone[500], gall[500], aone[100], aall[100], err = 0, norm = 0, aerr = 0, anorm = 0;
    PetscInt           x0, x1, y0, y1;
    WLMLoss            one, all;

    ck_assert_int_le(fx->N * fx->dim, 500);
    ck_assert_int_le(fx->N, 100);
    Block(fx->N, PETSC_TRUE, &x0, &x1);
    Block(fx->M, PETSC_FALSE, &y0, &y1);
    WLMTestCall(CreateLoss(PETSC_COMM_SELF, type, fx, blur, &one));
    WLMTestCall(CreateLoss(PETSC_COMM_WORLD, type, fx, blur, &all));
    WLMTestCall(WLMLossComputeWithMassGradient(one, fx->N, fx->x, fx->a, fx->M, fx->y, fx->b, &vone, gone, aone));
    WLMTestCall(WLMLossComputeWithMassGradient(all, x1 - x0, fx->x + x0 * fx->dim, fx->a ? fx->a + x0 : NULL, y1 - y0, fx->y + y0 * fx->dim, fx->b ? fx->b + y0 : NULL, &vall, gall, aall));
    ck_assert_msg(WLMTestRelativeError(vone, vall, 0) < 1e-12, "%s, %s: value on %d ranks %.16g, on one rank %.16g", type, fx->name, wlm_test_size, (double)vall, (double)vone);
    for (PetscInt i = 0; i < (x1 - x0) * fx->dim; i++) {
      err  = PetscMax(err, PetscAbsReal(gall[i] - gone[x0 * fx->dim + i]));
      norm = PetscMax(norm, PetscAbsReal(gone[x0 * fx->dim + i]));
    }
    for (PetscInt i = 0; i < x1 - x0; i++) {
      aerr  = PetscMax(aerr, PetscAbsReal(aall[i] - aone[x0 + i]));
      anorm = PetscMax(anorm, PetscAbsReal(aone[x0 + i]));
    }
    /* every rank must reach the same verdict, or the failing rank would leave the others waiting in the next collective call */
    err  = norm > 0 ? err / norm : err;
    aerr = anorm > 0 ? aerr / anorm : aerr;
    MPI_Allreduce(MPI_IN_PLACE, &err, 1, MPIU_REAL, MPI_MAX, PETSC_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &aerr, 1, MPIU_REAL, MPI_MAX, PETSC_COMM_WORLD);
    ck_assert_msg(err <= 1e-11, "%s, %s: gradient on %d ranks differs by %g relative to its largest entry", type, fx->name, wlm_test_size, (double)err);
    ck_assert_msg(aerr <= 1e-10, "%s, %s: mass gradient on %d ranks differs by %g relative to its largest entry", type, fx->name, wlm_test_size, (double)aerr);
    WLMTestCall(WLMLossDestroy(&one));
    WLMTestCall(WLMLossDestroy(&all));
  }
}

START_TEST(test_split_sinkhorn)
{
  CheckSplit(WLMLOSSSINKHORN, PETSC_TRUE);
}
END_TEST

START_TEST(test_split_mmd_energy)
{
  CheckSplit(WLMLOSSMMDGAUSSIAN, PETSC_TRUE);
  CheckSplit(WLMLOSSENERGY, PETSC_TRUE);
}
END_TEST

/* The blur estimated from the observed cloud is the same on every split. */
START_TEST(test_split_default_blur)
{
  CheckSplit(WLMLOSSSINKHORN, PETSC_FALSE);
}
END_TEST

START_TEST(test_split_bad_input)
{
  const LossFixture *fx = &loss_fixtures[0];
  PetscReal          x[200], value;
  PetscInt           x0, x1, y0, y1;
  WLMLoss            loss;

  Block(fx->N, PETSC_FALSE, &x0, &x1);
  Block(fx->M, PETSC_FALSE, &y0, &y1);
  WLMTestCall(CreateLoss(PETSC_COMM_WORLD, WLMLOSSSINKHORN, fx, PETSC_TRUE, &loss));
  /* a NaN on the last rank only */
  for (PetscInt i = 0; i < (x1 - x0) * fx->dim; i++) x[i] = fx->x[x0 * fx->dim + i];
  if (wlm_test_rank == wlm_test_size - 1) x[1] = NAN;
  WLMTestExpectError(WLMLossCompute(loss, x1 - x0, x, NULL, y1 - y0, fx->y + y0 * fx->dim, NULL, &value, NULL), PETSC_ERR_ARG_OUTOFRANGE, "is nan");
  if (wlm_test_size > 1) {
    PetscReal ones[100];

    for (PetscInt i = 0; i < 100; i++) ones[i] = 1;
    WLMTestExpectError(WLMLossCompute(loss, x1 - x0, fx->x + x0 * fx->dim, wlm_test_rank ? ones : NULL, y1 - y0, fx->y + y0 * fx->dim, NULL, &value, NULL), PETSC_ERR_ARG_INCOMP, "Masses of x are given on rank");
  }
  WLMTestCall(WLMLossDestroy(&loss));

  if (wlm_test_size > 1) {
    WLMTestCall(WLMLossCreate(PETSC_COMM_WORLD, &loss));
    WLMTestCall(WLMLossSetDimension(loss, 2 + (wlm_test_rank == 1)));
    WLMTestCall(WLMLossSetBlur(loss, 0.5));
    WLMTestExpectError(WLMLossSetUp(loss), PETSC_ERR_ARG_INCOMP, "Dimension mismatch");
    WLMTestCall(WLMLossDestroy(&loss));
  }
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("loss_distributed");
  TCase *tc = tcase_create("distributed");

  tcase_add_test(tc, test_split_sinkhorn);
  tcase_add_test(tc, test_split_mmd_energy);
  tcase_add_test(tc, test_split_default_blur);
  tcase_add_test(tc, test_split_bad_input);
  suite_add_tcase(s, tc);
  return s;
}
