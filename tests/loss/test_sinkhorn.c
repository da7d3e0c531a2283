/*
   sinkhorn loss: values and gradients against the NumPy and POT fixtures,
   the properties of the divergence (zero on equal clouds, non-negative,
   symmetric), the gradient against central finite differences, and the
   errors raised for bad input.
*/
#include "wlmtest.h"
#include "loss_fixtures.h"
#include <wlm/wlmloss.h>
#include <wlm/wlmsys.h>
#include <math.h>

static PetscErrorCode CreateSinkhorn(PetscInt dim, PetscInt p, PetscReal blur, PetscReal scaling, WLMLoss *loss)
{
  PetscFunctionBeginUser;
  PetscCall(WLMLossCreate(PETSC_COMM_SELF, loss));
  PetscCall(WLMLossSetType(*loss, WLMLOSSSINKHORN));
  PetscCall(WLMLossSetDimension(*loss, dim));
  PetscCall(WLMLossSetExponent(*loss, p));
  PetscCall(WLMLossSetBlur(*loss, blur));
  PetscCall(WLMLossSetScaling(*loss, scaling));
  PetscCall(WLMLossSetUp(*loss));
  PetscFunctionReturn(0);
}

/* Normal deviates times scale plus shift, from a seeded stream. */
static void RandomCloud(uint64_t seed, PetscInt n, PetscReal scale, PetscReal shift, PetscReal x[])
{
  WLMRandom r;

  WLMRandomSeed(&r, seed, 0);
  for (PetscInt i = 0; i < n; i++) x[i] = scale * WLMRandomNormal(&r) + shift;
}

/* Masses uniform in [0.2, 2]. */
static void RandomMasses(uint64_t seed, PetscInt n, PetscReal w[])
{
  WLMRandom r;

  WLMRandomSeed(&r, seed, 1);
  for (PetscInt i = 0; i < n; i++) w[i] = 0.2 + 1.8 * WLMRandomUniform(&r);
}

static PetscReal Norm(PetscInt n, const PetscReal v[])
{
  PetscReal s = 0;

  for (PetscInt i = 0; i < n; i++) s += v[i] * v[i];
  return PetscSqrtReal(s);
}

static PetscReal DifferenceNorm(PetscInt n, const PetscReal u[], const PetscReal v[])
{
  PetscReal s = 0;

  for (PetscInt i = 0; i < n; i++) s += (u[i] - v[i]) * (u[i] - v[i]);
  return PetscSqrtReal(s);
}

/* The annealed value and gradient agree with the NumPy script of the same annealing. */
START_TEST(test_sinkhorn_schedule_fixtures)
{
  for (size_t c = 0; c < sizeof(loss_fixtures) / sizeof(loss_fixtures[0]); c++) {
    const LossFixture *fx = &loss_fixtures[c];
    PetscReal          value, grad[200];
    PetscInt           nsteps;
    WLMLoss            loss;

    ck_assert_int_le(fx->N * fx->dim, 200);
    WLMTestCall(CreateSinkhorn(fx->dim, fx->p, fx->blur, fx->scaling, &loss));
    WLMTestCall(WLMLossCompute(loss, fx->N, fx->x, fx->a, fx->M, fx->y, fx->b, &value, grad));
    WLMTestCall(WLMLossSinkhornGetStepCount(loss, &nsteps));
    ck_assert_msg(WLMTestRelativeError(value, fx->schedule, 0) < 1e-10, "%s: value %.15g, NumPy %.15g", fx->name, (double)value, (double)fx->schedule);
    ck_assert_msg(DifferenceNorm(fx->N * fx->dim, grad, fx->schedule_grad) < 1e-9 * Norm(fx->N * fx->dim, fx->schedule_grad), "%s: gradient differs from NumPy by %g (norm %g)", fx->name, (double)DifferenceNorm(fx->N * fx->dim, grad, fx->schedule_grad), (double)Norm(fx->N * fx->dim, fx->schedule_grad));
    ck_assert_msg(nsteps == fx->steps, "%s: %" PetscInt_FMT " steps, NumPy took %" PetscInt_FMT, fx->name, nsteps, fx->steps);
    WLMTestCall(WLMLossDestroy(&loss));
  }
}
END_TEST

