/*
   Exact W1 and W2: values against POT's ot.emd2 and SciPy's assignment
   solver, properties (zero distance to itself, symmetry, translations, a
   single particle), the split over ranks, and errors for bad input.
*/
#include "wlmtest.h"
#include "transport_fixtures.h"
#include <wlm/wlmtransport.h>
#include <wlm/wlmsys.h>
#include <math.h>

static void RandomCloud(uint64_t seed, PetscInt n, PetscReal x[])
{
  WLMRandom r;

  WLMRandomSeed(&r, seed, 0);
  for (PetscInt i = 0; i < n; i++) x[i] = WLMRandomNormal(&r);
}

START_TEST(test_wasserstein_pot_fixtures)
{
  for (size_t c = 0; c < sizeof(transport_fixtures) / sizeof(transport_fixtures[0]); c++) {
    const TransportFixture *fx = &transport_fixtures[c];
    PetscReal               w1, w2;

    WLMTestCall(WLMTransportWassersteinSeq(1, fx->dim, fx->N, fx->x, fx->a, fx->M, fx->y, fx->b, &w1));
    WLMTestCall(WLMTransportWassersteinSeq(2, fx->dim, fx->N, fx->x, fx->a, fx->M, fx->y, fx->b, &w2));
    ck_assert_msg(WLMTestRelativeError(w1, fx->w1, 0) < 1e-9, "%s: W1 = %.16g, ot.emd2 gives %.16g", fx->name, (double)w1, (double)fx->w1);
    ck_assert_msg(WLMTestRelativeError(w2, fx->w2, 0) < 1e-9, "%s: W2 = %.16g, ot.emd2 gives %.16g", fx->name, (double)w2, (double)fx->w2);
  }
}
END_TEST

/* For equal sizes and uniform masses W1 is the mean distance of the optimal assignment. */
START_TEST(test_wasserstein_assignment)
{
  PetscInt checked = 0;

  for (size_t c = 0; c < sizeof(transport_fixtures) / sizeof(transport_fixtures[0]); c++) {
    const TransportFixture *fx = &transport_fixtures[c];
    PetscReal               w1;

    if (PetscIsNanReal(fx->assign)) continue;
    WLMTestCall(WLMTransportWassersteinSeq(1, fx->dim, fx->N, fx->x, NULL, fx->M, fx->y, NULL, &w1));
    ck_assert_msg(WLMTestRelativeError(w1, fx->assign, 0) < 1e-9, "%s: W1 = %.16g, assignment cost %.16g", fx->name, (double)w1, (double)fx->assign);
    checked++;
  }
  ck_assert_int_ge(checked, 3);
}
END_TEST

START_TEST(test_wasserstein_properties)
{
  const PetscInt  N = 120, M = 90, dim = 3;
  const PetscReal shift[3] = {0.3, -1.2, 0.5};
  PetscReal       x[360], y[270], xs[360], w, wxy, wyx, norm = 0;

  RandomCloud(1, N * dim, x);
  RandomCloud(2, M * dim, y);
  for (PetscInt k = 0; k < dim; k++) norm += shift[k] * shift[k];
  norm = PetscSqrtReal(norm);
  for (PetscInt i = 0; i < N; i++) {
    for (PetscInt k = 0; k < dim; k++) xs[i * dim + k] = x[i * dim + k] + shift[k];
  }
  for (PetscInt p = 1; p <= 2; p++) {
    WLMTestCall(WLMTransportWassersteinSeq(p, dim, N, x, NULL, N, x, NULL, &w));
    ck_assert_msg(PetscAbsReal(w) < 1e-12, "W%" PetscInt_FMT "(x, x) = %g", p, (double)w);
    WLMTestCall(WLMTransportWassersteinSeq(p, dim, N, x, NULL, M, y, NULL, &wxy));
    WLMTestCall(WLMTransportWassersteinSeq(p, dim, M, y, NULL, N, x, NULL, &wyx));
    ck_assert_msg(WLMTestRelativeError(wxy, wyx, 0) < 1e-12, "W%" PetscInt_FMT "(x, y) = %.16g but W%" PetscInt_FMT "(y, x) = %.16g", p, (double)wxy, p, (double)wyx);
    /* a translation by s moves every particle by |s|, and no plan does better since |mean difference| = |s| */
    WLMTestCall(WLMTransportWassersteinSeq(p, dim, N, x, NULL, N, xs, NULL, &w));
    ck_assert_msg(WLMTestRelativeError(w, norm, 0) < 1e-12, "W%" PetscInt_FMT "(x, x + s) = %.16g, |s| = %.16g", p, (double)w, (double)norm);
  }
}
END_TEST

/* A single particle sends its mass to every particle of the other cloud. */
START_TEST(test_wasserstein_single_particle)
{
  const PetscInt M = 25, dim = 2;
  PetscReal      x[2] = {0.4, -0.3}, y[50], b[25], w1, w2, total = 0, sum1 = 0, sum2 = 0;

  RandomCloud(3, M * dim, y);
  for (PetscInt j = 0; j < M; j++) {
    const PetscReal d2 = (x[0] - y[2 * j]) * (x[0] - y[2 * j]) + (x[1] - y[2 * j + 1]) * (x[1] - y[2 * j + 1]);

    b[j] = 1.0 + j % 4;
    total += b[j];
    sum1 += b[j] * PetscSqrtReal(d2);
    sum2 += b[j] * d2;
  }
  WLMTestCall(WLMTransportWassersteinSeq(1, dim, 1, x, NULL, M, y, b, &w1));
  WLMTestCall(WLMTransportWassersteinSeq(2, dim, 1, x, NULL, M, y, b, &w2));
  ck_assert_msg(WLMTestRelativeError(w1, sum1 / total, 0) < 1e-13, "W1 = %.16g, direct sum %.16g", (double)w1, (double)(sum1 / total));
  ck_assert_msg(WLMTestRelativeError(w2, PetscSqrtReal(sum2 / total), 0) < 1e-13, "W2 = %.16g, direct sum %.16g", (double)w2, (double)PetscSqrtReal(sum2 / total));
}
END_TEST

