/*
   Repeated rollouts as a trainer runs them: no memory growth and the same
   TS across rollouts, changes of particle count and horizon, and the views.
   A forward-only rollout gives the same outputs as a recorded one without
   growing the trajectory, and has no adjoint.
   Run with -malloc_debug so that PetscMallocGetCurrentUsage() tracks PETSc's
   allocations.
*/
#include "wlmtest.h"
#include "rolloutcheck.h"
#include "wellpair.h"

static const WLMTestIntegrator verlet = {"wlmverlet", TSWLMVERLET, NULL, WLM_FRICTION_EXACT, 0.05, 1};
static const WLMTestIntegrator rk4    = {"rk 4", TSRK, TSRK4, WLM_FRICTION_EXACT, 0.05, 1};

/* One training step: rollout, loss, adjoint. */
static PetscErrorCode TrainingStep(WLMTestRollout *p, PetscReal *L)
{
  PetscReal g[6], dlg, dx0[22], dv0[22];

  PetscFunctionBeginUser;
  PetscCall(WLMTestRolloutGradient(p, L, g, &dlg, dx0, dv0));
  PetscFunctionReturn(0);
}

/*
   After the first rollouts the memory in use stays constant, and a rollout
   plus its adjoint allocates nothing that outlives it.
*/
static void CheckRepeat(const WLMTestIntegrator *integ)
{
  WLMTestRollout p;
  TS             ts0, ts;
  PetscLogDouble after2, after6, start, peak;
  PetscReal      L;

  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_WORLD, WLMPOTENTIALWELLPAIR, 7, 2, PETSC_TRUE, 41, &p));
  WLMTestCall(WLMTestRolloutConfigure(&p, integ, 0.3));
  WLMTestCall(WLMDynamicsGetTS(p.dyn, &ts0));
  WLMTestCall(TrainingStep(&p, &L));
  WLMTestCall(TrainingStep(&p, &L));
  WLMTestCall(PetscMallocGetCurrentUsage(&after2));
  for (PetscInt k = 0; k < 3; k++) WLMTestCall(TrainingStep(&p, &L));
  WLMTestCall(PetscMallocGetCurrentUsage(&start));
  WLMTestCall(PetscMallocPushMaximumUsage(0));
  WLMTestCall(TrainingStep(&p, &L));
  WLMTestCall(PetscMallocPopMaximumUsage(0, &peak));
  WLMTestCall(PetscMallocGetCurrentUsage(&after6));
  WLMTestCall(WLMDynamicsGetTS(p.dyn, &ts));
  WLMTestCall(PetscPrintf(PETSC_COMM_WORLD, "%-10s memory after 2 training steps %.0f B, after 6 %.0f B, peak above start during step 6: %.0f B\n", integ->name, after2, after6, peak - start));
  ck_assert_msg(ts == ts0, "%s: the rollout replaced the TS", integ->name);
  ck_assert_msg(after6 == after2, "%s: memory grew from %.0f B to %.0f B over 4 training steps", integ->name, after2, after6);
  WLMTestCall(WLMTestRolloutDestroy(&p));
}

START_TEST(test_repeat_no_growth)
{
  CheckRepeat(&verlet);
  CheckRepeat(&rk4);
}
END_TEST