/* With extra steps to convergence the value is the debiased divergence at eps = blur^p that POT's plans give. */
START_TEST(test_sinkhorn_converged_fixtures)
{
  for (size_t c = 0; c < sizeof(loss_fixtures) / sizeof(loss_fixtures[0]); c++) {
    const LossFixture *fx = &loss_fixtures[c];
    PetscReal          value;
    WLMLoss            loss;

    if (PetscIsNanReal(fx->converged)) continue;
    WLMTestCall(CreateSinkhorn(fx->dim, fx->p, fx->blur, fx->scaling, &loss));
    WLMTestCall(WLMLossSinkhornSetTolerances(loss, 1e-13, 20000));
    WLMTestCall(WLMLossCompute(loss, fx->N, fx->x, fx->a, fx->M, fx->y, fx->b, &value, NULL));
    ck_assert_msg(WLMTestRelativeError(value, fx->converged, 0) < 1e-6, "%s: value %.15g, POT %.15g", fx->name, (double)value, (double)fx->converged);
    WLMTestCall(WLMLossDestroy(&loss));
  }
}
END_TEST

/* S(a, a) = 0 for uniform and weighted clouds, p = 1 and 2. */
START_TEST(test_sinkhorn_equal_clouds)
{
  const PetscInt N = 37, dim = 3;
  PetscReal      x[111], w[37], value, grad[111];

  RandomCloud(11, N * dim, 1.0, 0.0, x);
  RandomMasses(12, N, w);
  for (PetscInt p = 1; p <= 2; p++) {
    WLMLoss loss;

    WLMTestCall(CreateSinkhorn(dim, p, 0.3, 0.9, &loss));
    WLMTestCall(WLMLossCompute(loss, N, x, NULL, N, x, NULL, &value, grad));
    ck_assert_msg(PetscAbsReal(value) < 1e-10, "p = %" PetscInt_FMT ": S(a, a) = %g with uniform masses", p, (double)value);
    ck_assert_msg(Norm(N * dim, grad) < 1e-10, "p = %" PetscInt_FMT ": gradient of S(a, a) has norm %g", p, (double)Norm(N * dim, grad));
    WLMTestCall(WLMLossCompute(loss, N, x, w, N, x, w, &value, NULL));
    ck_assert_msg(PetscAbsReal(value) < 1e-10, "p = %" PetscInt_FMT ": S(a, a) = %g with weighted masses", p, (double)value);
    WLMTestCall(WLMLossDestroy(&loss));
  }
}
END_TEST

/* S >= 0 on random pairs, including two samples of the same law where S is small. */
START_TEST(test_sinkhorn_nonnegative)
{
  const PetscInt N = 30, M = 25, dim = 2;
  PetscReal      x[60], y[50], value;

  for (PetscInt trial = 0; trial < 12; trial++) {
    const PetscInt  p     = 1 + trial % 2;
    const PetscReal shift = trial < 6 ? 0.0 : 0.5;
    WLMLoss         loss;

    RandomCloud(100 + trial, N * dim, 1.0, 0.0, x);
    RandomCloud(200 + trial, M * dim, 1.0, shift, y);
    WLMTestCall(CreateSinkhorn(dim, p, 0.1 + 0.2 * (trial % 3), 0.9, &loss));
    WLMTestCall(WLMLossCompute(loss, N, x, NULL, M, y, NULL, &value, NULL));
    ck_assert_msg(value >= 0, "trial %" PetscInt_FMT " (p = %" PetscInt_FMT "): S = %g < 0", trial, p, (double)value);
    WLMTestCall(WLMLossDestroy(&loss));
  }
}
END_TEST

