/*
   TSWLMVERLET: damped velocity Verlet for the state U = (X, V) of a
   WLMDynamics, with its exact discrete adjoint.

   One step of size dt from (x, v) at time t (coefficients in
   WLMVerletCoefficients; exact variant m = e^{-gamma dt/2}, c1 = dt/2,
   c2 = m dt/2, which is decay, half kick, drift, half kick, decay):

     v_h = m v + c1 a(x, t);   x' = x + dt v_h;   v' = m v_h + c2 a(x', t + dt).

   a(x') is kept for the next step, so a step costs one force evaluation.
   The step stores three stage vectors for the adjoint: Y0 = (x, v),
   Y1 = (x', v_h), Y2 = (a(x), a(x')).

   Reverse of the step, for cotangents (lx', lv') of (x', v') and g the
   cotangent of log(gamma):

     g  += lv' . (dm v_h + dc2 a(x'));          lh = m lv'
     lx' += (da/dx)^T(x') [c2 lv' + p']         (one product, see below)
     lh += dt lx';   g += lh . (dm v + dc1 a(x));   p = c1 lh;   lv = m lh;   lx = lx'.

   p is the cotangent of a(x), which both this step (first kick) and the
   previous step (second kick) use.  Its product is taken together with the
   previous step's one at the same point, so the reverse pass costs one
   force product per step, plus one at x_0 when it reaches step 0.  Between
   adjoint steps p is kept here, so lx at an intermediate step does not yet
   contain the term (da/dx)^T p.  Loss terms that a caller adds there are
   still handled exactly, because the adjoint is linear.
*/
#include <wlm/private/dynamicsimpl.h>
#include <petsc/private/tsimpl.h>

typedef struct {
  Vec        stage[3];     /* Y0 = (x_n, v_n), Y1 = (x_{n+1}, v_h), Y2 = (a_n, a_{n+1}) */
  PetscInt   nd;           /* n dim on this rank */
  PetscReal *accel;        /* acceleration at the current position [nd] */
  WLMVecKey  accel_key;    /* solution state and time that accel belongs to */
  PetscBool  accel_valid;
  PetscReal *pending;      /* cotangent of a(x_n) left by the reverse of step n [nd] */
  PetscInt   pending_step; /* n, or -1 when nothing is pending */
  PetscReal *q, *gradx;    /* reverse-step workspaces [nd] */
} TS_WLMVerlet;

static PetscErrorCode SolutionKey(TS ts, WLMVecKey *key)
{
  PetscFunctionBeginUser;
  PetscCall(PetscObjectGetId((PetscObject)ts->vec_sol, &key->id));
  PetscCall(PetscObjectStateGet((PetscObject)ts->vec_sol, &key->state));
  key->time = ts->ptime;
  PetscFunctionReturn(0);
}

/* Makes vl->accel hold a(x, t) of the current solution, reusing the value from the previous step when the solution is unchanged. */
static PetscErrorCode EnsureAcceleration(TS ts, WLMDynamics dyn, TS_WLMVerlet *vl)
{
  WLMVecKey          key;
  const PetscScalar *u;

  PetscFunctionBeginUser;
  PetscCall(SolutionKey(ts, &key));
  if (vl->accel_valid && key.id == vl->accel_key.id && key.state == vl->accel_key.state && key.time == vl->accel_key.time) PetscFunctionReturn(0);
  PetscCall(VecGetArrayRead(ts->vec_sol, &u));
  PetscCall(WLMDynamicsComputeAcceleration(dyn, ts->ptime, u, vl->accel));
  PetscCall(VecRestoreArrayRead(ts->vec_sol, &u));
  PetscFunctionReturn(0);
}