/* Gradient of a fresh object against one that ran other particle counts and horizons before. */
static void CheckReuse(const WLMTestIntegrator *integ)
{
  WLMTestRollout fresh, used, other;
  PetscReal      Lf, Lu, gf[6], gu[6], lgf, lgu, dxf[22], dvf[22], dxu[22], dvu[22];

  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_WORLD, WLMPOTENTIALWELLPAIR, 9, 2, PETSC_TRUE, 51, &fresh));
  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_WORLD, WLMPOTENTIALWELLPAIR, 9, 2, PETSC_TRUE, 51, &used));
  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_WORLD, WLMPOTENTIALWELLPAIR, 5, 2, PETSC_TRUE, 52, &other));
  WLMTestCall(WLMTestRolloutConfigure(&fresh, integ, 0.3));
  WLMTestCall(WLMTestRolloutConfigure(&used, integ, 0.3));

  /* run `used` with 1 output time (7 steps), then with 5 particles and 3 output times, then with 2 output times, then the checked rollout */
  {
    WLMDynamics dyn = used.dyn;

    WLMTestCall(PetscObjectReference((PetscObject)dyn));
    WLMTestCall(WLMDynamicsDestroy(&other.dyn));
    other.dyn = dyn;
    used.nout = 1;
    WLMTestCall(TrainingStep(&used, &Lu));
    WLMTestCall(TrainingStep(&other, &Lu));
    used.nout = 2;
    WLMTestCall(TrainingStep(&used, &Lu));
    used.nout = 3;
  }
  WLMTestCall(WLMTestRolloutGradient(&fresh, &Lf, gf, &lgf, dxf, dvf));
  WLMTestCall(WLMTestRolloutGradient(&used, &Lu, gu, &lgu, dxu, dvu));
  ck_assert_msg(Lf == Lu, "%s: loss %.17g after reuse, %.17g fresh", integ->name, Lu, Lf);
  ck_assert_mem_eq(gf, gu, sizeof(gf));
  ck_assert_msg(lgf == lgu, "%s: dL/dlog gamma %.17g after reuse, %.17g fresh", integ->name, lgu, lgf);
  ck_assert_mem_eq(dxf, dxu, sizeof(PetscReal) * fresh.n * 2);
  ck_assert_mem_eq(dvf, dvu, sizeof(PetscReal) * fresh.n * 2);
  WLMTestCall(WLMTestRolloutDestroy(&other));
  WLMTestCall(WLMTestRolloutDestroy(&fresh));
  WLMTestCall(WLMTestRolloutDestroy(&used));
}

START_TEST(test_reuse_sizes_horizons)
{
  CheckReuse(&verlet);
  CheckReuse(&rk4);
}
END_TEST

/* Switching the integrator of a used object gives the gradient of a fresh object with that integrator. */
static void CheckSwitch(const WLMTestIntegrator *first, const WLMTestIntegrator *second)
{
  WLMTestRollout fresh, used;
  PetscReal      Lf, Lu, gf[6], gu[6], lgf, lgu, dxf[22], dvf[22], dxu[22], dvu[22];

  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_WORLD, WLMPOTENTIALWELLPAIR, 9, 2, PETSC_TRUE, 81, &fresh));
  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_WORLD, WLMPOTENTIALWELLPAIR, 9, 2, PETSC_TRUE, 81, &used));
  WLMTestCall(WLMTestRolloutConfigure(&fresh, second, 0.3));
  WLMTestCall(WLMTestRolloutConfigure(&used, first, 0.3));
  WLMTestCall(TrainingStep(&used, &Lu));
  WLMTestCall(WLMTestRolloutConfigure(&used, second, 0.3));
  WLMTestCall(WLMTestRolloutGradient(&fresh, &Lf, gf, &lgf, dxf, dvf));
  WLMTestCall(WLMTestRolloutGradient(&used, &Lu, gu, &lgu, dxu, dvu));
  ck_assert_msg(Lf == Lu, "%s after %s: loss %.17g, fresh %.17g", second->name, first->name, Lu, Lf);
  ck_assert_mem_eq(gf, gu, sizeof(gf));
  ck_assert_msg(lgf == lgu, "%s after %s: dL/dlog gamma %.17g, fresh %.17g", second->name, first->name, lgu, lgf);
  ck_assert_mem_eq(dxf, dxu, sizeof(PetscReal) * fresh.n * 2);
  ck_assert_mem_eq(dvf, dvu, sizeof(PetscReal) * fresh.n * 2);
  WLMTestCall(WLMTestRolloutDestroy(&fresh));
  WLMTestCall(WLMTestRolloutDestroy(&used));
}

START_TEST(test_switch_integrator)
{
  CheckSwitch(&verlet, &rk4);
  CheckSwitch(&rk4, &verlet);
}
END_TEST

/* Memory allocated by one rollout with nout outputs (forward only or recorded), and its positions at the last output. */
static PetscErrorCode RolloutGrowth(WLMTestRollout *p, PetscBool forward, PetscInt nout, PetscLogDouble *growth, PetscReal xlast[])
{
  PetscLogDouble before, after;
  PetscErrorCode (*rollout)(WLMDynamics, PetscInt, const PetscReal[], PetscReal, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], PetscReal *const[], PetscReal *const[]);

  PetscFunctionBeginUser;
  rollout = forward ? WLMDynamicsRolloutForward : WLMDynamicsRollout;
  PetscCall(PetscMallocGetCurrentUsage(&before));
  PetscCall(rollout(p->dyn, p->n, NULL, p->t0, p->x0 + p->start * p->dim, p->v0 + p->start * p->dim, nout, p->times, p->X, p->V));
  PetscCall(PetscMallocGetCurrentUsage(&after));
  PetscCall(PetscArraycpy(xlast, p->X[nout - 1], p->n * p->dim));
  *growth = after - before;
  PetscFunctionReturn(0);
}

