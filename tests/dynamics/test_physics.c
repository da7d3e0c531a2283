/*
   Physics of the integrators against independent references: free decay
   v(t) = v0 e^{-gamma t} with U = 0, positions of both Verlet variants
   against a numpy fixture, bounded energy error of the leapfrog over 10^5
   steps, and convergence orders 2 (wlmverlet) and 4 (RK4) on a nonlinear
   potential.
*/
#include "wlmtest.h"
#include "potentialcheck.h"
#include "rolloutcheck.h"
#include "wellpair.h"
#include "fixture_verlet.h"

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

static PetscErrorCode CreateDynamics(WLMPotential pot, TSType type, PetscReal gamma, WLMDynamics *dyn)
{
  TS ts;

  PetscFunctionBeginUser;
  PetscCall(WLMDynamicsCreate(PetscObjectComm((PetscObject)pot), dyn));
  PetscCall(WLMDynamicsSetPotential(*dyn, pot));
  PetscCall(WLMDynamicsSetFriction(*dyn, gamma));
  PetscCall(WLMDynamicsGetTS(*dyn, &ts));
  PetscCall(TSSetType(ts, type));
  if (!strcmp(type, TSRK)) PetscCall(TSRKSetType(ts, TSRK4));
  PetscFunctionReturn(0);
}

/* U = 0: each step multiplies v by m^2 = e^{-gamma dt}, and x grows by dt m v at the half step. */
START_TEST(test_free_decay)
{
  const PetscInt  n = 3, dim = 2, S = 50;
  const PetscReal gamma = 0.9, times[3] = {0.5, 1.0, 2.0};
  PetscReal       x0[6], v0[6], X[3][6], V[3][6], *Xp[3] = {X[0], X[1], X[2]}, *Vp[3] = {V[0], V[1], V[2]};
  WLMPotential    pot;
  WLMDynamics     dyn;

  WLMTestCall(CreateHarmonic(PETSC_COMM_SELF, dim, 0.0, 0.0, &pot));
  WLMTestCall(CreateDynamics(pot, TSWLMVERLET, gamma, &dyn));
  WLMTestCall(WLMDynamicsSetSubsteps(dyn, S));
  WLMTestCall(WLMTestRandomArray(1, n * dim, 1.0, x0));
  WLMTestCall(WLMTestRandomArray(2, n * dim, 1.0, v0));
  WLMTestCall(WLMDynamicsRollout(dyn, n, NULL, 0.0, x0, v0, 3, times, Xp, Vp));
  for (PetscInt m = 0; m < 3; m++) {
    const PetscReal ta = m ? times[m - 1] : 0.0, h = (times[m] - ta) / S, mh = PetscExpReal(-0.5 * gamma * h);
    const PetscReal growth = h * mh * (1 - PetscPowReal(mh, 2 * S)) / (1 - mh * mh); /* sum_{j<S} h m^{2j+1} */

    for (PetscInt i = 0; i < n * dim; i++) {
      const PetscReal vexact = v0[i] * PetscExpReal(-gamma * times[m]);
      const PetscReal vstart = v0[i] * PetscExpReal(-gamma * ta);
      const PetscReal xstart = m ? X[m - 1][i] : x0[i];

      ck_assert_msg(WLMTestRelativeError(V[m][i], vexact, 1e-300) < 1e-13, "v at t = %g: %.17g, expected %.17g", (double)times[m], (double)V[m][i], (double)vexact);
      ck_assert_msg(WLMTestRelativeError(X[m][i], xstart + growth * vstart, 1.0) < 1e-13, "x at t = %g: %.17g, expected %.17g", (double)times[m], (double)X[m][i], (double)(xstart + growth * vstart));
    }
  }
  WLMTestCall(WLMDynamicsDestroy(&dyn));
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

/* Both Verlet variants against positions computed by tools/fixtures/dynamics_verlet.py. */
START_TEST(test_verlet_fixture)
{
  PetscReal    X[FIXTURE_NOUT][FIXTURE_N * FIXTURE_DIM], *Xp[FIXTURE_NOUT];
  WLMPotential pot;
  WLMDynamics  dyn;

  for (PetscInt m = 0; m < FIXTURE_NOUT; m++) Xp[m] = X[m];
  WLMTestCall(CreateHarmonic(PETSC_COMM_SELF, FIXTURE_DIM, fixture_k, fixture_c, &pot));
  WLMTestCall(CreateDynamics(pot, TSWLMVERLET, fixture_gamma, &dyn));
  WLMTestCall(WLMDynamicsSetTimeStep(dyn, fixture_dt));
  for (int variant = 0; variant < 2; variant++) {
    const PetscReal(*expected)[FIXTURE_N * FIXTURE_DIM] = variant ? fixture_x_reference : fixture_x_exact;

    WLMTestCall(WLMDynamicsSetFrictionVariant(dyn, variant ? WLM_FRICTION_REFERENCE : WLM_FRICTION_EXACT));
    WLMTestCall(WLMDynamicsRollout(dyn, FIXTURE_N, fixture_w, fixture_t0, fixture_x0, fixture_v0, FIXTURE_NOUT, fixture_times, Xp, NULL));
    for (PetscInt m = 0; m < FIXTURE_NOUT; m++) {
      for (PetscInt i = 0; i < FIXTURE_N * FIXTURE_DIM; i++) {
        ck_assert_msg(PetscAbsReal(X[m][i] - expected[m][i]) < 1e-13, "%s variant, output %" PetscInt_FMT ", entry %" PetscInt_FMT ": %.17g, numpy %.17g", WLMFrictionVariants[variant], m, i, (double)X[m][i], (double)expected[m][i]);
      }
    }
  }
  WLMTestCall(WLMDynamicsDestroy(&dyn));
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

/* Total energy E = sum_i w_i |v_i|^2 / 2 + U(X) of a recorded state. */
static PetscErrorCode Energy(WLMPotential pot, PetscInt n, PetscInt dim, const PetscReal *w, const PetscReal *x, const PetscReal *v, PetscReal *E)
{
  PetscReal U, kinetic = 0;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialComputeEnergy(pot, 0.0, n, x, w, &U));
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt k = 0; k < dim; k++) kinetic += 0.5 * w[i] * v[i * dim + k] * v[i * dim + k];
  }
  *E = kinetic + U;
  PetscFunctionReturn(0);
}

