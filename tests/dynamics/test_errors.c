/*
   Bad input to WLMDynamics: every case fails with an error code and a
   message that names the offending value.
*/
#include "wlmtest.h"
#include <wlm/wlmdynamics.h>

typedef struct {
  WLMPotential pot;
  WLMDynamics  dyn;
  PetscInt     n;
  PetscReal    x0[8], v0[8], X[8], *Xp[1];
} Problem;

/* A 4-particle harmonic problem sharded over all ranks (rank 0 takes the remainder). */
static void ProblemCreate(Problem *p)
{
  PetscMemzero(p, sizeof(*p));
  p->n     = wlm_test_rank ? 1 : 4 - (wlm_test_size - 1);
  p->Xp[0] = p->X;
  for (PetscInt i = 0; i < 8; i++) {
    p->x0[i] = 0.1 * i;
    p->v0[i] = -0.05 * i;
  }
  WLMTestCall(WLMPotentialCreate(PETSC_COMM_WORLD, &p->pot));
  WLMTestCall(WLMPotentialSetType(p->pot, WLMPOTENTIALHARMONIC));
  WLMTestCall(WLMPotentialSetDimension(p->pot, 2));
  WLMTestCall(WLMDynamicsCreate(PETSC_COMM_WORLD, &p->dyn));
  WLMTestCall(WLMDynamicsSetPotential(p->dyn, p->pot));
}

static void ProblemDestroy(Problem *p)
{
  WLMTestCall(WLMDynamicsDestroy(&p->dyn));
  WLMTestCall(WLMPotentialDestroy(&p->pot));
}

static PetscErrorCode Rollout(Problem *p, PetscReal t0, PetscInt nout, const PetscReal times[])
{
  return WLMDynamicsRollout(p->dyn, p->n, NULL, t0, p->x0, p->v0, nout, times, p->Xp, NULL);
}

START_TEST(test_output_times)
{
  Problem         p;
  const PetscReal repeated[3] = {0.5, 0.5, 1.0}, decreasing[2] = {0.5, 0.25}, early[1] = {1.0};
  PetscReal      *X3[3];

  ProblemCreate(&p);
  X3[0] = X3[1] = X3[2] = p.X;
  WLMTestExpectError(WLMDynamicsRollout(p.dyn, p.n, NULL, 0.0, p.x0, p.v0, 3, repeated, X3, NULL), PETSC_ERR_ARG_OUTOFRANGE, "t_2 = 0.5 follows t_1 = 0.5");
  WLMTestExpectError(WLMDynamicsRollout(p.dyn, p.n, NULL, 0.0, p.x0, p.v0, 2, decreasing, X3, NULL), PETSC_ERR_ARG_OUTOFRANGE, "t_2 = 0.25 follows t_1 = 0.5");
  WLMTestExpectError(Rollout(&p, 1.0, 1, early), PETSC_ERR_ARG_OUTOFRANGE, "t_1 = 1. must be later than the start time t0 = 1.");
  WLMTestExpectError(Rollout(&p, 2.0, 1, early), PETSC_ERR_ARG_OUTOFRANGE, "t_1 = 1. must be later than the start time t0 = 2.");
  WLMTestExpectError(Rollout(&p, 0.0, 0, early), PETSC_ERR_ARG_OUTOFRANGE, "at least 1 output time, got 0");
  ProblemDestroy(&p);
}
END_TEST

START_TEST(test_friction_and_steps)
{
  Problem p;

  ProblemCreate(&p);
  WLMTestExpectError(WLMDynamicsSetFriction(p.dyn, -0.1), PETSC_ERR_ARG_OUTOFRANGE, "Friction -0.1 is invalid");
  WLMTestExpectError(WLMDynamicsSetSubsteps(p.dyn, 0), PETSC_ERR_ARG_OUTOFRANGE, "Substeps 0 is invalid");
  WLMTestExpectError(WLMDynamicsSetTimeStep(p.dyn, -0.1), PETSC_ERR_ARG_OUTOFRANGE, "Time step -0.1 is invalid");

  /* the same checks through the options database */
  WLMTestCall(PetscOptionsSetValue(NULL, "-wlm_friction", "-2.5"));
  WLMTestExpectError(WLMDynamicsSetFromOptions(p.dyn), PETSC_ERR_ARG_OUTOFRANGE, "Friction -2.5 is invalid");
  WLMTestCall(PetscOptionsClearValue(NULL, "-wlm_friction"));
  WLMTestCall(PetscOptionsSetValue(NULL, "-wlm_substeps", "-3"));
  WLMTestExpectError(WLMDynamicsSetFromOptions(p.dyn), PETSC_ERR_ARG_OUTOFRANGE, "Substeps -3 is invalid");
  WLMTestCall(PetscOptionsClearValue(NULL, "-wlm_substeps"));
  ProblemDestroy(&p);
}
END_TEST