static PetscErrorCode TSStep_WLMVerlet(TS ts)
{
  TS_WLMVerlet         *vl = (TS_WLMVerlet *)ts->data;
  const PetscInt        nd = vl->nd;
  const PetscReal       dt = ts->time_step, t1 = ts->ptime + ts->time_step;
  WLMDynamics           dyn;
  WLMVerletCoefficients k;
  PetscScalar          *u, *y1, *y2;

  PetscFunctionBeginUser;
  PetscCall(WLMDynamicsGetFromTS(ts, &dyn));
  PetscCall(PetscLogEventBegin(WLMDYNAMICS_Step, ts, 0, 0, 0));
  PetscCall(WLMDynamicsGetVerletCoefficients(dyn, dt, &k));
  PetscCall(EnsureAcceleration(ts, dyn, vl));
  PetscCall(VecCopy(ts->vec_sol, vl->stage[0]));

  /* first half: v_h = m v + c1 a(x), x' = x + dt v_h */
  PetscCall(VecGetArray(ts->vec_sol, &u));
  PetscCall(VecGetArray(vl->stage[1], &y1));
  PetscCall(VecGetArray(vl->stage[2], &y2));
  for (PetscInt i = 0; i < nd; i++) {
    y2[i]     = vl->accel[i];
    u[nd + i] = k.m * u[nd + i] + k.c1 * vl->accel[i];
    u[i]      = u[i] + dt * u[nd + i];
    y1[i]     = u[i];
    y1[nd + i] = u[nd + i];
  }

  /* second half: v' = m v_h + c2 a(x') */
  PetscCall(WLMDynamicsComputeAcceleration(dyn, t1, u, vl->accel));
  for (PetscInt i = 0; i < nd; i++) {
    y2[nd + i] = vl->accel[i];
    u[nd + i]  = k.m * u[nd + i] + k.c2 * vl->accel[i];
  }
  PetscCall(VecRestoreArray(vl->stage[2], &y2));
  PetscCall(VecRestoreArray(vl->stage[1], &y1));
  PetscCall(VecRestoreArray(ts->vec_sol, &u));
  PetscCall(PetscLogFlops(8.0 * nd));

  ts->ptime = t1;
  PetscCall(SolutionKey(ts, &vl->accel_key));
  vl->accel_valid = PETSC_TRUE;
  PetscCall(PetscLogEventEnd(WLMDYNAMICS_Step, ts, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*
   Reverse of the step from U_n to U_{n+1}, n = ts->steps.  On entry ts->ptime
   is t_{n+1}, ts->time_step is -dt and the stages of the step are restored
   by the trajectory.  Updates ts->vecs_sensi[0] to the cotangent of U_n and
   adds this rank's share of the parameter gradient into the local block
   (theta, log gamma) of ts->vecs_sensip[0].
*/
static PetscErrorCode TSAdjointStep_WLMVerlet(TS ts)
{
  TS_WLMVerlet         *vl = (TS_WLMVerlet *)ts->data;
  const PetscInt        nd = vl->nd, step = ts->steps;
  const PetscReal       dt = -ts->time_step, t1 = ts->ptime;
  WLMDynamics           dyn;
  WLMVerletCoefficients k;
  const PetscScalar    *y0, *y1, *y2;
  PetscScalar          *lam, *mu = NULL;
  PetscReal             dloggamma = 0;
  PetscInt              nmu;

  PetscFunctionBeginUser;
  PetscCall(WLMDynamicsGetFromTS(ts, &dyn));
  PetscCheck(ts->numcost == 1, PetscObjectComm((PetscObject)ts), PETSC_ERR_SUP, "TS type %s supports 1 cost gradient, not %" PetscInt_FMT, TSWLMVERLET, ts->numcost);
  PetscCall(PetscLogEventBegin(WLMDYNAMICS_AdjointStep, ts, 0, 0, 0));
  PetscCall(WLMDynamicsGetVerletCoefficients(dyn, dt, &k));
  if (vl->pending_step != step + 1) PetscCall(PetscArrayzero(vl->pending, nd));
  PetscCall(VecGetArrayRead(vl->stage[0], &y0));
  PetscCall(VecGetArrayRead(vl->stage[1], &y1));
  PetscCall(VecGetArrayRead(vl->stage[2], &y2));
  PetscCall(VecGetArray(ts->vecs_sensi[0], &lam));
  if (ts->vecs_sensip) {
    PetscCall(VecGetLocalSize(ts->vecs_sensip[0], &nmu));
    PetscCheck(nmu == dyn->nparam + 1, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "Parameter cotangent has local size %" PetscInt_FMT "; TS type %s needs nparam + 1 = %" PetscInt_FMT " on every rank", nmu, TSWLMVERLET, dyn->nparam + 1);
    PetscCall(VecGetArray(ts->vecs_sensip[0], &mu));
  }

  /* second kick and decay: v' = m v_h + c2 a(x') */
  for (PetscInt i = 0; i < nd; i++) {
    dloggamma += lam[nd + i] * (k.dm * y1[nd + i] + k.dc2 * y2[nd + i]);
    vl->q[i] = k.c2 * lam[nd + i] + vl->pending[i];
    lam[nd + i] *= k.m;
  }
  PetscCall(WLMDynamicsComputeAccelerationProducts(dyn, t1, y1, vl->q, vl->gradx, mu));

  /* drift x' = x + dt v_h, then first kick and decay v_h = m v + c1 a(x) */
  for (PetscInt i = 0; i < nd; i++) {
    lam[i] += vl->gradx[i];
    lam[nd + i] += dt * lam[i];
    dloggamma += lam[nd + i] * (k.dm * y0[nd + i] + k.dc1 * y2[i]);
    vl->pending[i] = k.c1 * lam[nd + i];
    lam[nd + i] *= k.m;
  }
  PetscCall(PetscLogFlops(18.0 * nd));

  /* at step 0 nothing precedes: take the product at x_0 now */
  if (step == 0) {
    PetscCall(WLMDynamicsComputeAccelerationProducts(dyn, t1 - dt, y0, vl->pending, vl->gradx, mu));
    for (PetscInt i = 0; i < nd; i++) lam[i] += vl->gradx[i];
    vl->pending_step = -1;
  } else vl->pending_step = step;

  if (mu) mu[dyn->nparam] += dloggamma;
  if (mu) PetscCall(VecRestoreArray(ts->vecs_sensip[0], &mu));
  PetscCall(VecRestoreArray(ts->vecs_sensi[0], &lam));
  PetscCall(VecRestoreArrayRead(vl->stage[2], &y2));
  PetscCall(VecRestoreArrayRead(vl->stage[1], &y1));
  PetscCall(VecRestoreArrayRead(vl->stage[0], &y0));
  ts->ptime = t1 - dt;
  PetscCall(PetscLogEventEnd(WLMDYNAMICS_AdjointStep, ts, 0, 0, 0));
  PetscFunctionReturn(0);
}

static PetscErrorCode TSGetStages_WLMVerlet(TS ts, PetscInt *ns, Vec *Y[])
{
  TS_WLMVerlet *vl = (TS_WLMVerlet *)ts->data;

  PetscFunctionBeginUser;
  if (ns) *ns = 3;
  if (Y) *Y = vl->stage;
  PetscFunctionReturn(0);
}

static PetscErrorCode TSSetUp_WLMVerlet(TS ts)
{
  TS_WLMVerlet *vl = (TS_WLMVerlet *)ts->data;
  WLMDynamics   dyn;
  PetscInt      nloc;

  PetscFunctionBeginUser;
  PetscCall(WLMDynamicsGetFromTS(ts, &dyn));
  PetscCall(VecGetLocalSize(ts->vec_sol, &nloc));
  PetscCheck(nloc == 2 * dyn->n * dyn->dim, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "Solution has local size %" PetscInt_FMT ", but the WLMDynamics state needs 2 n dim = %" PetscInt_FMT, nloc, 2 * dyn->n * dyn->dim);
  vl->nd = nloc / 2;
  for (PetscInt s = 0; s < 3; s++) PetscCall(VecDuplicate(ts->vec_sol, &vl->stage[s]));
  PetscCall(PetscMalloc4(vl->nd, &vl->accel, vl->nd, &vl->pending, vl->nd, &vl->q, vl->nd, &vl->gradx));
  vl->accel_valid  = PETSC_FALSE;
  vl->pending_step = -1;
  PetscFunctionReturn(0);
}

static PetscErrorCode TSReset_WLMVerlet(TS ts)
{
  TS_WLMVerlet *vl = (TS_WLMVerlet *)ts->data;

  PetscFunctionBeginUser;
  for (PetscInt s = 0; s < 3; s++) PetscCall(VecDestroy(&vl->stage[s]));
  PetscCall(PetscFree4(vl->accel, vl->pending, vl->q, vl->gradx));
  vl->accel_valid  = PETSC_FALSE;
  vl->pending_step = -1;
  PetscFunctionReturn(0);
}

/* Forgets the cached acceleration and any pending cotangent; called before every rollout. */
static PetscErrorCode TSWLMVerletRestart_WLMVerlet(TS ts)
{
  TS_WLMVerlet *vl = (TS_WLMVerlet *)ts->data;

  PetscFunctionBeginUser;
  vl->accel_valid  = PETSC_FALSE;
  vl->pending_step = -1;
  PetscFunctionReturn(0);
}

/* Starts a new rollout on ts; does nothing for TS types other than TSWLMVERLET. */
PetscErrorCode TSWLMVerletRestart(TS ts)
{
  PetscFunctionBeginUser;
  PetscTryMethod(ts, "TSWLMVerletRestart_C", (TS), (ts));
  PetscFunctionReturn(0);
}

static PetscErrorCode TSDestroy_WLMVerlet(TS ts)
{
  PetscFunctionBeginUser;
  PetscCall(TSReset_WLMVerlet(ts));
  PetscCall(PetscObjectComposeFunction((PetscObject)ts, "TSWLMVerletRestart_C", NULL));
  PetscCall(PetscFree(ts->data));
  PetscFunctionReturn(0);
}

static PetscErrorCode TSView_WLMVerlet(TS ts, PetscViewer viewer)
{
  TSRHSFunction func;
  void         *ctx;
  PetscBool     isascii;

  PetscFunctionBeginUser;
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &isascii));
  if (!isascii) PetscFunctionReturn(0);
  PetscCall(TSGetRHSFunction(ts, NULL, &func, &ctx));
  if (func == WLMDynamicsRHSFunction && ctx) {
    WLMDynamics dyn = (WLMDynamics)ctx;

    PetscCall(PetscViewerASCIIPrintf(viewer, "damped velocity Verlet, friction gamma = %g, variant %s\n", (double)dyn->friction, WLMFrictionVariants[dyn->variant]));
  } else PetscCall(PetscViewerASCIIPrintf(viewer, "damped velocity Verlet (not attached to a WLMDynamics)\n"));
  PetscFunctionReturn(0);
}

/*MC
  TSWLMVERLET - "wlmverlet": damped velocity Verlet with exact friction decay and an exact discrete adjoint.

  Notes:
  Integrates only the TS of a WLMDynamics (WLMDynamicsGetTS()), whose state
  is (X, V) and whose friction and variant it reads.  Fixed step, one force
  evaluation per step, three stored stage vectors per step.  The adjoint
  supports one cost gradient; the parameter cotangent must have the layout
  WLMDynamics uses, (theta, log gamma) on every rank.

  Level: intermediate

.seealso: WLMDynamicsCreate(), WLMDynamicsRollout(), WLMDynamicsRolloutAdjoint()
M*/
PetscErrorCode TSCreate_WLMVerlet(TS ts)
{
  TS_WLMVerlet *vl;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&vl));
  vl->pending_step        = -1;
  ts->data                = vl;
  ts->usessnes            = PETSC_FALSE;
  ts->default_adapt_type  = TSADAPTNONE;
  ts->ops->step           = TSStep_WLMVerlet;
  ts->ops->setup          = TSSetUp_WLMVerlet;
  ts->ops->reset          = TSReset_WLMVerlet;
  ts->ops->destroy        = TSDestroy_WLMVerlet;
  ts->ops->view           = TSView_WLMVerlet;
  ts->ops->getstages      = TSGetStages_WLMVerlet;
  ts->ops->adjointstep    = TSAdjointStep_WLMVerlet;
  PetscCall(PetscObjectComposeFunction((PetscObject)ts, "TSWLMVerletRestart_C", TSWLMVerletRestart_WLMVerlet));
  PetscFunctionReturn(0);
}