/* S(a, b) = S(b, a). */
START_TEST(test_sinkhorn_symmetry)
{
  const PetscInt N = 23, M = 31, dim = 2;
  PetscReal      x[46], y[62], a[23], b[31], sab, sba;

  RandomCloud(21, N * dim, 1.0, 0.0, x);
  RandomCloud(22, M * dim, 0.7, 0.3, y);
  RandomMasses(23, N, a);
  RandomMasses(24, M, b);
  for (PetscInt p = 1; p <= 2; p++) {
    WLMLoss loss;

    WLMTestCall(CreateSinkhorn(dim, p, 0.25, 0.85, &loss));
    WLMTestCall(WLMLossCompute(loss, N, x, a, M, y, b, &sab, NULL));
    WLMTestCall(WLMLossCompute(loss, M, y, b, N, x, a, &sba, NULL));
    ck_assert_msg(WLMTestRelativeError(sab, sba, 0) < 1e-12, "p = %" PetscInt_FMT ": S(a, b) = %.16g but S(b, a) = %.16g", p, (double)sab, (double)sba);
    WLMTestCall(WLMLossDestroy(&loss));
  }
}
END_TEST

/*
   Gradient of the converged divergence against central differences of the
   value in every coordinate, h = 1e-5.  The value is converged to 1e-14 eps,
   so the rounding part of the difference quotient stays near 1e-9.
*/
static void CheckGradient(PetscInt p, PetscBool weighted)
{
  const PetscInt  N = 9, M = 11, dim = 2;
  const PetscReal h = 1e-5;
  PetscReal       x[18], y[22], a[9], b[11], grad[18], fd[18], value, vp, vm;
  WLMLoss         loss;

  RandomCloud(31 + p, N * dim, 1.0, 0.0, x);
  RandomCloud(41 + p, M * dim, 0.8, 0.4, y);
  RandomMasses(51, N, a);
  RandomMasses(52, M, b);
  WLMTestCall(CreateSinkhorn(dim, p, 0.4, 0.8, &loss));
  WLMTestCall(WLMLossSinkhornSetTolerances(loss, 1e-13, 20000));
  WLMTestCall(WLMLossCompute(loss, N, x, weighted ? a : NULL, M, y, weighted ? b : NULL, &value, grad));
  for (PetscInt i = 0; i < N * dim; i++) {
    const PetscReal xi = x[i];

    x[i] = xi + h;
    WLMTestCall(WLMLossCompute(loss, N, x, weighted ? a : NULL, M, y, weighted ? b : NULL, &vp, NULL));
    x[i] = xi - h;
    WLMTestCall(WLMLossCompute(loss, N, x, weighted ? a : NULL, M, y, weighted ? b : NULL, &vm, NULL));
    x[i]  = xi;
    fd[i] = (vp - vm) / (2 * h);
  }
  ck_assert_msg(DifferenceNorm(N * dim, grad, fd) <= 1e-6 * Norm(N * dim, fd), "p = %" PetscInt_FMT ", weighted %d: |gradient - finite differences| = %g, |finite differences| = %g", p, (int)weighted, (double)DifferenceNorm(N * dim, grad, fd), (double)Norm(N * dim, fd));
  WLMTestCall(WLMLossDestroy(&loss));
}

START_TEST(test_sinkhorn_gradient_p2)
{
  CheckGradient(2, PETSC_FALSE);
  CheckGradient(2, PETSC_TRUE);
}
END_TEST

START_TEST(test_sinkhorn_gradient_p1)
{
  CheckGradient(1, PETSC_FALSE);
  CheckGradient(1, PETSC_TRUE);
}
END_TEST

