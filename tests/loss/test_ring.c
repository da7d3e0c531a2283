/*
   Ring exchange of sharded clouds (-wlm_loss_exchange ring) against the
   gathered path: the same value and gradient to summation order for every
   loss type, with uneven shares (one rank may hold no particle of x), and the
   automatic choice between the two paths.
*/
#include "wlmtest.h"
#include <wlm/private/lossimpl.h>
#include <wlm/wlmsys.h>

/* Global cloud of count particles in dim dimensions, the same on every rank; rank r keeps rows [lo, hi). */
static void Cloud(uint64_t seed, PetscInt count, PetscInt dim, PetscReal shift, PetscReal x[])
{
  WLMRandom r;

  WLMRandomSeed(&r, seed, 0);
  for (PetscInt i = 0; i < count * dim; i++) x[i] = WLMRandomNormal(&r) + shift;
}

/* Uneven split: rank r of P gets a share that grows with r; with skipfirst rank 0 gets none. */
static void Share(PetscInt count, PetscBool skipfirst, PetscInt *lo, PetscInt *hi)
{
  PetscInt weights = 0, before = 0;

  for (PetscMPIInt q = 0; q < wlm_test_size; q++) weights += (skipfirst && q == 0) ? 0 : q + 1;
  for (PetscMPIInt q = 0; q < wlm_test_rank; q++) before += (skipfirst && q == 0) ? 0 : q + 1;
  *lo = count * before / weights;
  *hi = wlm_test_rank == wlm_test_size - 1 ? count : count * (before + ((skipfirst && wlm_test_rank == 0) ? 0 : wlm_test_rank + 1)) / weights;
}

static PetscErrorCode CreateLoss(const char type[], PetscInt p, WLMLossExchange exchange, WLMLoss *loss)
{
  PetscFunctionBeginUser;
  PetscCall(WLMLossCreate(PETSC_COMM_WORLD, loss));
  PetscCall(WLMLossSetType(*loss, type));
  PetscCall(WLMLossSetDimension(*loss, 3));
  PetscCall(WLMLossSetExponent(*loss, p));
  PetscCall(WLMLossSetBlur(*loss, 0.4));
  PetscCall(WLMLossSetUp(*loss));
  (*loss)->exchange = exchange;
  PetscFunctionReturn(0);
}

/* Value and this rank's gradient with one exchange; ring_used reports which path ran. */
static PetscErrorCode ComputeWith(const char type[], PetscInt p, WLMLossExchange exchange, PetscInt n, const PetscReal x[], PetscInt m, const PetscReal y[], PetscReal *value, PetscReal grad[], PetscBool *ring_used)
{
  WLMLoss loss;

  PetscFunctionBeginUser;
  PetscCall(CreateLoss(type, p, exchange, &loss));
  PetscCall(WLMLossCompute(loss, n, x, NULL, m, y, NULL, value, grad));
  *ring_used = loss->ring_used;
  PetscCall(WLMLossDestroy(&loss));
  PetscFunctionReturn(0);
}

