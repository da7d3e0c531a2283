/*
   Blur estimate: half the median pairwise distance against a sorted list of
   all distances, the lower clamp, independence of the split over ranks, and
   errors for clouds that give no estimate.
*/
#include "wlmtest.h"
#include <wlm/wlmloss.h>
#include <wlm/wlmsys.h>

static void RandomCloud(uint64_t seed, PetscInt n, PetscReal x[])
{
  WLMRandom r;

  WLMRandomSeed(&r, seed, 0);
  for (PetscInt i = 0; i < n; i++) x[i] = WLMRandomNormal(&r);
}

static int CompareReals(const void *a, const void *b)
{
  const PetscReal u = *(const PetscReal *)a, v = *(const PetscReal *)b;

  return (u > v) - (u < v);
}

/* Median of all pairwise distances by sorting; count is odd or even depending on n. */
static PetscReal MedianDistance(PetscInt n, PetscInt dim, const PetscReal x[])
{
  PetscReal *d, median;
  PetscInt   count = 0;

  d = (PetscReal *)malloc(sizeof(PetscReal) * n * (n - 1) / 2);
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt j = i + 1; j < n; j++) {
      PetscReal s = 0;

      for (PetscInt k = 0; k < dim; k++) s += (x[i * dim + k] - x[j * dim + k]) * (x[i * dim + k] - x[j * dim + k]);
      d[count++] = PetscSqrtReal(s);
    }
  }
  qsort(d, count, sizeof(PetscReal), CompareReals);
  median = count % 2 ? d[count / 2] : 0.5 * (d[count / 2 - 1] + d[count / 2]);
  free(d);
  return median;
}

START_TEST(test_blur_median)
{
  const PetscInt   dim = 3;
  static PetscReal x[3 * 90];

  /* 90 particles give an odd pair count (4005), 89 an even one (3916) */
  for (PetscInt n = 89; n <= 90; n++) {
    PetscReal blur;

    RandomCloud(7, n * dim, x);
    WLMTestCall(WLMLossEstimateBlur(PETSC_COMM_SELF, dim, n, x, 1000, 3, &blur));
    ck_assert_msg(WLMTestRelativeError(blur, 0.5 * MedianDistance(n, dim, x), 0) < 1e-15, "n = %" PetscInt_FMT ": blur %.16g, half median %.16g", n, (double)blur, (double)(0.5 * MedianDistance(n, dim, x)));
  }
}
END_TEST

/* A subsample of 1000 out of 4000 particles lands near the median of the whole cloud, and the seed picks the sample. */
START_TEST(test_blur_subsample)
{
  const PetscInt   N = 4000, dim = 2;
  static PetscReal x[8000];
  PetscReal        b1, b2, full;

  RandomCloud(8, N * dim, x);
  WLMTestCall(WLMLossEstimateBlur(PETSC_COMM_SELF, dim, N, x, 1000, 1, &b1));
  WLMTestCall(WLMLossEstimateBlur(PETSC_COMM_SELF, dim, N, x, 1000, 2, &b2));
  WLMTestCall(WLMLossEstimateBlur(PETSC_COMM_SELF, dim, N, x, N, 0, &full));
  ck_assert_msg(b1 != b2, "seeds 1 and 2 gave the same blur %.16g", (double)b1);
  ck_assert_msg(PetscAbsReal(b1 - full) < 0.05 * full, "subsample blur %g, full-cloud blur %g", (double)b1, (double)full);
  ck_assert_msg(PetscAbsReal(b2 - full) < 0.05 * full, "subsample blur %g, full-cloud blur %g", (double)b2, (double)full);
}
END_TEST

/* With most particles at one point the median distance is 0, and the floor 1e-3 times the bounding-box diagonal applies. */
START_TEST(test_blur_floor)
{
  PetscReal x[20] = {0}, blur;

  x[18] = 3;
  x[19] = 4;
  WLMTestCall(WLMLossEstimateBlur(PETSC_COMM_SELF, 2, 10, x, 0, 0, &blur));
  ck_assert_msg(WLMTestRelativeError(blur, 5e-3, 0) < 1e-15, "blur %.16g, expected 1e-3 times the diagonal 5", (double)blur);
}
END_TEST

/* The estimate depends on the cloud, not on its split over the ranks. */
START_TEST(test_blur_ranks)
{
  const PetscInt   N = 1500, dim = 2;
  static PetscReal x[3000];
  PetscReal        one, all;
  PetscInt         i0 = N * wlm_test_rank * wlm_test_rank / (wlm_test_size * wlm_test_size), i1 = N * (wlm_test_rank + 1) * (wlm_test_rank + 1) / (wlm_test_size * wlm_test_size);

  RandomCloud(9, N * dim, x);
  WLMTestCall(WLMLossEstimateBlur(PETSC_COMM_SELF, dim, N, x, 700, 11, &one));
  WLMTestCall(WLMLossEstimateBlur(PETSC_COMM_WORLD, dim, i1 - i0, x + i0 * dim, 700, 11, &all));
  ck_assert_msg(one == all, "blur on %d ranks %.16g, on one rank %.16g", wlm_test_size, (double)all, (double)one);
}
END_TEST

START_TEST(test_blur_bad_input)
{
  PetscReal x[6] = {1, 2, 1, 2, 1, 2}, blur;

  WLMTestExpectError(WLMLossEstimateBlur(PETSC_COMM_SELF, 2, 3, x, 0, 0, &blur), PETSC_ERR_ARG_OUTOFRANGE, "All 3 sampled particles are at the same position");
  WLMTestExpectError(WLMLossEstimateBlur(PETSC_COMM_SELF, 2, 1, x, 0, 0, &blur), PETSC_ERR_ARG_SIZ, "at least 2 particles, not 1");
  WLMTestExpectError(WLMLossEstimateBlur(PETSC_COMM_SELF, 0, 3, x, 0, 0, &blur), PETSC_ERR_ARG_OUTOFRANGE, "Dimension 0");
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("loss_blur");
  TCase *tc = tcase_create("blur");

  tcase_add_test(tc, test_blur_median);
  tcase_add_test(tc, test_blur_subsample);
  tcase_add_test(tc, test_blur_floor);
  tcase_add_test(tc, test_blur_ranks);
  tcase_add_test(tc, test_blur_bad_input);
  suite_add_tcase(s, tc);
  return s;
}
