/*
   Rollout gradients of every supported integrator against central finite
   differences, for a loss at 3 output times over 20 steps, and equality of
   a rollout sharded over all ranks with the same rollout on one rank.
*/
#include "wlmtest.h"
#include "potentialcheck.h"
#include "rolloutcheck.h"
#include "wellpair.h"

/* dt = 0.05 from t0 = 0.1 to outputs 0.41, 0.76, 1.03: 7 + 7 + 6 = 20 steps, the first and last interval end with a shortened step */
static const WLMTestIntegrator integrators[] = {
  {"wlmverlet exact",     TSWLMVERLET, NULL,    WLM_FRICTION_EXACT,     0.05, 1},
  {"wlmverlet reference", TSWLMVERLET, NULL,    WLM_FRICTION_REFERENCE, 0.05, 1},
  {"rk 1fe",              TSRK,        TSRK1FE, WLM_FRICTION_EXACT,     0.05, 1},
  {"rk 2a",               TSRK,        TSRK2A,  WLM_FRICTION_EXACT,     0.05, 1},
  {"rk 3",                TSRK,        TSRK3,   WLM_FRICTION_EXACT,     0.05, 1},
  {"rk 3bs",              TSRK,        TSRK3BS, WLM_FRICTION_EXACT,     0.05, 1},
  {"rk 4",                TSRK,        TSRK4,   WLM_FRICTION_EXACT,     0.05, 1},
  {"rk 4 reference",      TSRK,        TSRK4,   WLM_FRICTION_REFERENCE, 0.05, 1},
};

static void CheckIntegrator(const WLMTestIntegrator *integ, const char *pottype, PetscBool masses)
{
  WLMTestRollout        p;
  WLMTestGradientErrors err;
  PetscInt              nsteps;

  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_WORLD, pottype, 7, 2, masses, 101, &p));
  WLMTestCall(WLMTestRolloutConfigure(&p, integ, 0.7));
  WLMTestCall(WLMTestRolloutCheckGradient(&p, 202, &err));
  WLMTestCall(WLMDynamicsGetRolloutSteps(p.dyn, &nsteps, NULL));
  WLMTestCall(PetscPrintf(PETSC_COMM_WORLD, "%-20s %-9s steps %2" PetscInt_FMT "  rel. errors theta %.1e  log gamma %.1e  x0 %.1e  v0 %.1e\n", integ->name, pottype, nsteps, (double)err.theta, (double)err.loggamma, (double)err.x0, (double)err.v0));
  if (integ->dt > 0) ck_assert_int_eq(nsteps, 20);
  ck_assert_msg(err.theta <= 1e-6, "%s: theta gradient relative error %g", integ->name, (double)err.theta);
  ck_assert_msg(err.loggamma <= 1e-6, "%s: log gamma gradient relative error %g", integ->name, (double)err.loggamma);
  ck_assert_msg(err.x0 <= 1e-6, "%s: x0 gradient relative error %g", integ->name, (double)err.x0);
  ck_assert_msg(err.v0 <= 1e-6, "%s: v0 gradient relative error %g", integ->name, (double)err.v0);
  WLMTestCall(WLMTestRolloutDestroy(&p));
}

