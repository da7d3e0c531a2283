/*
   Initial-velocity sources: the entropic transport map against POT, the
   data and zero sources, the accuracy of the ot and dice estimates on a
   damped harmonic population with known velocities, and the guarantee that a
   held-out snapshot never changes an estimate.
*/
#include "wlmtest.h"
#include <wlm/wlmvelocity.h>
#include <wlm/wlmloss.h>
#include <wlm/wlmgenerate.h>
#include "fixtures/transport_map_reference.h"

PETSC_EXTERN PetscErrorCode WLMLossSinkhornTransportMap(WLMLoss, PetscInt, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], const PetscReal[], PetscReal[]);

/* The map from fully converged potentials agrees with POT's log-domain Sinkhorn at the same eps. */
START_TEST(test_transport_map_matches_pot)
{
  WLMLoss   loss;
  PetscReal T[2 * TMAP_N];

  WLMTestCall(WLMLossCreate(PETSC_COMM_SELF, &loss));
  WLMTestCall(WLMLossSetType(loss, WLMLOSSSINKHORN));
  WLMTestCall(WLMLossSetDimension(loss, 2));
  WLMTestCall(WLMLossSetExponent(loss, 2));
  WLMTestCall(WLMLossSetBlur(loss, TMAP_BLUR));
  WLMTestCall(WLMLossSinkhornSetTolerances(loss, 1e-14, 100000));
  WLMTestCall(WLMLossSetUp(loss));
  WLMTestCall(WLMLossSinkhornTransportMap(loss, TMAP_N, tmap_x, NULL, TMAP_M, tmap_y, NULL, T));
  for (int i = 0; i < 2 * TMAP_N; i++) ck_assert_double_eq_tol(T[i], tmap_reference[i], 1e-8);
  WLMTestCall(WLMLossDestroy(&loss));
}
END_TEST

/*
   Harmonic data with exact velocities: 300 particles starting at rest, so
   every position scales by cos(omega t) about the origin and the velocity is
   a smooth field that a transport map can recover; omega = 0.5 and 8
   snapshots 0.25 apart keep the cloud far from its collapse at omega t = pi/2.
*/
static PetscErrorCode HarmonicSnapshots(PetscReal shift3, WLMSnapshots *snaps)
{
  WLMGenerator gen;
  WLMSnapshots raw;
  WLMSnapshot  s;
  PetscInt     T;
  PetscOptions db;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsCreate(&db));
  PetscCall(PetscOptionsInsertString(db, "-wlm_generate_harmonic_velocity_std 0"));
  PetscCall(PetscOptionsPush(db));
  PetscCall(WLMGeneratorCreate(PETSC_COMM_SELF, &gen));
  PetscCall(WLMGeneratorSetType(gen, WLMGENERATORHARMONIC));
  PetscCall(WLMGeneratorSetNumParticles(gen, 300));
  PetscCall(WLMGeneratorSetSnapshots(gen, 8, 0.25));
  PetscCall(WLMGeneratorSetDimension(gen, 2));
  PetscCall(WLMGeneratorSetSeed(gen, 1));
  PetscCall(WLMGeneratorHarmonicSetParameters(gen, 0.25, 0.0, 0.0));
  PetscCall(WLMGeneratorSetFromOptions(gen));
  PetscCall(WLMGeneratorSetUp(gen));
  PetscCall(PetscOptionsPop());
  PetscCall(PetscOptionsDestroy(&db));
  PetscCall(WLMSnapshotsCreate(PETSC_COMM_SELF, &raw));
  PetscCall(WLMGeneratorGenerate(gen, raw));
  PetscCall(WLMGeneratorDestroy(&gen));

  /* copy, moving every particle of snapshot 3 by shift3 */
  PetscCall(WLMSnapshotsCreate(PETSC_COMM_SELF, snaps));
  PetscCall(WLMSnapshotsSetDimension(*snaps, 2));
  PetscCall(WLMSnapshotsGetNumSnapshots(raw, &T));
  for (PetscInt k = 0; k < T; k++) {
    PetscReal *x;

    PetscCall(WLMSnapshotsGetSnapshot(raw, k, &s));
    PetscCall(PetscMalloc1(2 * s.N, &x));
    for (PetscInt i = 0; i < 2 * s.N; i++) x[i] = s.x[i] + (k == 3 ? shift3 : 0.0);
    PetscCall(WLMSnapshotsAddSnapshot(*snaps, s.t, s.N, x, s.v, NULL, NULL));
    PetscCall(PetscFree(x));
  }
  PetscCall(WLMSnapshotsDestroy(&raw));
  PetscFunctionReturn(0);
}

/* Velocities of snapshot s from a source that may read the allowed snapshots. */
static PetscErrorCode Estimate(WLMSnapshots snaps, WLMVelocitySource source, PetscInt nallowed, const PetscInt allowed[], PetscInt s, PetscReal v[])
{
  WLMVelocity vel;

  PetscFunctionBeginUser;
  PetscCall(WLMVelocityCreate(PETSC_COMM_SELF, &vel));
  PetscCall(WLMVelocitySetSource(vel, source));
  PetscCall(WLMVelocitySetSnapshots(vel, snaps, nallowed, allowed));
  PetscCall(WLMVelocitySetFromOptions(vel));
  PetscCall(WLMVelocitySetUp(vel));
  PetscCall(WLMVelocityCompute(vel, s, v));
  PetscCall(WLMVelocityDestroy(&vel));
  PetscFunctionReturn(0);
}

