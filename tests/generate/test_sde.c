/*
   sde generator: Ornstein-Uhlenbeck statistics, velocities, potentials.

   Quadratic potential, sigma = 1, X_0 ~ N(0, s0^2 I) with s0^2 = 0.2: the
   exact law at time t is N(0, s_t^2 I) with
     s_t^2 = s0^2 e^{-2t} + (1 - e^{-2t}) / 2      (0.298904 at t = 0.2).
   Bounds at t = 0.2 from N particles in d dimensions, all coordinates
   independent (one random stream per particle):
   - the sample mean of one coordinate has standard deviation s_t / sqrt(N);
     we allow 5 of them (a false failure has probability about 6e-7);
   - the pooled second moment vhat = sum x^2 / (N d) has mean s_h^2, the
     variance that Euler-Maruyama with step h produces,
       s_h^2(n+1) = (1 - h)^2 s_h^2(n) + h,
     and standard deviation s_t^2 sqrt(2 / (N d)); we allow 5 standard
     deviations plus the discretisation bias |s_h^2 - s_t^2| (about 1.2e-4
     for h = 0.001).
*/
#include "wlmtest.h"
#include <wlm/wlmgenerate.h>

static PetscErrorCode GenerateSDE(WLMSDEPotential potential, WLMSDEMode mode, PetscInt N, PetscBool velocities, WLMSnapshots *snap)
{
  WLMGenerator gen;

  PetscFunctionBeginUser;
  PetscCall(WLMGeneratorCreate(PETSC_COMM_WORLD, &gen));
  PetscCall(WLMGeneratorSetType(gen, WLMGENERATORSDE));
  PetscCall(WLMGeneratorSetNumParticles(gen, N));
  PetscCall(WLMGeneratorSetSnapshots(gen, 21, 0.01));
  PetscCall(WLMGeneratorSetSeed(gen, 17));
  PetscCall(WLMGeneratorSetVelocities(gen, velocities));
  PetscCall(WLMGeneratorSDESetPotential(gen, potential));
  PetscCall(WLMGeneratorSDESetMode(gen, mode));
  PetscCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, snap));
  PetscCall(WLMGeneratorGenerate(gen, *snap));
  PetscCall(WLMGeneratorDestroy(&gen));
  PetscFunctionReturn(0);
}

/* Checks the last snapshot (t = 0.2) against the Ornstein-Uhlenbeck mean and variance with the bounds derived above. */
static void CheckOrnsteinUhlenbeck(WLMSnapshots snap, PetscInt N)
{
  const PetscInt  dim = 2;
  const PetscReal t = 0.2, s0sq = 0.2, h = 0.001;
  const PetscReal exact = s0sq * PetscExpReal(-2 * t) + 0.5 * (1 - PetscExpReal(-2 * t));
  PetscReal       discrete = s0sq, sums[3] = {0, 0, 0}, bias, bound;
  WLMSnapshot     s;

  for (PetscInt n = 0; n < 200; n++) discrete = (1 - h) * (1 - h) * discrete + h;
  bias = PetscAbsReal(discrete - exact);
  ck_assert_double_lt(bias, 2e-4);

  WLMTestCall(WLMSnapshotsGetSnapshot(snap, 20, &s));
  ck_assert_double_eq_tol(s.t, t, 1e-15);
  ck_assert_int_eq(s.N, N);
  for (PetscInt i = 0; i < s.n; i++) {
    sums[0] += s.x[i * dim];
    sums[1] += s.x[i * dim + 1];
    sums[2] += s.x[i * dim] * s.x[i * dim] + s.x[i * dim + 1] * s.x[i * dim + 1];
  }
  MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPIU_REAL, MPI_SUM, PETSC_COMM_WORLD);
  for (PetscInt k = 0; k < dim; k++) ck_assert_double_lt(PetscAbsReal(sums[k] / N), 5 * PetscSqrtReal(exact / N));
  bound = 5 * exact * PetscSqrtReal(2.0 / (N * dim)) + bias;
  ck_assert_double_lt(PetscAbsReal(sums[2] / (N * dim) - exact), bound);
}

