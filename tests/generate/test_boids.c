/*
   boids generator: unit speed of every particle in every snapshot, drift
   consistent with the stored velocities, initial positions drawn from
   N(0, I), and parameter checks.  tests/generate/check_boids.py compares
   whole steps with an independent numpy implementation.
*/
#include "wlmtest.h"
#include <wlm/wlmgenerate.h>

static PetscErrorCode GenerateBoids(PetscInt N, PetscInt T, PetscReal noise, WLMSnapshots *snap)
{
  WLMGenerator gen;

  PetscFunctionBeginUser;
  PetscCall(WLMGeneratorCreate(PETSC_COMM_WORLD, &gen));
  PetscCall(WLMGeneratorSetType(gen, WLMGENERATORBOIDS));
  PetscCall(WLMGeneratorSetNumParticles(gen, N));
  PetscCall(WLMGeneratorSetSnapshots(gen, T, 0.5));
  PetscCall(WLMGeneratorSetSeed(gen, 4));
  PetscCall(WLMGeneratorBoidsSetNoise(gen, noise));
  PetscCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, snap));
  PetscCall(WLMGeneratorGenerate(gen, *snap));
  PetscCall(WLMGeneratorDestroy(&gen));
  PetscFunctionReturn(0);
}

/* |v_i| = 1 for every particle of every snapshot, to rounding. */
static void CheckUnitSpeed(WLMSnapshots snap)
{
  PetscInt T;

  WLMTestCall(WLMSnapshotsGetNumSnapshots(snap, &T));
  for (PetscInt k = 0; k < T; k++) {
    WLMSnapshot s;

    WLMTestCall(WLMSnapshotsGetSnapshot(snap, k, &s));
    ck_assert_ptr_nonnull(s.v);
    for (PetscInt i = 0; i < s.n; i++) {
      PetscReal speed = PetscSqrtReal(s.v[2 * i] * s.v[2 * i] + s.v[2 * i + 1] * s.v[2 * i + 1]);

      ck_assert_msg(PetscAbsReal(speed - 1) < 1e-14, "snapshot %" PetscInt_FMT ", particle %" PetscInt_FMT ": speed %.17g", k, s.start + i, (double)speed);
    }
  }
}

START_TEST(test_boids_unit_speed)
{
  WLMSnapshots snap;

  WLMTestCall(GenerateBoids(400, 41, 0.0, &snap));
  CheckUnitSpeed(snap);
  WLMTestCall(WLMSnapshotsDestroy(&snap));
}
END_TEST

START_TEST(test_boids_unit_speed_with_noise)
{
  WLMSnapshots snap;

  WLMTestCall(GenerateBoids(200, 21, 0.3, &snap));
  CheckUnitSpeed(snap);
  WLMTestCall(WLMSnapshotsDestroy(&snap));
}
END_TEST

/* Without noise and with one step per snapshot, x_{k+1} = x_k + dt v_{k+1}. */
START_TEST(test_boids_drift_matches_velocity)
{
  WLMSnapshots snap;
  PetscInt     T;

  WLMTestCall(GenerateBoids(200, 11, 0.0, &snap));
  WLMTestCall(WLMSnapshotsGetNumSnapshots(snap, &T));
  for (PetscInt k = 0; k + 1 < T; k++) {
    WLMSnapshot a, b;

    WLMTestCall(WLMSnapshotsGetSnapshot(snap, k, &a));
    WLMTestCall(WLMSnapshotsGetSnapshot(snap, k + 1, &b));
    for (PetscInt i = 0; i < 2 * a.n; i++) ck_assert_double_eq_tol(b.x[i], a.x[i] + 0.5 * b.v[i], 1e-13);
  }
  WLMTestCall(WLMSnapshotsDestroy(&snap));
}
END_TEST

/* Initial positions are N(0, I): mean and variance within 5 standard errors (1/sqrt(N) and sqrt(2/(N d))). */
START_TEST(test_boids_initial_positions)
{
  const PetscInt N = 2000;
  WLMSnapshots   snap;
  WLMSnapshot    s;
  PetscReal      sums[3] = {0, 0, 0};

  WLMTestCall(GenerateBoids(N, 1, 0.0, &snap));
  WLMTestCall(WLMSnapshotsGetSnapshot(snap, 0, &s));
  for (PetscInt i = 0; i < s.n; i++) {
    sums[0] += s.x[2 * i];
    sums[1] += s.x[2 * i + 1];
    sums[2] += s.x[2 * i] * s.x[2 * i] + s.x[2 * i + 1] * s.x[2 * i + 1];
  }
  MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPIU_REAL, MPI_SUM, PETSC_COMM_WORLD);
  ck_assert_double_lt(PetscAbsReal(sums[0] / N), 5 / PetscSqrtReal(N));
  ck_assert_double_lt(PetscAbsReal(sums[1] / N), 5 / PetscSqrtReal(N));
  ck_assert_double_lt(PetscAbsReal(sums[2] / (2 * N) - 1), 5 * PetscSqrtReal(2.0 / (2 * N)));
  WLMTestCall(WLMSnapshotsDestroy(&snap));
}
END_TEST

START_TEST(test_boids_options_checked)
{
  WLMGenerator gen;

  WLMTestCall(WLMGeneratorCreate(PETSC_COMM_WORLD, &gen));
  WLMTestCall(WLMGeneratorSetType(gen, WLMGENERATORBOIDS));
  WLMTestExpectError(WLMGeneratorBoidsSetNoise(gen, -1.0), PETSC_ERR_ARG_OUTOFRANGE, "noise -1 is invalid");
  WLMTestExpectError(WLMGeneratorSetDimension(gen, 0), PETSC_ERR_ARG_OUTOFRANGE, "Dimension 0");
  WLMTestExpectError(WLMGeneratorSetSeed(gen, -3), PETSC_ERR_ARG_OUTOFRANGE, "Seed -3");
  WLMTestCall(WLMGeneratorDestroy(&gen));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("generate_boids");
  TCase *tc = tcase_create("boids");

  tcase_add_test(tc, test_boids_unit_speed);
  tcase_add_test(tc, test_boids_unit_speed_with_noise);
  tcase_add_test(tc, test_boids_drift_matches_velocity);
  tcase_add_test(tc, test_boids_initial_positions);
  tcase_add_test(tc, test_boids_options_checked);
  suite_add_tcase(s, tc);
  return s;
}
