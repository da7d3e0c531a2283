/*
   harmonic potential: derivatives against finite differences, energy,
   forces and parameter gradient against a direct double sum over pairs,
   sharded evaluation, and a save/load round trip.  Also the errors of the
   interface that do not depend on the type.
*/
#include "wlmtest.h"
#include "potentialcheck.h"
#include <wlm/wlmpotential.h>
#include <wlm/private/potentialimpl.h>
#include <wlm/private/h5util.h>

static PetscErrorCode CreateHarmonic(MPI_Comm comm, PetscInt dim, PetscReal k, PetscReal c, WLMPotential *pot)
{
  PetscReal theta[2] = {k, c};

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate(comm, pot));
  PetscCall(WLMPotentialSetType(*pot, WLMPOTENTIALHARMONIC));
  PetscCall(WLMPotentialSetDimension(*pot, dim));
  PetscCall(WLMPotentialSetUp(*pot));
  PetscCall(WLMPotentialSetParameters(*pot, theta));
  PetscFunctionReturn(0);
}

START_TEST(test_harmonic_derivatives)
{
  const PetscInt          n = 7, dim = 3;
  PetscReal               x[21], w[7], combined, accumulated;
  WLMPotential            pot;
  WLMTestDerivativeErrors err;

  WLMTestCall(CreateHarmonic(PETSC_COMM_SELF, dim, 1.3, 0.7, &pot));
  WLMTestCall(WLMTestRandomArray(11, n * dim, 1.0, x));
  WLMTestCall(WLMTestRandomArray(12, n, 1.0, w));
  for (PetscInt i = 0; i < n; i++) w[i] = 0.1 + PetscAbsReal(w[i]);
  for (PetscInt masses = 0; masses < 2; masses++) {
    const PetscReal *wp = masses ? w : NULL;

    WLMTestCall(WLMTestPotentialDerivatives(pot, 0.0, n, x, wp, 13, &err));
    ck_assert_msg(err.forces < 1e-6, "masses %d: force error %g", (int)masses, (double)err.forces);
    ck_assert_msg(err.state < 1e-6, "masses %d: state product error %g", (int)masses, (double)err.state);
    ck_assert_msg(err.parameters < 1e-6, "masses %d: parameter product error %g", (int)masses, (double)err.parameters);
    ck_assert_msg(err.gradient < 1e-6, "masses %d: parameter gradient error %g", (int)masses, (double)err.gradient);
    WLMTestCall(WLMTestPotentialCombinedDifference(pot, 0.0, n, x, wp, 14, &combined));
    ck_assert_msg(combined < 1e-14, "masses %d: the combined call differs from separate calls by %g", (int)masses, (double)combined);
    WLMTestCall(WLMTestPotentialGradientAccumulation(pot, 0.0, n, x, wp, 15, &accumulated));
    ck_assert_msg(accumulated < 1e-12, "masses %d: the parameter gradient does not add to the array (difference %g)", (int)masses, (double)accumulated);
  }
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

/*
   U, F and grad_theta U from the definition: a double loop over pairs,
   independent of the closed form in harmonic.c.  U is linear in (k, c), so
   its gradient is (dU/dk, dU/dc) = (U at k = 1, c = 0; U at k = 0, c = 1).
*/
START_TEST(test_harmonic_direct_sum)
{
  const PetscInt  n = 5, dim = 2;
  const PetscReal k = 0.8, c = 1.9;
  PetscReal       x[10], w[5], F[10], U, Uref = 0, grad[2] = {0, 0}, gradref[2] = {0, 0}, Ugrad;
  WLMPotential    pot;

  WLMTestCall(CreateHarmonic(PETSC_COMM_SELF, dim, k, c, &pot));
  WLMTestCall(WLMTestRandomArray(21, n * dim, 1.0, x));
  for (PetscInt i = 0; i < n; i++) w[i] = 0.1 * (i + 1);
  WLMTestCall(WLMPotentialComputeForces(pot, 0.0, n, x, w, &U, F));
  for (PetscInt i = 0; i < n; i++) {
    PetscReal Fref[2] = {0, 0};

    Uref += 0.5 * k * w[i] * (x[2 * i] * x[2 * i] + x[2 * i + 1] * x[2 * i + 1]);
    gradref[0] += 0.5 * w[i] * (x[2 * i] * x[2 * i] + x[2 * i + 1] * x[2 * i + 1]);
    for (PetscInt d = 0; d < dim; d++) Fref[d] = -k * w[i] * x[2 * i + d];
    for (PetscInt j = 0; j < n; j++) {
      for (PetscInt d = 0; d < dim; d++) {
        PetscReal r = x[2 * i + d] - x[2 * j + d];

        Uref += 0.25 * c * w[i] * w[j] * r * r;
        gradref[1] += 0.25 * w[i] * w[j] * r * r;
        Fref[d] -= c * w[i] * w[j] * r; /* -d/dx_i of c/4 (|x_i - x_j|^2 counted as (i,j) and (j,i)) */
      }
    }
    for (PetscInt d = 0; d < dim; d++) ck_assert_double_eq_tol(F[2 * i + d], Fref[d], 1e-13);
  }
  ck_assert_double_eq_tol(U, Uref, 1e-13);
  WLMTestCall(WLMPotentialComputeParameterGradient(pot, 0.0, n, x, w, &Ugrad, grad));
  ck_assert_double_eq_tol(Ugrad, Uref, 1e-13);
  ck_assert_double_eq_tol(grad[0], gradref[0], 1e-13);
  ck_assert_double_eq_tol(grad[1], gradref[1], 1e-13);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_harmonic_sharded)
{
  const PetscInt N = 11, dim = 2;
  PetscReal      x[22], w[11], diff;
  WLMPotential   single, sharded;

  WLMTestCall(CreateHarmonic(PETSC_COMM_SELF, dim, 1.1, 0.4, &single));
  WLMTestCall(CreateHarmonic(PETSC_COMM_WORLD, dim, 1.1, 0.4, &sharded));
  WLMTestCall(WLMTestRandomArray(31, N * dim, 1.0, x));
  for (PetscInt i = 0; i < N; i++) w[i] = 1.0 / (i + 2);
  WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.0, N, x, w, 32, &diff));
  ck_assert_double_lt(diff, 1e-12);
  WLMTestCall(WLMTestPotentialShardedDifference(sharded, single, 0.0, N, x, NULL, 33, &diff));
  ck_assert_double_lt(diff, 1e-12);
  WLMTestCall(WLMPotentialDestroy(&single));
  WLMTestCall(WLMPotentialDestroy(&sharded));
}
END_TEST