/* RK types whose 3.18 parameter gradient is wrong, TS types without a supported adjoint, adaptive steps, other trajectory types */
START_TEST(test_unsupported_integrators)
{
  const char *const bad_rk[] = {TSRK2B, TSRK5F, TSRK5DP, TSRK5BS, TSRK6VR, TSRK7VR, TSRK8VR};
  const PetscReal   times[1] = {0.5};
  Problem           p;
  TS                ts;
  TSAdapt           adapt;
  TSTrajectory      tj;
  char              fragment[64];

  ProblemCreate(&p);
  WLMTestCall(WLMDynamicsGetTS(p.dyn, &ts));
  WLMTestCall(TSSetType(ts, TSRK));
  for (size_t i = 0; i < PETSC_STATIC_ARRAY_LENGTH(bad_rk); i++) {
    WLMTestCall(TSRKSetType(ts, bad_rk[i]));
    WLMTestCall(PetscSNPrintf(fragment, sizeof(fragment), "TSRK type %s gives a wrong parameter gradient", bad_rk[i]));
    WLMTestExpectError(Rollout(&p, 0.0, 1, times), PETSC_ERR_SUP, fragment);
    WLMTestExpectError(Rollout(&p, 0.0, 1, times), PETSC_ERR_SUP, "use -ts_rk_type 1fe, 2a, 3, 3bs or 4");
  }

  WLMTestCall(PetscOptionsSetValue(NULL, "-ts_rk_type", "5dp"));
  WLMTestCall(WLMDynamicsSetFromOptions(p.dyn));
  WLMTestCall(PetscOptionsClearValue(NULL, "-ts_rk_type"));
  WLMTestExpectError(Rollout(&p, 0.0, 1, times), PETSC_ERR_SUP, "TSRK type 5dp");

  WLMTestCall(TSRKSetType(ts, TSRK4));
  WLMTestCall(TSGetAdapt(ts, &adapt));
  WLMTestCall(TSAdaptSetType(adapt, TSADAPTBASIC));
  WLMTestExpectError(Rollout(&p, 0.0, 1, times), PETSC_ERR_SUP, "the TS adaptor is basic");
  WLMTestCall(TSAdaptSetType(adapt, TSADAPTNONE));
  WLMTestCall(Rollout(&p, 0.0, 1, times));

  WLMTestCall(TSSetType(ts, TSEULER));
  WLMTestExpectError(Rollout(&p, 0.0, 1, times), PETSC_ERR_SUP, "TS type euler has no discrete adjoint");

  WLMTestCall(TSSetType(ts, TSWLMVERLET));
  WLMTestCall(TSGetTrajectory(ts, &tj));
  WLMTestCall(TSTrajectorySetType(tj, ts, TSTRAJECTORYBASIC));
  WLMTestExpectError(Rollout(&p, 0.0, 1, times), PETSC_ERR_SUP, "-ts_trajectory_type basic is not supported");
  WLMTestCall(TSTrajectorySetType(tj, ts, TSTRAJECTORYWLMTAPE));
  WLMTestCall(TSTrajectorySetSolutionOnly(tj, PETSC_TRUE));
  WLMTestExpectError(Rollout(&p, 0.0, 1, times), PETSC_ERR_SUP, "remove -ts_trajectory_solution_only");
  ProblemDestroy(&p);
}
END_TEST

START_TEST(test_state_and_masses)
{
  const PetscReal times[1] = {0.5};
  PetscReal       w[4]     = {0.3, -0.2, 0.4, 0.5};
  Problem         p;
  WLMDynamics     bare;

  ProblemCreate(&p);
  WLMTestExpectError(WLMDynamicsRolloutAdjoint(p.dyn, NULL, NULL, NULL, NULL, NULL, NULL), PETSC_ERR_ARG_WRONGSTATE, "No rollout to differentiate");
  WLMTestCall(Rollout(&p, 0.0, 1, times));
  WLMTestCall(WLMDynamicsRolloutAdjoint(p.dyn, NULL, NULL, NULL, NULL, NULL, NULL));
  WLMTestExpectError(WLMDynamicsRolloutAdjoint(p.dyn, NULL, NULL, NULL, NULL, NULL, NULL), PETSC_ERR_ARG_WRONGSTATE, "before each WLMDynamicsRolloutAdjoint()");

  /* every rank passes a bad mass so that all of them fail */
  w[0] = wlm_test_rank ? -0.2 : 0.3;
  WLMTestExpectError(WLMDynamicsRollout(p.dyn, p.n, w, 0.0, p.x0, p.v0, 1, times, p.Xp, NULL), PETSC_ERR_ARG_OUTOFRANGE, wlm_test_rank ? "particle 0 is -0.2" : "particle 1 is -0.2");

  WLMTestCall(WLMDynamicsCreate(PETSC_COMM_WORLD, &bare));
  WLMTestExpectError(WLMDynamicsSetUp(bare), PETSC_ERR_ARG_WRONGSTATE, "No potential");
  WLMTestCall(WLMDynamicsDestroy(&bare));
  ProblemDestroy(&p);
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("dynamics_errors");
  TCase *tc = tcase_create("errors");

  tcase_add_test(tc, test_output_times);
  tcase_add_test(tc, test_friction_and_steps);
  tcase_add_test(tc, test_unsupported_integrators);
  tcase_add_test(tc, test_state_and_masses);
  suite_add_tcase(s, tc);
  return s;
}
