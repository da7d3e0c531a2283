/*
   Elementwise kernels of the dense layers against libm: the vectorized exp,
   each activation and its first two derivatives (derivatives also against
   central differences of the activation itself).
*/
#include "wlmtest.h"
#include <wlm/private/dense.h>
#include <math.h>

START_TEST(test_dense_exp)
{
  enum { n = 4001 };
  static PetscReal x[n], y[n];
  PetscReal        maxerr = 0;

  for (PetscInt i = 0; i < n; i++) x[i] = -700.0 + 1400.0 * i / (n - 1) + 1e-3 * sin(i);
  WLMDenseExp(n, x, y);
  for (PetscInt i = 0; i < n; i++) maxerr = PetscMax(maxerr, PetscAbsReal(y[i] - exp(x[i])) / exp(x[i]));
  ck_assert_msg(maxerr < 4e-16, "largest relative error of exp %g", (double)maxerr);

  /* clamped ends stay finite and normal */
  x[0] = -1e4;
  x[1] = 1e4;
  WLMDenseExp(2, x, y);
  ck_assert(y[0] > 0 && isnormal(y[0]));
  ck_assert(isfinite(y[1]));
}
END_TEST

/* Activation and its derivatives from libm: the formulas of dense.c with exp, tanh and log1p. */
static void ReferenceActivation(WLMActivation act, PetscReal z, PetscReal *s)
{
  const PetscReal sig = 1.0 / (1.0 + exp(-z)), c = sqrt(2.0 / PETSC_PI);

  switch (act) {
  case WLM_ACTIVATION_SILU:
    *s = z * sig;
    break;
  case WLM_ACTIVATION_TANH:
    *s = tanh(z);
    break;
  case WLM_ACTIVATION_SOFTPLUS:
    *s = log1p(exp(z));
    break;
  case WLM_ACTIVATION_GELU:
    *s = 0.5 * z * (1.0 + tanh(c * (z + 0.044715 * z * z * z)));
    break;
  }
}

START_TEST(test_dense_activations)
{
  const PetscReal h = 1e-4;

  for (PetscInt act = WLM_ACTIVATION_SILU; act <= WLM_ACTIVATION_GELU; act++) {
    for (PetscInt i = 0; i < 41; i++) {
      PetscReal z = -6.0 + 0.3 * i + 0.01, v[3] = {z, z + h, z - h}, d1[3], d2[3], ref, refp, refm;

      WLMTestCall(WLMDenseActivate((WLMActivation)act, 3, v, d1, d2));
      ReferenceActivation((WLMActivation)act, z, &ref);
      ReferenceActivation((WLMActivation)act, z + h, &refp);
      ReferenceActivation((WLMActivation)act, z - h, &refm);
      ck_assert_msg(PetscAbsReal(v[0] - ref) < 1e-15 * PetscMax(1.0, PetscAbsReal(ref)), "%s(%g) = %.17g, libm gives %.17g", WLMActivations[act], (double)z, (double)v[0], (double)ref);
      ck_assert_msg(PetscAbsReal(d1[0] - (refp - refm) / (2 * h)) < 1e-8, "%s'(%g) = %g, differences give %g", WLMActivations[act], (double)z, (double)d1[0], (double)((refp - refm) / (2 * h)));
      ck_assert_msg(PetscAbsReal(d2[0] - (d1[1] - d1[2]) / (2 * h)) < 1e-8, "%s''(%g) = %g, differences give %g", WLMActivations[act], (double)z, (double)d2[0], (double)((d1[1] - d1[2]) / (2 * h)));
    }
  }
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("potential_dense");
  TCase *tc = tcase_create("dense");

  tcase_add_test(tc, test_dense_exp);
  tcase_add_test(tc, test_dense_activations);
  suite_add_tcase(s, tc);
  return s;
}