/*
   Largest relative energy error over the outputs in the first and in the
   second half of a rollout at gamma = 0, dt = 0.05, 10^5 steps, with an
   output every 100 steps.  It runs as 100 chained rollouts of 1000 steps,
   each starting from the last output of the previous one, which is the same
   computation as one long rollout with 100 times less trajectory storage.
*/
static PetscErrorCode EnergyErrors(TSType type, PetscReal *first, PetscReal *second)
{
  const PetscInt n = 3, dim = 2, nchunk = 100, nout = 10, S = 100;
  PetscReal      x0[6], v0[6], w[3] = {0.2, 0.3, 0.5}, times[10], X[10][6], V[10][6], *Xp[10], *Vp[10], E0, E, t = 0;
  WLMPotential   pot;
  WLMDynamics    dyn;

  PetscFunctionBeginUser;
  PetscCall(CreateHarmonic(PETSC_COMM_SELF, dim, 1.0, 0.5, &pot));
  PetscCall(CreateDynamics(pot, type, 0.0, &dyn));
  PetscCall(WLMDynamicsSetSubsteps(dyn, S));
  PetscCall(WLMTestRandomArray(3, n * dim, 1.0, x0));
  PetscCall(WLMTestRandomArray(4, n * dim, 1.0, v0));
  PetscCall(Energy(pot, n, dim, w, x0, v0, &E0));
  for (PetscInt m = 0; m < nout; m++) {
    Xp[m] = X[m];
    Vp[m] = V[m];
  }
  *first = *second = 0;
  for (PetscInt chunk = 0; chunk < nchunk; chunk++) {
    for (PetscInt m = 0; m < nout; m++) times[m] = t + 5.0 * (m + 1);
    PetscCall(WLMDynamicsRollout(dyn, n, w, t, x0, v0, nout, times, Xp, Vp));
    for (PetscInt m = 0; m < nout; m++) {
      PetscCall(Energy(pot, n, dim, w, X[m], V[m], &E));
      if (chunk < nchunk / 2) *first = PetscMax(*first, PetscAbsReal(E - E0) / E0);
      else *second = PetscMax(*second, PetscAbsReal(E - E0) / E0);
    }
    t = times[nout - 1];
    PetscCall(PetscArraycpy(x0, X[nout - 1], n * dim));
    PetscCall(PetscArraycpy(v0, V[nout - 1], n * dim));
  }
  PetscCall(WLMDynamicsDestroy(&dyn));
  PetscCall(WLMPotentialDestroy(&pot));
  PetscFunctionReturn(0);
}

