/*
   harmonic generator: the exact damped-oscillator propagator against RK4 in
   the under-, critically and over-damped regimes, and whole populations
   against an RK4 integration of dv_i/dt = F_i / w_i - gamma v_i with the
   forces of the "harmonic" potential type (uniform masses w_i = 1/N), so the
   generator and the model the trainer fits agree.
*/
#include "wlmtest.h"
#include <wlm/wlmgenerate.h>
#include <wlm/wlmpotential.h>

/* RK4 for z'' = -gamma z' - omega2 z from (z0, v0) over time t with n steps. */
static void OscillatorRK4(PetscReal omega2, PetscReal gamma, PetscReal t, PetscInt n, PetscReal z0, PetscReal v0, PetscReal *z, PetscReal *v)
{
  const PetscReal h = t / n;
  PetscReal       y[2] = {z0, v0};

  for (PetscInt s = 0; s < n; s++) {
    PetscReal k[4][2], w[2];

    for (PetscInt stage = 0; stage < 4; stage++) {
      const PetscReal c = stage == 0 ? 0 : (stage == 3 ? 1 : 0.5);

      w[0]        = y[0] + (stage ? c * h * k[stage - 1][0] : 0);
      w[1]        = y[1] + (stage ? c * h * k[stage - 1][1] : 0);
      k[stage][0] = w[1];
      k[stage][1] = -gamma * w[1] - omega2 * w[0];
    }
    for (PetscInt j = 0; j < 2; j++) y[j] += h / 6 * (k[0][j] + 2 * k[1][j] + 2 * k[2][j] + k[3][j]);
  }
  *z = y[0];
  *v = y[1];
}

START_TEST(test_propagator_against_rk4)
{
  const PetscReal cases[][2] = {
    {1.0, 0.2},        /* under-damped */
    {1.0, 2.0},        /* critically damped */
    {1.0, 2.0 + 1e-5}, /* barely over-damped: the series branch */
    {1.0, 5.0},        /* over-damped */
    {4.0, 0.0},        /* undamped */
    {0.0, 0.5},        /* damped free flight */
    {0.0, 0.0},        /* free flight */
    {-0.5, 0.3},       /* unstable */
  };

  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    const PetscReal omega2 = cases[c][0], gamma = cases[c][1], t = 3.0;
    PetscReal       A[4], z, v;

    WLMTestCall(WLMDampedOscillatorPropagator(omega2, gamma, t, A));
    OscillatorRK4(omega2, gamma, t, 3000, 1.0, 0.0, &z, &v);
    ck_assert_msg(PetscAbsReal(A[0] - z) < 1e-10 && PetscAbsReal(A[2] - v) < 1e-10, "omega2 %g gamma %g: column 1 (%g, %g) vs RK4 (%g, %g)", (double)omega2, (double)gamma, (double)A[0], (double)A[2], (double)z, (double)v);
    OscillatorRK4(omega2, gamma, t, 3000, 0.0, 1.0, &z, &v);
    ck_assert_msg(PetscAbsReal(A[1] - z) < 1e-10 && PetscAbsReal(A[3] - v) < 1e-10, "omega2 %g gamma %g: column 2 (%g, %g) vs RK4 (%g, %g)", (double)omega2, (double)gamma, (double)A[1], (double)A[3], (double)z, (double)v);
  }
}
END_TEST

/* Accelerations F_i / w_i - gamma v_i of the whole population, w_i = 1/N. */
static PetscErrorCode Acceleration(WLMPotential pot, PetscInt N, PetscReal gamma, const PetscReal x[], const PetscReal v[], PetscReal a[])
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialComputeForces(pot, 0.0, N, x, NULL, NULL, a));
  for (PetscInt i = 0; i < 2 * N; i++) a[i] = N * a[i] - gamma * v[i];
  PetscFunctionReturn(0);
}