/* Gradient with respect to the masses as passed, against central differences; with NULL masses, against differences of masses that are all 1. */
static void CheckMassGradient(PetscInt p, PetscBool weighted)
{
  const PetscInt  N = 9, M = 11, dim = 2;
  const PetscReal h = 1e-6;
  PetscReal       x[18], y[22], a[9], grada[9], fd[9], value, vp, vm, dot = 0;
  WLMLoss         loss;

  RandomCloud(81 + p, N * dim, 1.0, 0.0, x);
  RandomCloud(91 + p, M * dim, 0.8, 0.4, y);
  RandomMasses(101, N, a);
  if (!weighted) {
    for (PetscInt i = 0; i < N; i++) a[i] = 1;
  }
  WLMTestCall(CreateSinkhorn(dim, p, 0.4, 0.8, &loss));
  WLMTestCall(WLMLossSinkhornSetTolerances(loss, 1e-13, 20000));
  WLMTestCall(WLMLossComputeWithMassGradient(loss, N, x, weighted ? a : NULL, M, y, NULL, &value, NULL, grada));
  for (PetscInt i = 0; i < N; i++) {
    const PetscReal ai = a[i];

    a[i] = ai + h;
    WLMTestCall(WLMLossCompute(loss, N, x, a, M, y, NULL, &vp, NULL));
    a[i] = ai - h;
    WLMTestCall(WLMLossCompute(loss, N, x, a, M, y, NULL, &vm, NULL));
    a[i]  = ai;
    fd[i] = (vp - vm) / (2 * h);
    dot += a[i] * grada[i];
  }
  ck_assert_msg(DifferenceNorm(N, grada, fd) <= 1e-6 * Norm(N, fd), "p = %" PetscInt_FMT ", weighted %d: |mass gradient - finite differences| = %g, |finite differences| = %g", p, (int)weighted, (double)DifferenceNorm(N, grada, fd), (double)Norm(N, fd));
  ck_assert_msg(PetscAbsReal(dot) < 1e-12 * Norm(N, fd), "p = %" PetscInt_FMT ": masses . mass gradient = %g, expected 0", p, (double)dot);
  WLMTestCall(WLMLossDestroy(&loss));
}

START_TEST(test_sinkhorn_mass_gradient)
{
  for (PetscInt p = 1; p <= 2; p++) {
    CheckMassGradient(p, PETSC_TRUE);
    CheckMassGradient(p, PETSC_FALSE);
  }
}
END_TEST

/* Masses are normalized: scaled masses and NULL masses give the values of their normalized forms. */
START_TEST(test_sinkhorn_mass_normalization)
{
  const PetscInt N = 12, M = 14, dim = 2;
  PetscReal      x[24], y[28], a[12], a3[12], ones[14], v1, v2, v3, v4;
  WLMLoss        loss;

  RandomCloud(61, N * dim, 1.0, 0.0, x);
  RandomCloud(62, M * dim, 1.0, 0.2, y);
  RandomMasses(63, N, a);
  for (PetscInt i = 0; i < N; i++) a3[i] = 3 * a[i];
  for (PetscInt j = 0; j < M; j++) ones[j] = 1;
  WLMTestCall(CreateSinkhorn(dim, 2, 0.3, 0.9, &loss));
  WLMTestCall(WLMLossCompute(loss, N, x, a, M, y, NULL, &v1, NULL));
  WLMTestCall(WLMLossCompute(loss, N, x, a3, M, y, ones, &v2, NULL));
  ck_assert_msg(WLMTestRelativeError(v1, v2, 0) < 1e-13, "scaled masses give %.16g, normalized ones %.16g", (double)v2, (double)v1);
  for (PetscInt i = 0; i < N; i++) a3[i] = 1;
  WLMTestCall(WLMLossCompute(loss, N, x, NULL, M, y, NULL, &v3, NULL));
  WLMTestCall(WLMLossCompute(loss, N, x, a3, M, y, ones, &v4, NULL));
  ck_assert_msg(WLMTestRelativeError(v3, v4, 0) < 1e-13, "NULL masses give %.16g, equal masses %.16g", (double)v3, (double)v4);
  WLMTestCall(WLMLossDestroy(&loss));
}
END_TEST

/* Clouds that sit at one common point have zero divergence and zero gradient. */
START_TEST(test_sinkhorn_single_point)
{
  PetscReal x[6] = {1, 2, 1, 2, 1, 2}, y[2] = {1, 2}, grad[6], value;
  WLMLoss   loss;

  WLMTestCall(CreateSinkhorn(2, 1, 0.5, 0.9, &loss));
  WLMTestCall(WLMLossCompute(loss, 3, x, NULL, 1, y, NULL, &value, grad));
  ck_assert_double_eq(value, 0);
  for (PetscInt i = 0; i < 6; i++) ck_assert_double_eq(grad[i], 0);
  WLMTestCall(WLMLossDestroy(&loss));
}
END_TEST