START_TEST(test_sde_trajectories_ou)
{
  const PetscInt N = 20000;
  WLMSnapshots   snap;

  WLMTestCall(GenerateSDE(WLM_SDE_QUADRATIC, WLM_SDE_TRAJECTORIES, N, PETSC_FALSE, &snap));
  CheckOrnsteinUhlenbeck(snap, N);
  WLMTestCall(WLMSnapshotsDestroy(&snap));
}
END_TEST

START_TEST(test_sde_independent_ou)
{
  const PetscInt N = 10000;
  WLMSnapshots   snap;
  WLMSnapshot    s0, s1;

  WLMTestCall(GenerateSDE(WLM_SDE_QUADRATIC, WLM_SDE_INDEPENDENT, N, PETSC_FALSE, &snap));
  CheckOrnsteinUhlenbeck(snap, N);
  /* a fresh draw per snapshot: no particle of snapshot 1 continues from snapshot 0 */
  WLMTestCall(WLMSnapshotsGetSnapshot(snap, 0, &s0));
  WLMTestCall(WLMSnapshotsGetSnapshot(snap, 1, &s1));
  for (PetscInt i = 0; i < s0.n; i++) ck_assert_double_gt(PetscAbsReal(s1.x[2 * i] - s0.x[2 * i]), 0.0);
  WLMTestCall(WLMSnapshotsDestroy(&snap));
}
END_TEST

/* v = (sigma^2 / (2 s_t^2) - 1) x at every particle and snapshot, with s_t^2 computed here from its formula. */
START_TEST(test_sde_probability_flow_velocity)
{
  WLMSnapshots snap;
  PetscInt     T;
  PetscBool    has;

  WLMTestCall(GenerateSDE(WLM_SDE_QUADRATIC, WLM_SDE_TRAJECTORIES, 50, PETSC_TRUE, &snap));
  WLMTestCall(WLMSnapshotsHasVelocity(snap, &has));
  ck_assert(has);
  WLMTestCall(WLMSnapshotsGetNumSnapshots(snap, &T));
  for (PetscInt k = 0; k < T; k++) {
    WLMSnapshot     s;
    PetscReal       var, factor;

    WLMTestCall(WLMSnapshotsGetSnapshot(snap, k, &s));
    var    = 0.2 * PetscExpReal(-2 * s.t) + 0.5 * (1 - PetscExpReal(-2 * s.t));
    factor = 1 / (2 * var) - 1;
    for (PetscInt i = 0; i < 2 * s.n; i++) ck_assert_double_eq_tol(s.v[i], factor * s.x[i], 1e-14 * (1 + PetscAbsReal(s.x[i])));
  }
  WLMTestCall(WLMSnapshotsDestroy(&snap));
}
END_TEST

/* Gradients of the five potentials against central differences of Psi (relative error <= 1e-6). */
START_TEST(test_sde_potential_gradients)
{
  const PetscReal eps = 1e-6;

  for (PetscInt p = 0; p <= WLM_SDE_WAVY_PLATEAU; p++) {
    const PetscInt dim = p == WLM_SDE_BOHACHEVSKY ? 2 : 3;
    PetscReal      x[3] = {0.37, -1.21, 0.83}, grad[3];

    WLMTestCall(WLMSDEPotentialCompute((WLMSDEPotential)p, dim, x, NULL, grad));
    for (PetscInt k = 0; k < dim; k++) {
      PetscReal xp[3], xm[3], up, um, fd;

      for (PetscInt j = 0; j < 3; j++) xp[j] = xm[j] = x[j];
      xp[k] += eps;
      xm[k] -= eps;
      WLMTestCall(WLMSDEPotentialCompute((WLMSDEPotential)p, dim, xp, &up, NULL));
      WLMTestCall(WLMSDEPotentialCompute((WLMSDEPotential)p, dim, xm, &um, NULL));
      fd = (up - um) / (2 * eps);
      ck_assert_msg(WLMTestRelativeError(grad[k], fd, 1e-3) < 1e-6, "potential %s, coordinate %" PetscInt_FMT ": gradient %g, central difference %g", WLMSDEPotentials[p], k, (double)grad[k], (double)fd);
    }
  }
}
END_TEST

