/*
   mmd_gaussian and energy losses: values against the NumPy fixtures and
   direct double sums, properties (zero on equal clouds, non-negative,
   symmetric), gradients against central finite differences, and the blur
   estimate the Gaussian kernel uses when no blur is set.
*/
#include "wlmtest.h"
#include "loss_fixtures.h"
#include <wlm/wlmloss.h>
#include <wlm/wlmsys.h>

static PetscErrorCode CreateLoss(WLMLossType type, PetscInt dim, PetscReal blur, WLMLoss *loss)
{
  PetscFunctionBeginUser;
  PetscCall(WLMLossCreate(PETSC_COMM_SELF, loss));
  PetscCall(WLMLossSetType(*loss, type));
  PetscCall(WLMLossSetDimension(*loss, dim));
  if (blur > 0) PetscCall(WLMLossSetBlur(*loss, blur));
  PetscCall(WLMLossSetUp(*loss));
  PetscFunctionReturn(0);
}

static void RandomCloud(uint64_t seed, PetscInt n, PetscReal scale, PetscReal shift, PetscReal x[])
{
  WLMRandom r;

  WLMRandomSeed(&r, seed, 0);
  for (PetscInt i = 0; i < n; i++) x[i] = scale * WLMRandomNormal(&r) + shift;
}

static void RandomMasses(uint64_t seed, PetscInt n, PetscReal w[])
{
  WLMRandom r;

  WLMRandomSeed(&r, seed, 1);
  for (PetscInt i = 0; i < n; i++) w[i] = 0.2 + 1.8 * WLMRandomUniform(&r);
}

START_TEST(test_mmd_fixtures)
{
  for (size_t c = 0; c < sizeof(loss_fixtures) / sizeof(loss_fixtures[0]); c++) {
    const LossFixture *fx = &loss_fixtures[c];
    PetscReal          mmd, energy;
    WLMLoss            gauss, dist;

    WLMTestCall(CreateLoss(WLMLOSSMMDGAUSSIAN, fx->dim, fx->blur, &gauss));
    WLMTestCall(CreateLoss(WLMLOSSENERGY, fx->dim, 0, &dist));
    WLMTestCall(WLMLossCompute(gauss, fx->N, fx->x, fx->a, fx->M, fx->y, fx->b, &mmd, NULL));
    WLMTestCall(WLMLossCompute(dist, fx->N, fx->x, fx->a, fx->M, fx->y, fx->b, &energy, NULL));
    ck_assert_msg(WLMTestRelativeError(mmd, fx->mmd, 0) < 1e-12, "%s: MMD^2 = %.16g, NumPy %.16g", fx->name, (double)mmd, (double)fx->mmd);
    ck_assert_msg(WLMTestRelativeError(energy, fx->energy, 0) < 1e-12, "%s: energy distance %.16g, NumPy %.16g", fx->name, (double)energy, (double)fx->energy);
    WLMTestCall(WLMLossDestroy(&gauss));
    WLMTestCall(WLMLossDestroy(&dist));
  }
}
END_TEST

/* Both kernels vanish on equal clouds, are non-negative and symmetric. */
START_TEST(test_mmd_properties)
{
  const PetscInt    N = 33, M = 41, dim = 2;
  const WLMLossType types[2] = {WLMLOSSMMDGAUSSIAN, WLMLOSSENERGY};
  PetscReal         x[66], y[82], a[33], b[41], v, vab, vba;

  RandomMasses(3, N, a);
  RandomMasses(4, M, b);
  for (PetscInt t = 0; t < 2; t++) {
    WLMLoss loss;

    WLMTestCall(CreateLoss(types[t], dim, 0.6, &loss));
    RandomCloud(1, N * dim, 1.0, 0.0, x);
    WLMTestCall(WLMLossCompute(loss, N, x, a, N, x, a, &v, NULL));
    ck_assert_msg(PetscAbsReal(v) < 1e-14, "%s: loss(a, a) = %g", types[t], (double)v);
    for (PetscInt trial = 0; trial < 8; trial++) {
      RandomCloud(10 + trial, N * dim, 1.0, 0.0, x);
      RandomCloud(20 + trial, M * dim, 1.0 + 0.1 * trial, trial < 4 ? 0.0 : 0.3, y);
      WLMTestCall(WLMLossCompute(loss, N, x, a, M, y, b, &vab, NULL));
      WLMTestCall(WLMLossCompute(loss, M, y, b, N, x, a, &vba, NULL));
      ck_assert_msg(vab >= 0, "%s, trial %" PetscInt_FMT ": loss = %g < 0", types[t], trial, (double)vab);
      ck_assert_msg(WLMTestRelativeError(vab, vba, 0) < 1e-12, "%s, trial %" PetscInt_FMT ": loss(a, b) = %.16g, loss(b, a) = %.16g", types[t], trial, (double)vab, (double)vba);
    }
    WLMTestCall(WLMLossDestroy(&loss));
  }
}
END_TEST