START_TEST(test_harmonic_population_against_rk4)
{
  const PetscInt  N = 40, T = 9, dim = 2, substeps = 250;
  const PetscReal k = 1.3, c = 0.7, gamma = 0.3, dt = 0.25, h = dt / substeps;
  PetscReal       theta[2] = {k, c}, x[80], v[80], kx[4][80], kv[4][80], xs[80], vs[80];
  WLMGenerator    gen;
  WLMSnapshots    snap;
  WLMPotential    pot;
  WLMSnapshot     s;
  PetscReal       value;
  PetscBool       found;

  WLMTestCall(WLMGeneratorCreate(PETSC_COMM_SELF, &gen));
  WLMTestCall(WLMGeneratorSetType(gen, WLMGENERATORHARMONIC));
  WLMTestCall(WLMGeneratorSetNumParticles(gen, N));
  WLMTestCall(WLMGeneratorSetSnapshots(gen, T, dt));
  WLMTestCall(WLMGeneratorSetSeed(gen, 8));
  WLMTestCall(WLMGeneratorHarmonicSetParameters(gen, k, c, gamma));
  WLMTestCall(WLMSnapshotsCreate(PETSC_COMM_SELF, &snap));
  WLMTestCall(WLMGeneratorGenerate(gen, snap));
  WLMTestCall(WLMSnapshotsGetAttributeReal(snap, "generate_harmonic_c", &value, &found));
  ck_assert(found);
  ck_assert_double_eq(value, c);
  WLMTestCall(WLMSnapshotsGetAttributeReal(snap, "generate_harmonic_gamma", &value, &found));
  ck_assert(found);
  ck_assert_double_eq(value, gamma);

  WLMTestCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  WLMTestCall(WLMPotentialSetType(pot, WLMPOTENTIALHARMONIC));
  WLMTestCall(WLMPotentialSetDimension(pot, dim));
  WLMTestCall(WLMPotentialSetUp(pot));
  WLMTestCall(WLMPotentialSetParameters(pot, theta));

  WLMTestCall(WLMSnapshotsGetSnapshot(snap, 0, &s));
  for (PetscInt i = 0; i < N * dim; i++) {
    x[i] = s.x[i];
    v[i] = s.v[i];
  }
  for (PetscInt m = 1; m < T; m++) {
    for (PetscInt step = 0; step < substeps; step++) {
      for (PetscInt stage = 0; stage < 4; stage++) {
        const PetscReal cs = stage == 0 ? 0 : (stage == 3 ? 1 : 0.5);

        for (PetscInt i = 0; i < N * dim; i++) {
          xs[i] = x[i] + (stage ? cs * h * kx[stage - 1][i] : 0);
          vs[i] = v[i] + (stage ? cs * h * kv[stage - 1][i] : 0);
          kx[stage][i] = vs[i];
        }
        WLMTestCall(Acceleration(pot, N, gamma, xs, vs, kv[stage]));
      }
      for (PetscInt i = 0; i < N * dim; i++) {
        x[i] += h / 6 * (kx[0][i] + 2 * kx[1][i] + 2 * kx[2][i] + kx[3][i]);
        v[i] += h / 6 * (kv[0][i] + 2 * kv[1][i] + 2 * kv[2][i] + kv[3][i]);
      }
    }
    WLMTestCall(WLMSnapshotsGetSnapshot(snap, m, &s));
    for (PetscInt i = 0; i < N * dim; i++) {
      ck_assert_msg(PetscAbsReal(s.x[i] - x[i]) < 1e-9, "snapshot %" PetscInt_FMT " entry %" PetscInt_FMT ": position %.15g, RK4 %.15g", m, i, (double)s.x[i], (double)x[i]);
      ck_assert_msg(PetscAbsReal(s.v[i] - v[i]) < 1e-9, "snapshot %" PetscInt_FMT " entry %" PetscInt_FMT ": velocity %.15g, RK4 %.15g", m, i, (double)s.v[i], (double)v[i]);
    }
  }
  WLMTestCall(WLMPotentialDestroy(&pot));
  WLMTestCall(WLMSnapshotsDestroy(&snap));
  WLMTestCall(WLMGeneratorDestroy(&gen));
}
END_TEST

START_TEST(test_harmonic_options_checked)
{
  WLMGenerator gen;

  WLMTestCall(WLMGeneratorCreate(PETSC_COMM_WORLD, &gen));
  WLMTestCall(WLMGeneratorSetType(gen, WLMGENERATORHARMONIC));
  WLMTestExpectError(WLMGeneratorHarmonicSetParameters(gen, 1.0, 0.0, -0.1), PETSC_ERR_ARG_OUTOFRANGE, "gamma = -0.1 is invalid");
  WLMTestCall(WLMGeneratorDestroy(&gen));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("generate_harmonic");
  TCase *tc = tcase_create("harmonic");

  tcase_add_test(tc, test_propagator_against_rk4);
  tcase_add_test(tc, test_harmonic_population_against_rk4);
  tcase_add_test(tc, test_harmonic_options_checked);
  suite_add_tcase(s, tc);
  return s;
}