START_TEST(test_wellpair_derivatives)
{
  const PetscInt          n = 6, dim = 3;
  PetscReal               x[18], w[6];
  WLMPotential            pot;
  WLMTestDerivativeErrors err;

  WLMTestCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  WLMTestCall(WLMPotentialSetType(pot, WLMPOTENTIALWELLPAIR));
  WLMTestCall(WLMPotentialSetDimension(pot, dim));
  WLMTestCall(WLMPotentialSetUp(pot));
  WLMTestCall(WLMTestRandomArray(5, n * dim, 0.7, x));
  WLMTestCall(WLMTestRandomArray(6, n, 1.0, w));
  for (PetscInt i = 0; i < n; i++) w[i] = 0.1 + PetscAbsReal(w[i]);
  WLMTestCall(WLMTestPotentialDerivatives(pot, 0.0, n, x, w, 7, &err));
  ck_assert_double_lt(err.forces, 1e-6);
  ck_assert_double_lt(err.state, 1e-6);
  ck_assert_double_lt(err.parameters, 1e-6);
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

START_TEST(test_gradient_wellpair)
{
  for (size_t i = 0; i < PETSC_STATIC_ARRAY_LENGTH(integrators); i++) CheckIntegrator(&integrators[i], WLMPOTENTIALWELLPAIR, PETSC_TRUE);
}
END_TEST

START_TEST(test_gradient_harmonic)
{
  CheckIntegrator(&integrators[0], WLMPOTENTIALHARMONIC, PETSC_TRUE);
  CheckIntegrator(&integrators[1], WLMPOTENTIALHARMONIC, PETSC_FALSE);
  CheckIntegrator(&integrators[6], WLMPOTENTIALHARMONIC, PETSC_FALSE);
}
END_TEST

/* 5 equal steps per output interval and uniform masses */
START_TEST(test_gradient_substeps)
{
  const WLMTestIntegrator verlet = {"wlmverlet substeps", TSWLMVERLET, NULL, WLM_FRICTION_EXACT, 0.0, 5};
  const WLMTestIntegrator rk     = {"rk 3bs substeps", TSRK, TSRK3BS, WLM_FRICTION_EXACT, 0.0, 5};

  CheckIntegrator(&verlet, WLMPOTENTIALWELLPAIR, PETSC_FALSE);
  CheckIntegrator(&rk, WLMPOTENTIALWELLPAIR, PETSC_FALSE);
}
END_TEST

/* Largest |a_i - b_i| / max_j |b_j|: entries compared relative to the scale of their array. */
static PetscReal ScaledDifference(PetscInt n, const PetscReal *a, const PetscReal *b)
{
  PetscReal diff = 0, scale = PETSC_SMALL;

  for (PetscInt i = 0; i < n; i++) scale = PetscMax(scale, PetscAbsReal(b[i]));
  for (PetscInt i = 0; i < n; i++) diff = PetscMax(diff, PetscAbsReal(a[i] - b[i]));
  return diff / scale;
}

/*
   The ensemble sharded over all ranks against the whole ensemble on every
   rank alone: outputs and gradients agree up to summation order.
*/
static void CheckSharded(const WLMTestIntegrator *integ)
{
  WLMTestRollout sharded, single;
  PetscInt       nparam, nd;
  PetscReal      Ls, L1, gs[6], g1[6], lgs, lg1, dxs[22], dvs[22], dx1[22], dv1[22], diff = 0;

  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_WORLD, WLMPOTENTIALWELLPAIR, 11, 2, PETSC_TRUE, 303, &sharded));
  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_SELF, WLMPOTENTIALWELLPAIR, 11, 2, PETSC_TRUE, 303, &single));
  WLMTestCall(WLMTestRolloutConfigure(&sharded, integ, 0.4));
  WLMTestCall(WLMTestRolloutConfigure(&single, integ, 0.4));
  WLMTestCall(WLMPotentialGetNumParameters(single.pot, &nparam));
  ck_assert_int_eq(nparam, 6);
  nd = sharded.n * sharded.dim;
  WLMTestCall(WLMTestRolloutGradient(&sharded, &Ls, gs, &lgs, dxs, dvs));
  WLMTestCall(WLMTestRolloutGradient(&single, &L1, g1, &lg1, dx1, dv1));

  diff = PetscMax(diff, PetscAbsReal(Ls - L1) / PetscAbsReal(L1));
  for (PetscInt m = 0; m < 3; m++) {
    diff = PetscMax(diff, ScaledDifference(nd, sharded.X[m], single.X[m] + sharded.start * 2));
    diff = PetscMax(diff, ScaledDifference(nd, sharded.V[m], single.V[m] + sharded.start * 2));
  }
  diff = PetscMax(diff, ScaledDifference(nparam, gs, g1));
  diff = PetscMax(diff, PetscAbsReal(lgs - lg1) / PetscAbsReal(lg1));
  diff = PetscMax(diff, ScaledDifference(nd, dxs, dx1 + sharded.start * 2));
  diff = PetscMax(diff, ScaledDifference(nd, dvs, dv1 + sharded.start * 2));
  ck_assert_int_eq(MPI_Allreduce(MPI_IN_PLACE, &diff, 1, MPIU_REAL, MPI_MAX, PETSC_COMM_WORLD), MPI_SUCCESS);
  WLMTestCall(PetscPrintf(PETSC_COMM_WORLD, "%-20s sharded over %d ranks against 1 rank: largest relative difference %.1e\n", integ->name, wlm_test_size, (double)diff));
  ck_assert_msg(diff < 1e-12, "%s: sharded rollout differs from the single-rank one by %g", integ->name, (double)diff);
  WLMTestCall(WLMTestRolloutDestroy(&sharded));
  WLMTestCall(WLMTestRolloutDestroy(&single));
}

START_TEST(test_gradient_sharded)
{
  CheckSharded(&integrators[0]);
  CheckSharded(&integrators[1]);
  CheckSharded(&integrators[6]);
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("dynamics_gradients");
  TCase *tc = tcase_create("gradients");

  WLMTestRegisterWellPair();
  tcase_add_test(tc, test_wellpair_derivatives);
  tcase_add_test(tc, test_gradient_wellpair);
  tcase_add_test(tc, test_gradient_harmonic);
  tcase_add_test(tc, test_gradient_substeps);
  tcase_add_test(tc, test_gradient_sharded);
  suite_add_tcase(s, tc);
  return s;
}