/* Gradient against central differences in every coordinate, h = 1e-5. */
START_TEST(test_mmd_gradient)
{
  const PetscInt    N = 10, M = 13, dim = 3;
  const PetscReal   h = 1e-5;
  const WLMLossType types[2] = {WLMLOSSMMDGAUSSIAN, WLMLOSSENERGY};
  PetscReal         x[30], y[39], a[10], b[13], grad[30], fd[30], v, vp, vm;

  RandomCloud(31, N * dim, 1.0, 0.0, x);
  RandomCloud(32, M * dim, 0.8, 0.4, y);
  RandomMasses(33, N, a);
  RandomMasses(34, M, b);
  for (PetscInt t = 0; t < 2; t++) {
    for (PetscInt weighted = 0; weighted < 2; weighted++) {
      const PetscReal *wa = weighted ? a : NULL, *wb = weighted ? b : NULL;
      PetscReal        diff2 = 0, norm2 = 0;
      WLMLoss          loss;

      WLMTestCall(CreateLoss(types[t], dim, 0.7, &loss));
      WLMTestCall(WLMLossCompute(loss, N, x, wa, M, y, wb, &v, grad));
      for (PetscInt i = 0; i < N * dim; i++) {
        const PetscReal xi = x[i];

        x[i] = xi + h;
        WLMTestCall(WLMLossCompute(loss, N, x, wa, M, y, wb, &vp, NULL));
        x[i] = xi - h;
        WLMTestCall(WLMLossCompute(loss, N, x, wa, M, y, wb, &vm, NULL));
        x[i]  = xi;
        fd[i] = (vp - vm) / (2 * h);
        diff2 += (fd[i] - grad[i]) * (fd[i] - grad[i]);
        norm2 += fd[i] * fd[i];
      }
      ck_assert_msg(PetscSqrtReal(diff2) <= 1e-6 * PetscSqrtReal(norm2), "%s, weighted %" PetscInt_FMT ": |gradient - finite differences| = %g, |finite differences| = %g", types[t], weighted, (double)PetscSqrtReal(diff2), (double)PetscSqrtReal(norm2));
      WLMTestCall(WLMLossDestroy(&loss));
    }
  }
}
END_TEST

/* Gradient with respect to the masses as passed against central differences, h = 1e-6. */
START_TEST(test_mmd_mass_gradient)
{
  const PetscInt    N = 10, M = 13, dim = 3;
  const PetscReal   h = 1e-6;
  const WLMLossType types[2] = {WLMLOSSMMDGAUSSIAN, WLMLOSSENERGY};
  PetscReal         x[30], y[39], a[10], b[13], grada[10], v, vp, vm;

  RandomCloud(61, N * dim, 1.0, 0.0, x);
  RandomCloud(62, M * dim, 0.8, 0.4, y);
  RandomMasses(63, N, a);
  RandomMasses(64, M, b);
  for (PetscInt t = 0; t < 2; t++) {
    PetscReal diff2 = 0, norm2 = 0;
    WLMLoss   loss;

    WLMTestCall(CreateLoss(types[t], dim, 0.7, &loss));
    WLMTestCall(WLMLossComputeWithMassGradient(loss, N, x, a, M, y, b, &v, NULL, grada));
    for (PetscInt i = 0; i < N; i++) {
      const PetscReal ai = a[i];
      PetscReal       fd;

      a[i] = ai + h;
      WLMTestCall(WLMLossCompute(loss, N, x, a, M, y, b, &vp, NULL));
      a[i] = ai - h;
      WLMTestCall(WLMLossCompute(loss, N, x, a, M, y, b, &vm, NULL));
      a[i] = ai;
      fd   = (vp - vm) / (2 * h);
      diff2 += (fd - grada[i]) * (fd - grada[i]);
      norm2 += fd * fd;
    }
    ck_assert_msg(PetscSqrtReal(diff2) <= 1e-6 * PetscSqrtReal(norm2), "%s: |mass gradient - finite differences| = %g, |finite differences| = %g", types[t], (double)PetscSqrtReal(diff2), (double)PetscSqrtReal(norm2));
    WLMTestCall(WLMLossDestroy(&loss));
  }
}
END_TEST