/* A blur far below the spacing of the particles forces the exact (maximum-shifted) sums and still gives finite results. */
START_TEST(test_sinkhorn_small_blur)
{
  const PetscInt N = 15, M = 17, dim = 2;
  PetscReal      x[30], y[34], a[15], value, grad[30];
  WLMLoss        loss;

  RandomCloud(71, N * dim, 10.0, 0.0, x);
  RandomCloud(72, M * dim, 10.0, 3.0, y);
  RandomMasses(73, N, a);
  for (PetscInt p = 1; p <= 2; p++) {
    WLMTestCall(CreateSinkhorn(dim, p, 1e-3, 0.5, &loss));
    WLMTestCall(WLMLossCompute(loss, N, x, a, M, y, NULL, &value, grad));
    ck_assert_msg(value > 0 && !PetscIsInfOrNanReal(value), "p = %" PetscInt_FMT ": S = %g", p, (double)value);
    ck_assert_msg(!PetscIsInfOrNanReal(Norm(N * dim, grad)), "p = %" PetscInt_FMT ": gradient is not finite", p);
    WLMTestCall(WLMLossDestroy(&loss));
  }
}
END_TEST

START_TEST(test_loss_bad_input)
{
  PetscReal x[6] = {0, 0, 1, 0, 0, 1}, y[4] = {0.5, 0.5, 2, 1}, w[3] = {1, 2, 3}, value;
  WLMLoss   loss;

  WLMTestCall(CreateSinkhorn(2, 2, 0.5, 0.9, &loss));
  WLMTestExpectError(WLMLossCompute(loss, 0, NULL, NULL, 2, y, NULL, &value, NULL), PETSC_ERR_ARG_SIZ, "cloud x is empty");
  WLMTestExpectError(WLMLossCompute(loss, 3, x, NULL, 0, NULL, NULL, &value, NULL), PETSC_ERR_ARG_SIZ, "cloud y is empty");
  x[3] = NAN;
  WLMTestExpectError(WLMLossCompute(loss, 3, x, NULL, 2, y, NULL, &value, NULL), PETSC_ERR_ARG_OUTOFRANGE, "Coordinate 1 of particle 1 of x is nan");
  x[3] = 0;
  y[2] = INFINITY;
  WLMTestExpectError(WLMLossCompute(loss, 3, x, NULL, 2, y, NULL, &value, NULL), PETSC_ERR_ARG_OUTOFRANGE, "Coordinate 0 of particle 1 of y is inf");
  y[2] = 2;
  w[1] = -0.5;
  WLMTestExpectError(WLMLossCompute(loss, 3, x, w, 2, y, NULL, &value, NULL), PETSC_ERR_ARG_OUTOFRANGE, "Mass 1 of x is -0.5");
  w[0] = w[1] = w[2] = 0;
  WLMTestExpectError(WLMLossCompute(loss, 3, x, w, 2, y, NULL, &value, NULL), PETSC_ERR_ARG_OUTOFRANGE, "Total mass of x is 0");
  WLMTestExpectError(WLMLossCompute(loss, 2, y, NULL, 3, x, w, &value, NULL), PETSC_ERR_ARG_OUTOFRANGE, "Total mass of y is 0");
  WLMTestExpectError(WLMLossSetBlur(loss, 0), PETSC_ERR_ARG_OUTOFRANGE, "Blur 0");
  WLMTestExpectError(WLMLossSetBlur(loss, -1), PETSC_ERR_ARG_OUTOFRANGE, "Blur -1");
  WLMTestExpectError(WLMLossSetExponent(loss, 3), PETSC_ERR_ARG_OUTOFRANGE, "p = 3");
  WLMTestExpectError(WLMLossSetScaling(loss, 1.0), PETSC_ERR_ARG_OUTOFRANGE, "Scaling 1");
  WLMTestExpectError(WLMLossSetDimension(loss, 0), PETSC_ERR_ARG_OUTOFRANGE, "Dimension 0");
  WLMTestExpectError(WLMLossSetType(loss, "sinkhron"), PETSC_ERR_ARG_UNKNOWN_TYPE, "sinkhron");
  WLMTestCall(WLMLossDestroy(&loss));

  WLMTestCall(WLMLossCreate(PETSC_COMM_SELF, &loss));
  WLMTestExpectError(WLMLossCompute(loss, 3, x, NULL, 2, y, NULL, &value, NULL), PETSC_ERR_ARG_WRONGSTATE, "dimension is not set");
  WLMTestCall(WLMLossDestroy(&loss));
}
END_TEST