/* Relative L2 error of an estimate against the exact velocities of snapshot s. */
static PetscReal RelativeError(WLMSnapshots snaps, PetscInt s, const PetscReal *v)
{
  WLMSnapshot snap;
  PetscReal   err = 0, norm = 0;

  WLMSnapshotsGetSnapshot(snaps, s, &snap);
  for (PetscInt i = 0; i < 2 * snap.N; i++) {
    err += (v[i] - snap.v[i]) * (v[i] - snap.v[i]);
    norm += snap.v[i] * snap.v[i];
  }
  return PetscSqrtReal(err / norm);
}

START_TEST(test_data_and_zero)
{
  WLMSnapshots   snaps;
  WLMSnapshot    snap;
  const PetscInt allowed[3] = {0, 1, 2};
  PetscReal      v[600];

  WLMTestCall(HarmonicSnapshots(0, &snaps));
  WLMTestCall(WLMSnapshotsGetSnapshot(snaps, 1, &snap));
  WLMTestCall(Estimate(snaps, WLM_VELOCITY_DATA, 3, allowed, 1, v));
  ck_assert_mem_eq(v, snap.v, sizeof(v));
  WLMTestCall(Estimate(snaps, WLM_VELOCITY_ZERO, 3, allowed, 1, v));
  for (int i = 0; i < 600; i++) ck_assert_double_eq(v[i], 0.0);
  WLMTestExpectError(Estimate(snaps, WLM_VELOCITY_DATA, 3, allowed, 5, v), PETSC_ERR_ARG_OUTOFRANGE, "Snapshot 5");
  WLMTestCall(WLMSnapshotsDestroy(&snaps));
}
END_TEST

/*
   Every particle follows x0 cos(omega t), so the cloud at t + h is the cloud
   at t scaled about the origin and the OT map is the identity matching: the
   ot estimate must equal the forward difference (x(t + h) - x(t)) / h of the
   trajectories, up to the blur.  That difference is itself 24.2% off the
   true velocity at t = 0.5 (cos(0.375) - cos(0.25) = -0.0384 against
   0.25 (-0.5 sin(0.25)) = -0.0309), which bounds what any snapshot-based
   estimate can do; dice averages the intervals on both sides and must beat
   zero velocities (error 1) by far.
*/
START_TEST(test_estimates_accuracy)
{
  WLMSnapshots   snaps;
  WLMSnapshot    a, b;
  const PetscInt allowed[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  PetscReal      v[600], err_fd = 0, norm_fd = 0, err_ot, err_dice;

  WLMTestCall(HarmonicSnapshots(0, &snaps));
  WLMTestCall(Estimate(snaps, WLM_VELOCITY_OT, 8, allowed, 2, v));
  err_ot = RelativeError(snaps, 2, v);
  WLMTestCall(WLMSnapshotsGetSnapshot(snaps, 2, &a));
  WLMTestCall(WLMSnapshotsGetSnapshot(snaps, 3, &b));
  for (PetscInt i = 0; i < 600; i++) {
    const PetscReal fd = (b.x[i] - a.x[i]) / (b.t - a.t);

    err_fd += (v[i] - fd) * (v[i] - fd);
    norm_fd += fd * fd;
  }
  WLMTestCall(Estimate(snaps, WLM_VELOCITY_DICE, 8, allowed, 2, v));
  err_dice = RelativeError(snaps, 2, v);
  if (wlm_test_rank == 0) printf("relative velocity error at snapshot 2: ot %.3f (%.4f from the forward difference), dice %.3f\n", (double)err_ot, (double)PetscSqrtReal(err_fd / norm_fd), (double)err_dice);
  ck_assert_double_lt(PetscSqrtReal(err_fd / norm_fd), 0.02);
  ck_assert_double_lt(err_ot, 0.26);
  ck_assert_double_lt(err_dice, 0.35);
  WLMTestCall(WLMSnapshotsDestroy(&snaps));
}
END_TEST

/* Moving the held-out snapshot 3 far away changes no estimate: only the allowed snapshots are read. */
START_TEST(test_holdout_never_read)
{
  WLMSnapshots      a, b;
  const PetscInt    allowed[7] = {0, 1, 2, 4, 5, 6, 7};
  WLMVelocitySource sources[2] = {WLM_VELOCITY_OT, WLM_VELOCITY_DICE};
  PetscReal         va[600], vb[600];

  WLMTestCall(HarmonicSnapshots(0, &a));
  WLMTestCall(HarmonicSnapshots(50.0, &b));
  for (int k = 0; k < 2; k++) {
    WLMTestCall(Estimate(a, sources[k], 7, allowed, 2, va));
    WLMTestCall(Estimate(b, sources[k], 7, allowed, 2, vb));
    ck_assert_mem_eq(va, vb, sizeof(va));
  }
  WLMTestExpectError(Estimate(a, WLM_VELOCITY_OT, 7, allowed, 3, va), PETSC_ERR_ARG_OUTOFRANGE, "Snapshot 3 is not among");
  WLMTestCall(WLMSnapshotsDestroy(&a));
  WLMTestCall(WLMSnapshotsDestroy(&b));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("velocity");
  TCase *tc = tcase_create("velocity");

  tcase_add_test(tc, test_transport_map_matches_pot);
  tcase_add_test(tc, test_data_and_zero);
  tcase_add_test(tc, test_estimates_accuracy);
  tcase_add_test(tc, test_holdout_never_read);
  suite_add_tcase(s, tc);
  return s;
}