/* After training rollouts of one output, a forward rollout of three outputs allocates (almost) nothing, unlike a recorded one, and gives the same positions. */
START_TEST(test_forward_rollout)
{
  WLMTestRollout p;
  PetscReal      L, xf[22], xr[22];
  PetscLogDouble fwd, rec;

  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_WORLD, WLMPOTENTIALWELLPAIR, 11, 2, PETSC_TRUE, 91, &p));
  WLMTestCall(WLMTestRolloutConfigure(&p, &verlet, 0.3));
  ck_assert_int_ge(p.nout, 3);
  p.nout = 1;
  WLMTestCall(TrainingStep(&p, &L));
  WLMTestCall(RolloutGrowth(&p, PETSC_TRUE, 3, &fwd, xf));
  WLMTestExpectError(WLMDynamicsRolloutAdjoint(p.dyn, (const PetscReal *const *)p.gX, NULL, NULL, NULL, NULL, NULL), PETSC_ERR_ARG_WRONGSTATE, "No rollout to differentiate");
  WLMTestCall(RolloutGrowth(&p, PETSC_FALSE, 3, &rec, xr));
  WLMTestCall(PetscPrintf(PETSC_COMM_WORLD, "a rollout of 3 outputs after rollouts of 1 allocates %.0f B forward only, %.0f B recorded\n", fwd, rec));
  ck_assert_msg(rec > 0 && fwd < rec / 10, "a forward rollout allocated %.0f B, a recorded one %.0f B", fwd, rec);
  ck_assert_mem_eq(xf, xr, sizeof(PetscReal) * p.n * p.dim);
  /* the recorded rollout after the forward one is differentiable */
  p.nout = 3;
  WLMTestCall(TrainingStep(&p, &L));
  WLMTestCall(WLMTestRolloutDestroy(&p));
}
END_TEST

START_TEST(test_views)
{
  WLMTestRollout p;
  PetscViewer    viewer;
  char           text[8192] = "", name[64];
  PetscReal      L;
  FILE          *file;

  WLMTestCall(WLMTestRolloutCreate(PETSC_COMM_WORLD, WLMPOTENTIALWELLPAIR, 5, 2, PETSC_TRUE, 71, &p));
  WLMTestCall(WLMTestRolloutConfigure(&p, &verlet, 0.7));
  WLMTestCall(WLMDynamicsSetFrictionVariant(p.dyn, WLM_FRICTION_REFERENCE));
  WLMTestCall(TrainingStep(&p, &L));
  WLMTestCall(PetscSNPrintf(name, sizeof(name), "dynamics-view-np%d.txt", wlm_test_size));
  WLMTestCall(PetscViewerASCIIOpen(PETSC_COMM_WORLD, name, &viewer));
  WLMTestCall(WLMDynamicsView(p.dyn, viewer));
  WLMTestCall(PetscViewerDestroy(&viewer));
  if (wlm_test_rank == 0) {
    file = fopen(name, "r");
    ck_assert_msg(file != NULL, "cannot open %s", name);
    ck_assert_int_gt((int)fread(text, 1, sizeof(text) - 1, file), 0);
    fclose(file);
    remove(name);
    ck_assert_msg(strstr(text, "friction gamma = 0.7, variant reference"), "view lacks the friction: %s", text);
    ck_assert_msg(strstr(text, "fixed step dt = 0.05"), "view lacks the step rule: %s", text);
    ck_assert_msg(strstr(text, "type: wlmverlet"), "view lacks the TS type: %s", text);
    ck_assert_msg(strstr(text, "damped velocity Verlet"), "view lacks the description of the TS type: %s", text);
  }
  WLMTestCall(WLMTestRolloutDestroy(&p));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("dynamics_lifecycle");
  TCase *tc = tcase_create("lifecycle");

  WLMTestRegisterWellPair();
  tcase_add_test(tc, test_repeat_no_growth);
  tcase_add_test(tc, test_reuse_sizes_horizons);
  tcase_add_test(tc, test_switch_integrator);
  tcase_add_test(tc, test_forward_rollout);
  tcase_add_test(tc, test_views);
  suite_add_tcase(s, tc);
  return s;
}