/* The options database sets every parameter through its setter. */
START_TEST(test_loss_options)
{
  WLMLoss     loss;
  WLMLossType type;
  PetscReal   blur;

  WLMTestCall(PetscOptionsSetValue(NULL, "-test_wlm_loss_type", "mmd_gaussian"));
  WLMTestCall(PetscOptionsSetValue(NULL, "-test_wlm_loss_blur", "0.75"));
  WLMTestCall(PetscOptionsSetValue(NULL, "-test_wlm_loss_p", "1"));
  WLMTestCall(PetscOptionsSetValue(NULL, "-test_wlm_loss_scaling", "0.5"));
  WLMTestCall(WLMLossCreate(PETSC_COMM_SELF, &loss));
  WLMTestCall(WLMLossSetOptionsPrefix(loss, "test_"));
  WLMTestCall(WLMLossSetDimension(loss, 2));
  WLMTestCall(WLMLossSetFromOptions(loss));
  WLMTestCall(WLMLossGetType(loss, &type));
  WLMTestCall(WLMLossGetBlur(loss, &blur));
  ck_assert_str_eq(type, WLMLOSSMMDGAUSSIAN);
  ck_assert_double_eq(blur, 0.75);
  WLMTestCall(WLMLossDestroy(&loss));

  WLMTestCall(PetscOptionsSetValue(NULL, "-test_wlm_loss_blur", "-3"));
  WLMTestCall(WLMLossCreate(PETSC_COMM_SELF, &loss));
  WLMTestCall(WLMLossSetOptionsPrefix(loss, "test_"));
  WLMTestExpectError(WLMLossSetFromOptions(loss), PETSC_ERR_ARG_OUTOFRANGE, "Blur -3");
  WLMTestCall(WLMLossDestroy(&loss));
  WLMTestCall(PetscOptionsClearValue(NULL, "-test_wlm_loss_type"));
  WLMTestCall(PetscOptionsClearValue(NULL, "-test_wlm_loss_blur"));
  WLMTestCall(PetscOptionsClearValue(NULL, "-test_wlm_loss_p"));
  WLMTestCall(PetscOptionsClearValue(NULL, "-test_wlm_loss_scaling"));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("loss_sinkhorn");
  TCase *tc = tcase_create("sinkhorn");

  tcase_add_test(tc, test_sinkhorn_schedule_fixtures);
  tcase_add_test(tc, test_sinkhorn_converged_fixtures);
  tcase_add_test(tc, test_sinkhorn_equal_clouds);
  tcase_add_test(tc, test_sinkhorn_nonnegative);
  tcase_add_test(tc, test_sinkhorn_symmetry);
  tcase_add_test(tc, test_sinkhorn_gradient_p2);
  tcase_add_test(tc, test_sinkhorn_gradient_p1);
  tcase_add_test(tc, test_sinkhorn_mass_gradient);
  tcase_add_test(tc, test_sinkhorn_mass_normalization);
  tcase_add_test(tc, test_sinkhorn_single_point);
  tcase_add_test(tc, test_sinkhorn_small_blur);
  tcase_add_test(tc, test_loss_bad_input);
  tcase_add_test(tc, test_loss_options);
  suite_add_tcase(s, tc);
  return s;
}