/* Direct double sums over all pairs, independent of the tiled sums. */
START_TEST(test_mmd_direct_sums)
{
  const PetscInt  N = 300, M = 270, dim = 2;
  const PetscReal sigma = 0.5;
  static PetscReal x[600], y[540];
  PetscReal        mmd, energy, kxx = 0, kyy = 0, kxy = 0, dxx = 0, dyy = 0, dxy = 0;
  WLMLoss          gauss, dist;

  RandomCloud(41, N * dim, 1.0, 0.0, x);
  RandomCloud(42, M * dim, 1.2, 0.2, y);
  for (PetscInt s = 0; s < 3; s++) {
    const PetscReal *u = s == 1 ? y : x, *v = s == 0 ? x : y;
    const PetscInt   nu = s == 1 ? M : N, nv = s == 0 ? N : M;
    PetscReal        ksum = 0, dsum = 0;

    for (PetscInt i = 0; i < nu; i++) {
      for (PetscInt j = 0; j < nv; j++) {
        const PetscReal d2 = (u[2 * i] - v[2 * j]) * (u[2 * i] - v[2 * j]) + (u[2 * i + 1] - v[2 * j + 1]) * (u[2 * i + 1] - v[2 * j + 1]);

        ksum += exp(-d2 / (2 * sigma * sigma));
        dsum += sqrt(d2);
      }
    }
    if (s == 0) kxx = ksum / (N * (PetscReal)N), dxx = dsum / (N * (PetscReal)N);
    if (s == 1) kyy = ksum / (M * (PetscReal)M), dyy = dsum / (M * (PetscReal)M);
    if (s == 2) kxy = ksum / (N * (PetscReal)M), dxy = dsum / (N * (PetscReal)M);
  }
  WLMTestCall(CreateLoss(WLMLOSSMMDGAUSSIAN, dim, sigma, &gauss));
  WLMTestCall(CreateLoss(WLMLOSSENERGY, dim, 0, &dist));
  WLMTestCall(WLMLossCompute(gauss, N, x, NULL, M, y, NULL, &mmd, NULL));
  WLMTestCall(WLMLossCompute(dist, N, x, NULL, M, y, NULL, &energy, NULL));
  ck_assert_msg(PetscAbsReal(mmd - (kxx + kyy - 2 * kxy)) < 1e-13, "MMD^2 = %.16g, direct %.16g", (double)mmd, (double)(kxx + kyy - 2 * kxy));
  ck_assert_msg(PetscAbsReal(energy - (2 * dxy - dxx - dyy)) < 1e-13, "energy distance %.16g, direct %.16g", (double)energy, (double)(2 * dxy - dxx - dyy));
  WLMTestCall(WLMLossDestroy(&gauss));
  WLMTestCall(WLMLossDestroy(&dist));
}
END_TEST

/* Without a set blur the Gaussian width is WLMLossEstimateBlur() of the observed cloud (1000 samples, seed 0); the energy distance needs none. */
START_TEST(test_mmd_default_blur)
{
  const PetscInt N = 40, M = 1500, dim = 2;
  static PetscReal x[80], y[3000];
  PetscReal        v, blur, expected;
  WLMLoss          loss;

  RandomCloud(51, N * dim, 1.0, 0.0, x);
  RandomCloud(52, M * dim, 2.0, 0.0, y);
  WLMTestCall(CreateLoss(WLMLOSSMMDGAUSSIAN, dim, 0, &loss));
  WLMTestCall(WLMLossCompute(loss, N, x, NULL, M, y, NULL, &v, NULL));
  WLMTestCall(WLMLossGetBlur(loss, &blur));
  WLMTestCall(WLMLossEstimateBlur(PETSC_COMM_SELF, dim, M, y, 1000, 0, &expected));
  ck_assert_msg(blur == expected, "blur %.16g, WLMLossEstimateBlur() gives %.16g", (double)blur, (double)expected);
  WLMTestCall(WLMLossDestroy(&loss));

  WLMTestCall(CreateLoss(WLMLOSSENERGY, dim, 0, &loss));
  WLMTestCall(WLMLossCompute(loss, N, x, NULL, M, y, NULL, &v, NULL));
  WLMTestCall(WLMLossGetBlur(loss, &blur));
  ck_assert_double_eq(blur, 0);
  WLMTestCall(WLMLossDestroy(&loss));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("loss_mmd");
  TCase *tc = tcase_create("mmd");

  tcase_add_test(tc, test_mmd_fixtures);
  tcase_add_test(tc, test_mmd_properties);
  tcase_add_test(tc, test_mmd_gradient);
  tcase_add_test(tc, test_mmd_mass_gradient);
  tcase_add_test(tc, test_mmd_direct_sums);
  tcase_add_test(tc, test_mmd_default_blur);
  suite_add_tcase(s, tc);
  return s;
}