/* Psi at points where the value follows from the definitions directly. */
START_TEST(test_sde_potential_values)
{
  PetscReal zero[2] = {0, 0}, one[3] = {1, 1, 1}, psi;

  WLMTestCall(WLMSDEPotentialCompute(WLM_SDE_BOHACHEVSKY, 2, zero, &psi, NULL));
  ck_assert_double_eq_tol(psi, 0.0, 1e-15);
  WLMTestCall(WLMSDEPotentialCompute(WLM_SDE_STYBLINSKI_TANG, 3, one, &psi, NULL));
  ck_assert_double_eq_tol(psi, 1.5 * (1 - 16 + 5), 1e-13);
  WLMTestCall(WLMSDEPotentialCompute(WLM_SDE_OAKLEY_OHAGAN, 3, one, &psi, NULL));
  ck_assert_double_eq_tol(psi, 3 + 3 + 2, 1e-13);
  WLMTestCall(WLMSDEPotentialCompute(WLM_SDE_QUADRATIC, 3, one, &psi, NULL));
  ck_assert_double_eq_tol(psi, 1.5, 1e-15);
  WLMTestCall(WLMSDEPotentialCompute(WLM_SDE_WAVY_PLATEAU, 3, one, &psi, NULL));
  ck_assert_double_eq_tol(psi, 3 * PetscSinReal(1.0), 1e-15);
}
END_TEST

/* Every potential runs in both modes; Bohachevsky requires d = 2 and velocities require the quadratic potential. */
START_TEST(test_sde_options_checked)
{
  WLMGenerator gen;
  WLMSnapshots snap;

  for (PetscInt p = 0; p <= WLM_SDE_WAVY_PLATEAU; p++) {
    for (PetscInt mode = 0; mode < 2; mode++) {
      PetscInt T;

      WLMTestCall(GenerateSDE((WLMSDEPotential)p, (WLMSDEMode)mode, 20, PETSC_FALSE, &snap));
      WLMTestCall(WLMSnapshotsGetNumSnapshots(snap, &T));
      ck_assert_int_eq(T, 21);
      WLMTestCall(WLMSnapshotsDestroy(&snap));
    }
  }

  WLMTestCall(WLMGeneratorCreate(PETSC_COMM_WORLD, &gen));
  WLMTestCall(WLMGeneratorSetType(gen, WLMGENERATORSDE));
  WLMTestCall(WLMGeneratorSDESetPotential(gen, WLM_SDE_STYBLINSKI_TANG));
  WLMTestCall(WLMGeneratorSetVelocities(gen, PETSC_TRUE));
  WLMTestExpectError(WLMGeneratorSetUp(gen), PETSC_ERR_SUP, "Velocities are available only for the quadratic potential");
  WLMTestCall(WLMGeneratorSetVelocities(gen, PETSC_FALSE));
  WLMTestCall(WLMGeneratorSDESetPotential(gen, WLM_SDE_BOHACHEVSKY));
  WLMTestCall(WLMGeneratorSetDimension(gen, 3));
  WLMTestExpectError(WLMGeneratorSetUp(gen), PETSC_ERR_SUP, "defined in 2 dimensions, not 3");
  WLMTestExpectError(WLMGeneratorSDESetStep(gen, 0.0), PETSC_ERR_ARG_OUTOFRANGE, "sub-step 0 is invalid");
  WLMTestExpectError(WLMGeneratorSetSnapshots(gen, 0, 0.1), PETSC_ERR_ARG_OUTOFRANGE, "Snapshot count 0");
  WLMTestExpectError(WLMGeneratorSetSnapshots(gen, 3, -0.1), PETSC_ERR_ARG_OUTOFRANGE, "-0.1 is invalid");
  WLMTestExpectError(WLMGeneratorSetNumParticles(gen, 0), PETSC_ERR_ARG_OUTOFRANGE, "Particle count 0");
  WLMTestExpectError(WLMGeneratorSetType(gen, "bird"), PETSC_ERR_ARG_UNKNOWN_TYPE, "\"bird\"");
  WLMTestCall(WLMGeneratorDestroy(&gen));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("generate_sde");
  TCase *tc = tcase_create("sde");

  tcase_add_test(tc, test_sde_trajectories_ou);
  tcase_add_test(tc, test_sde_independent_ou);
  tcase_add_test(tc, test_sde_probability_flow_velocity);
  tcase_add_test(tc, test_sde_potential_gradients);
  tcase_add_test(tc, test_sde_potential_values);
  tcase_add_test(tc, test_sde_options_checked);
  suite_add_tcase(s, tc);
  return s;
}