START_TEST(test_energy_leapfrog)
{
  PetscReal first, second;

  WLMTestCall(EnergyErrors(TSWLMVERLET, &first, &second));
  WLMTestCall(PetscPrintf(PETSC_COMM_WORLD, "energy error over 1e5 steps, dt = 0.05: wlmverlet max %.2e (steps 0-5e4) and %.2e (5e4-1e5)\n", (double)first, (double)second));
  ck_assert_msg(first < 1e-3, "leapfrog energy error %g exceeds the O(dt^2) bound 1e-3", (double)first);
  ck_assert_msg(second < 1.2 * first, "leapfrog energy error grew from %g to %g: drift", (double)first, (double)second);
  WLMTestCall(EnergyErrors(TSRK, &first, &second));
  WLMTestCall(PetscPrintf(PETSC_COMM_WORLD, "energy error over 1e5 steps, dt = 0.05: rk4 max %.2e (steps 0-5e4) and %.2e (5e4-1e5)\n", (double)first, (double)second));
}
END_TEST

/* Positions at t = 1 from t0 = 0 with S equal steps. */
static PetscErrorCode EndPositions(WLMTestRollout *p, TSType type, TSRKType rktype, WLMFrictionVariant variant, PetscInt S, PetscReal x[])
{
  const WLMTestIntegrator integ = {"order", type, rktype, variant, 0.0, S};
  const PetscReal         t1    = 1.0;
  PetscReal              *X[1]  = {x};

  PetscFunctionBeginUser;
  PetscCall(WLMTestRolloutConfigure(p, &integ, 0.5));
  PetscCall(WLMDynamicsRollout(p->dyn, p->n, p->w, 0.0, p->x0, p->v0, 1, &t1, X, NULL));
  PetscFunctionReturn(0);
}

/* Observed order log2(e(S) / e(2S)) of the error at t = 1 against RK4 with 2000 steps, for S = S0 and 2 S0. */
static PetscErrorCode ObservedOrder(TSType type, TSRKType rktype, WLMFrictionVariant variant, PetscInt S0, PetscReal *order, PetscReal *error)
{
  WLMTestRollout p;
  PetscReal      xref[10], x[10], e[2];

  PetscFunctionBeginUser;
  PetscCall(WLMTestRolloutCreate(PETSC_COMM_SELF, WLMPOTENTIALWELLPAIR, 5, 2, PETSC_TRUE, 11, &p));
  PetscCall(EndPositions(&p, TSRK, TSRK4, variant, 2000, xref));
  for (PetscInt j = 0; j < 2; j++) {
    PetscCall(EndPositions(&p, type, rktype, variant, S0 << j, x));
    e[j] = 0;
    for (PetscInt i = 0; i < 10; i++) e[j] = PetscMax(e[j], PetscAbsReal(x[i] - xref[i]));
  }
  *order = PetscLog2Real(e[0] / e[1]);
  *error = e[1];
  PetscCall(WLMTestRolloutDestroy(&p));
  PetscFunctionReturn(0);
}

START_TEST(test_convergence_order)
{
  PetscReal order, error;

  WLMTestCall(ObservedOrder(TSWLMVERLET, NULL, WLM_FRICTION_EXACT, 40, &order, &error));
  WLMTestCall(PetscPrintf(PETSC_COMM_WORLD, "wlmverlet exact:     observed order %.3f (error %.1e at 80 steps)\n", (double)order, (double)error));
  ck_assert_msg(order > 1.9 && order < 2.1, "wlmverlet order %g, expected 2", (double)order);
  WLMTestCall(ObservedOrder(TSRK, TSRK4, WLM_FRICTION_EXACT, 20, &order, &error));
  WLMTestCall(PetscPrintf(PETSC_COMM_WORLD, "rk 4:                observed order %.3f (error %.1e at 40 steps)\n", (double)order, (double)error));
  ck_assert_msg(order > 3.8 && order < 4.2, "rk 4 order %g, expected 4", (double)order);
  WLMTestCall(ObservedOrder(TSWLMVERLET, NULL, WLM_FRICTION_REFERENCE, 40, &order, &error));
  WLMTestCall(PetscPrintf(PETSC_COMM_WORLD, "wlmverlet reference: observed order %.3f (error %.1e at 80 steps) against dv/dt = -gamma v + (1 + gamma) a\n", (double)order, (double)error));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("dynamics_physics");
  TCase *tc = tcase_create("physics");

  WLMTestRegisterWellPair();
  tcase_add_test(tc, test_free_decay);
  tcase_add_test(tc, test_verlet_fixture);
  tcase_add_test(tc, test_energy_leapfrog);
  tcase_add_test(tc, test_convergence_order);
  suite_add_tcase(s, tc);
  return s;
}