/* Each rank passes a block of both clouds (uneven blocks, rank 0 none of x); the result equals the one-rank value. */
START_TEST(test_wasserstein_ranks)
{
  for (size_t c = 0; c < sizeof(transport_fixtures) / sizeof(transport_fixtures[0]); c++) {
    const TransportFixture *fx = &transport_fixtures[c];
    PetscInt                x0, x1, y0, y1;
    PetscReal               wseq, wpar;

    /* x: each rank r > 0 gets an equal share and rank 0 none; y: shares of size proportional to r + 1 */
    x0 = 0;
    x1 = fx->N;
    if (wlm_test_size > 1) {
      x0 = wlm_test_rank == 0 ? 0 : fx->N * (wlm_test_rank - 1) / (wlm_test_size - 1);
      x1 = wlm_test_rank == 0 ? 0 : fx->N * wlm_test_rank / (wlm_test_size - 1);
    }
    y0 = fx->M * (wlm_test_rank * (wlm_test_rank + 1) / 2) / (wlm_test_size * (wlm_test_size + 1) / 2);
    y1 = fx->M * ((wlm_test_rank + 1) * (wlm_test_rank + 2) / 2) / (wlm_test_size * (wlm_test_size + 1) / 2);
    for (PetscInt p = 1; p <= 2; p++) {
      WLMTestCall(WLMTransportWassersteinSeq(p, fx->dim, fx->N, fx->x, fx->a, fx->M, fx->y, fx->b, &wseq));
      WLMTestCall(WLMTransportWasserstein(PETSC_COMM_WORLD, p, fx->dim, x1 - x0, fx->x + x0 * fx->dim, fx->a ? fx->a + x0 : NULL, y1 - y0, fx->y + y0 * fx->dim, fx->b ? fx->b + y0 : NULL, &wpar));
      ck_assert_msg(wseq == wpar, "%s: W%" PetscInt_FMT " on %d ranks is %.16g, on one rank %.16g", fx->name, p, wlm_test_size, (double)wpar, (double)wseq);
    }
  }
}
END_TEST

START_TEST(test_wasserstein_bad_input)
{
  PetscReal x[6] = {0, 0, 1, 0, 0, 1}, y[4] = {0.5, 0.5, 2, 1}, w[3] = {1, 2, 3}, value;

  WLMTestExpectError(WLMTransportWassersteinSeq(1, 2, 0, NULL, NULL, 2, y, NULL, &value), PETSC_ERR_ARG_SIZ, "Cloud x is empty");
  WLMTestExpectError(WLMTransportWassersteinSeq(1, 2, 3, x, NULL, 0, NULL, NULL, &value), PETSC_ERR_ARG_SIZ, "Cloud y is empty");
  WLMTestExpectError(WLMTransportWassersteinSeq(3, 2, 3, x, NULL, 2, y, NULL, &value), PETSC_ERR_ARG_OUTOFRANGE, "p = 3");
  WLMTestExpectError(WLMTransportWassersteinSeq(1, 0, 3, x, NULL, 2, y, NULL, &value), PETSC_ERR_ARG_OUTOFRANGE, "Dimension 0");
  x[4] = NAN;
  WLMTestExpectError(WLMTransportWassersteinSeq(1, 2, 3, x, NULL, 2, y, NULL, &value), PETSC_ERR_ARG_OUTOFRANGE, "Coordinate 0 of particle 2 of x is nan");
  x[4] = 0;
  w[2] = -1;
  WLMTestExpectError(WLMTransportWassersteinSeq(2, 2, 3, x, w, 2, y, NULL, &value), PETSC_ERR_ARG_OUTOFRANGE, "Mass 2 of x is -1");
  w[0] = w[1] = w[2] = 0;
  WLMTestExpectError(WLMTransportWassersteinSeq(2, 2, 2, y, NULL, 3, x, w, &value), PETSC_ERR_ARG_OUTOFRANGE, "Total mass of y is 0");
  WLMTestExpectError(WLMTransportWasserstein(PETSC_COMM_WORLD, 1, 2, 3, x, w, 2, y, NULL, &value), PETSC_ERR_ARG_OUTOFRANGE, "Total mass of x is 0");
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("transport_wasserstein");
  TCase *tc = tcase_create("wasserstein");

  tcase_add_test(tc, test_wasserstein_pot_fixtures);
  tcase_add_test(tc, test_wasserstein_assignment);
  tcase_add_test(tc, test_wasserstein_properties);
  tcase_add_test(tc, test_wasserstein_single_particle);
  tcase_add_test(tc, test_wasserstein_ranks);
  tcase_add_test(tc, test_wasserstein_bad_input);
  suite_add_tcase(s, tc);
  return s;
}