START_TEST(test_ring_equals_gather)
{
  const struct {
    const char *type;
    PetscInt    p;
  } cases[] = {
    {WLMLOSSSINKHORN,    2},
    {WLMLOSSSINKHORN,    1},
    {WLMLOSSMMDGAUSSIAN, 2},
    {WLMLOSSENERGY,      2},
  };
  const PetscInt dim = 3, N = 61, M = 47;
  PetscReal     *x, *y, *g1, *g2;

  PetscMalloc4(N * dim, &x, M * dim, &y, N * dim, &g1, N * dim, &g2);
  Cloud(5, N, dim, 0.0, x);
  Cloud(6, M, dim, 0.7, y);
  for (int skip = 0; skip < 2; skip++) {
    PetscInt xlo, xhi, ylo, yhi;

    Share(N, (PetscBool)(skip && wlm_test_size > 1), &xlo, &xhi);
    Share(M, PETSC_FALSE, &ylo, &yhi);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
      PetscReal v1, v2, diff = 0, scale = 0;
      PetscBool used1, used2;

      WLMTestCall(ComputeWith(cases[c].type, cases[c].p, WLM_LOSS_EXCHANGE_GATHER, xhi - xlo, x + xlo * dim, yhi - ylo, y + ylo * dim, &v1, g1, &used1));
      WLMTestCall(ComputeWith(cases[c].type, cases[c].p, WLM_LOSS_EXCHANGE_RING, xhi - xlo, x + xlo * dim, yhi - ylo, y + ylo * dim, &v2, g2, &used2));
      ck_assert(!used1);
      ck_assert_msg(used2, "%s p = %d did not use the ring", cases[c].type, (int)cases[c].p);
      ck_assert_msg(PetscAbsReal(v1 - v2) <= 1e-12 * PetscAbsReal(v1), "%s p = %d: value %.17g gathered, %.17g ring", cases[c].type, (int)cases[c].p, (double)v1, (double)v2);
      for (PetscInt i = 0; i < (xhi - xlo) * dim; i++) {
        diff  = PetscMax(diff, PetscAbsReal(g1[i] - g2[i]));
        scale = PetscMax(scale, PetscAbsReal(g1[i]));
      }
      MPI_Allreduce(MPI_IN_PLACE, &diff, 1, MPIU_REAL, MPI_MAX, PETSC_COMM_WORLD);
      MPI_Allreduce(MPI_IN_PLACE, &scale, 1, MPIU_REAL, MPI_MAX, PETSC_COMM_WORLD);
      ck_assert_msg(diff <= 1e-10 * scale, "%s p = %d: gradients differ by %g (largest entry %g)", cases[c].type, (int)cases[c].p, (double)diff, (double)scale);
    }
  }
  PetscFree4(x, y, g1, g2);
}
END_TEST

/* auto picks the ring on several ranks from ring_min particles, and the gathered path on one rank, below it, or with masses. */
START_TEST(test_ring_auto_choice)
{
  const PetscInt dim = 3, N = 40, M = 40;
  PetscReal     *x, *y, *w, value;
  PetscInt       lo, hi;
  WLMLoss        loss;

  PetscMalloc3(N * dim, &x, M * dim, &y, N, &w);
  Cloud(7, N, dim, 0.0, x);
  Cloud(8, M, dim, 0.5, y);
  for (PetscInt i = 0; i < N; i++) w[i] = 1.0 + i;
  Share(N, PETSC_FALSE, &lo, &hi);
  WLMTestCall(CreateLoss(WLMLOSSMMDGAUSSIAN, 2, WLM_LOSS_EXCHANGE_AUTO, &loss));
  loss->ring_min = N + M;
  WLMTestCall(WLMLossCompute(loss, hi - lo, x + lo * dim, NULL, hi - lo, y + lo * dim, NULL, &value, NULL));
  ck_assert_int_eq(loss->ring_used, wlm_test_size > 1);
  loss->ring_min = N + M + 1;
  WLMTestCall(WLMLossCompute(loss, hi - lo, x + lo * dim, NULL, hi - lo, y + lo * dim, NULL, &value, NULL));
  ck_assert(!loss->ring_used);
  loss->exchange = WLM_LOSS_EXCHANGE_RING;
  WLMTestCall(WLMLossCompute(loss, hi - lo, x + lo * dim, w + lo, hi - lo, y + lo * dim, NULL, &value, NULL));
  ck_assert(!loss->ring_used);
  WLMTestCall(WLMLossDestroy(&loss));
  PetscFree3(x, y, w);
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("loss_ring");
  TCase *tc = tcase_create("ring");

  tcase_add_test(tc, test_ring_equals_gather);
  tcase_add_test(tc, test_ring_auto_choice);
  suite_add_tcase(s, tc);
  return s;
}