START_TEST(test_harmonic_save_load)
{
  const PetscInt dim = 2;
  PetscReal      x[8], F1[8], F2[8], U1, U2;
  WLMPotential   pot, loaded;
  hid_t          file;
  char           name[64];

  WLMTestCall(CreateHarmonic(PETSC_COMM_SELF, dim, 2.5, 0.3, &pot));
  WLMTestCall(WLMTestRandomArray(41, 8, 1.0, x));
  PetscSNPrintf(name, sizeof(name), "harmonic-save-%d.h5", wlm_test_rank);
  file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ck_assert_int_ge(file, 0);
  WLMTestCall(WLMPotentialSave(pot, file));
  H5Fclose(file);
  file = H5Fopen(name, H5F_ACC_RDONLY, H5P_DEFAULT);
  ck_assert_int_ge(file, 0);
  WLMTestCall(WLMPotentialLoad(PETSC_COMM_SELF, file, &loaded));
  H5Fclose(file);
  WLMTestCall(WLMPotentialComputeForces(pot, 0.0, 4, x, NULL, &U1, F1));
  WLMTestCall(WLMPotentialComputeForces(loaded, 0.0, 4, x, NULL, &U2, F2));
  ck_assert_mem_eq(&U1, &U2, sizeof(PetscReal));
  ck_assert_mem_eq(F1, F2, sizeof(F1));
  WLMTestCall(WLMPotentialDestroy(&pot));
  WLMTestCall(WLMPotentialDestroy(&loaded));
  remove(name);
}
END_TEST

START_TEST(test_potential_bad_type)
{
  WLMPotential pot;

  WLMTestCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  WLMTestExpectError(WLMPotentialSetType(pot, "harmonc"), PETSC_ERR_ARG_UNKNOWN_TYPE, "harmonc");
  WLMTestExpectError(WLMPotentialSetDimension(pot, 0), PETSC_ERR_ARG_OUTOFRANGE, "Dimension 0");
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

/* Create function of the harmonic type, registered in src/potential/potentialinit.c. */
PETSC_EXTERN PetscErrorCode WLMPotentialCreate_Harmonic(WLMPotential);

/* The harmonic type with its parameter-gradient operation removed, to stand for a type that lacks it. */
static PetscErrorCode CreateWithoutGradient(WLMPotential pot)
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate_Harmonic(pot));
  pot->ops->parametergradient = NULL;
  PetscFunctionReturn(0);
}

START_TEST(test_potential_gradient_errors)
{
  PetscReal    x[4] = {0.1, 0.2, 0.3, 0.4}, grad[2] = {0, 0};
  WLMPotential pot;

  WLMTestCall(CreateHarmonic(PETSC_COMM_SELF, 2, 1.0, 0.5, &pot));
  WLMTestExpectError(WLMPotentialComputeParameterGradient(pot, 0.0, 2, x, NULL, NULL, NULL), PETSC_ERR_ARG_NULL, "gradtheta is NULL");
  WLMTestCall(WLMPotentialDestroy(&pot));

  WLMTestCall(WLMPotentialRegister("harmonic_without_gradient", CreateWithoutGradient));
  WLMTestCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  WLMTestCall(WLMPotentialSetType(pot, "harmonic_without_gradient"));
  WLMTestCall(WLMPotentialSetDimension(pot, 2));
  WLMTestCall(WLMPotentialSetUp(pot));
  WLMTestExpectError(WLMPotentialComputeParameterGradient(pot, 0.0, 2, x, NULL, NULL, grad), PETSC_ERR_SUP, "harmonic_without_gradient");
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("potential_harmonic");
  TCase *tc = tcase_create("harmonic");

  tcase_add_test(tc, test_harmonic_derivatives);
  tcase_add_test(tc, test_harmonic_direct_sum);
  tcase_add_test(tc, test_harmonic_sharded);
  tcase_add_test(tc, test_harmonic_save_load);
  tcase_add_test(tc, test_potential_bad_type);
  tcase_add_test(tc, test_potential_gradient_errors);
  suite_add_tcase(s, tc);
  return s;
}
