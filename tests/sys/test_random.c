/*
   Random streams: bit-exact agreement with the published xoshiro256** and
   splitmix64 algorithms, moments within sampling error, and reproducibility.

   Reference outputs were produced by a direct Python transcription of the
   algorithms (Blackman and Vigna), independent of the C code:
     xoshiro256** from state {1, 2, 3, 4}: 11520, 0, 1509978240, 1215971899390074240
     splitmix64 finalizer of 0 and 1: 16294208416658607535, 10451216379200822465
*/
#include "wlmtest.h"
#include <wlm/wlmsys.h>

START_TEST(test_xoshiro_reference)
{
  WLMRandom      r = {{1, 2, 3, 4}, 0, PETSC_FALSE};
  const uint64_t expected[4] = {11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL};

  for (int i = 0; i < 4; i++) ck_assert_uint_eq(WLMRandomNext(&r), expected[i]);
}
END_TEST

START_TEST(test_splitmix_reference)
{
  ck_assert_uint_eq(WLMRandomMix64(0), 16294208416658607535ULL);
  ck_assert_uint_eq(WLMRandomMix64(1), 10451216379200822465ULL);
}
END_TEST

START_TEST(test_streams_reproducible)
{
  WLMRandom a, b, c;

  WLMRandomSeed(&a, 42, 7);
  WLMRandomSeed(&b, 42, 7);
  WLMRandomSeed(&c, 42, 8);
  for (int i = 0; i < 100; i++) {
    uint64_t xa = WLMRandomNext(&a), xb = WLMRandomNext(&b), xc = WLMRandomNext(&c);

    ck_assert_uint_eq(xa, xb);
    ck_assert_uint_ne(xa, xc);
  }
}
END_TEST

/* Mean 1/2 and variance 1/12; with n = 10^6 the standard error of the mean is 2.9e-4, so 2e-3 is a 7-sigma bound. */
START_TEST(test_uniform_moments)
{
  WLMRandom r;
  PetscReal sum = 0, sumsq = 0, lo = 1, hi = 0;
  const int n = 1000000;

  WLMRandomSeed(&r, 1, 0);
  for (int i = 0; i < n; i++) {
    PetscReal u = WLMRandomUniform(&r);

    sum += u;
    sumsq += u * u;
    lo = PetscMin(lo, u);
    hi = PetscMax(hi, u);
  }
  ck_assert_double_gt(lo, 0.0);
  ck_assert_double_lt(hi, 1.0);
  ck_assert_double_eq_tol(sum / n, 0.5, 2e-3);
  ck_assert_double_eq_tol(sumsq / n - (sum / n) * (sum / n), 1.0 / 12.0, 2e-3);
}
END_TEST

/* Mean 0, variance 1, fourth moment 3 for a standard normal; 7-sigma bounds at n = 10^6. */
START_TEST(test_normal_moments)
{
  WLMRandom r;
  PetscReal m1 = 0, m2 = 0, m4 = 0;
  const int n = 1000000;

  WLMRandomSeed(&r, 2, 0);
  for (int i = 0; i < n; i++) {
    PetscReal z = WLMRandomNormal(&r);

    m1 += z;
    m2 += z * z;
    m4 += z * z * z * z;
  }
  ck_assert_double_eq_tol(m1 / n, 0.0, 7e-3);
  ck_assert_double_eq_tol(m2 / n, 1.0, 1e-2);
  ck_assert_double_eq_tol(m4 / n, 3.0, 4e-2);
}
END_TEST

/* Each of 10 values gets 1/10 of 10^6 draws; the chi-square statistic with 9 degrees of freedom exceeds 40 with probability below 1e-5. */
START_TEST(test_integer_uniform)
{
  WLMRandom r;
  PetscInt  counts[10] = {0};
  PetscReal chi2 = 0, expected = 1e5;

  WLMRandomSeed(&r, 3, 0);
  for (int i = 0; i < 1000000; i++) {
    PetscInt k = WLMRandomInteger(&r, 10);

    ck_assert_int_ge(k, 0);
    ck_assert_int_lt(k, 10);
    counts[k]++;
  }
  for (int k = 0; k < 10; k++) chi2 += (counts[k] - expected) * (counts[k] - expected) / expected;
  ck_assert_double_lt(chi2, 40.0);
}
END_TEST

START_TEST(test_sample_distinct)
{
  WLMRandom r;
  PetscInt  idx[50], seen[50];

  WLMRandomSeed(&r, 4, 0);
  for (int trial = 0; trial < 20; trial++) {
    WLMRandomSample(&r, 50, 20, idx);
    for (int i = 0; i < 50; i++) seen[i] = 0;
    for (int i = 0; i < 20; i++) {
      ck_assert_int_ge(idx[i], 0);
      ck_assert_int_lt(idx[i], 50);
      ck_assert_int_eq(seen[idx[i]], 0);
      seen[idx[i]] = 1;
    }
  }
}
END_TEST

/* A stream seeded by a global index gives the same numbers on every rank. */
START_TEST(test_same_on_all_ranks)
{
  WLMRandom r;
  uint64_t  x, xmin, xmax;

  WLMRandomSeed(&r, 99, 12345);
  x = WLMRandomNext(&r);
  MPI_Allreduce(&x, &xmin, 1, MPI_UINT64_T, MPI_MIN, PETSC_COMM_WORLD);
  MPI_Allreduce(&x, &xmax, 1, MPI_UINT64_T, MPI_MAX, PETSC_COMM_WORLD);
  ck_assert_uint_eq(xmin, xmax);
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("sys_random");
  TCase *tc = tcase_create("random");

  tcase_add_test(tc, test_xoshiro_reference);
  tcase_add_test(tc, test_splitmix_reference);
  tcase_add_test(tc, test_streams_reproducible);
  tcase_add_test(tc, test_uniform_moments);
  tcase_add_test(tc, test_normal_moments);
  tcase_add_test(tc, test_integer_uniform);
  tcase_add_test(tc, test_sample_distinct);
  tcase_add_test(tc, test_same_on_all_ranks);
  suite_add_tcase(s, tc);
  return s;
}
