/*
   The mechanics in the form PETSc integrates: accelerations and their products from
   the potential, the right-hand side of TSRK and its shell Jacobians.

   With U = (X, V) and s = 1 (exact variant) or 1 + gamma (reference variant),

     f(U)             = (V, -gamma V + s a(X, t)),       a_i = F_i / w_i,
     J^T (lx, lv)     = (s (da/dX)^T lv, lx - gamma lv),
     Jp^T (lx, lv)    = (s (da/dtheta)^T lv,  sum lv . (-gamma V + [reference] gamma a)),

   the last entry being df/dlog(gamma).  (da/dX)^T lv = grad_X((lv / w) . F)
   and (da/dtheta)^T lv = grad_theta((lv / w) . F) are the potential's state
   and parameter products.  Jp maps to a vector whose local block on every
   rank is (theta, log gamma), so each rank accumulates its own share of the
   parameter gradient and no reduction happens per stage.

   PETSc's RK adjoint calls J^T and then Jp^T on the same cotangent at the
   same stage.  One potential product gives both, so the second call takes
   the cached result.
*/
#include <wlm/private/dynamicsimpl.h>

/*
   Returns the WLMDynamics that set up a TS: its right-hand side must be
   WLMDynamicsRHSFunction(), whose context is the object.
*/
PetscErrorCode WLMDynamicsGetFromTS(TS ts, WLMDynamics *dyn)
{
  TSRHSFunction func;
  void         *ctx;

  PetscFunctionBeginUser;
  PetscCall(TSGetRHSFunction(ts, NULL, &func, &ctx));
  PetscCheck(func == WLMDynamicsRHSFunction && ctx, PetscObjectComm((PetscObject)ts), PETSC_ERR_ARG_WRONGSTATE, "This TS was not set up by WLMDynamics; TS type %s integrates only the TS returned by WLMDynamicsGetTS()", TSWLMVERLET);
  *dyn = (WLMDynamics)ctx;
  PetscFunctionReturn(0);
}

/* Step coefficients of both Verlet variants; see the definition of WLMVerletCoefficients. */
PetscErrorCode WLMDynamicsGetVerletCoefficients(WLMDynamics dyn, PetscReal dt, WLMVerletCoefficients *k)
{
  const PetscReal gamma = dyn->friction;

  PetscFunctionBeginUser;
  k->m  = PetscExpReal(-0.5 * gamma * dt);
  k->dm = -0.5 * gamma * dt * k->m;
  if (dyn->variant == WLM_FRICTION_EXACT) {
    k->c1  = 0.5 * dt;
    k->c2  = 0.5 * dt * k->m;
    k->dc1 = 0.0;
    k->dc2 = 0.5 * dt * k->dm;
  } else {
    k->c1  = 0.5 * dt * k->m + (1.0 - k->m);
    k->c2  = k->c1;
    k->dc1 = (0.5 * dt - 1.0) * k->dm;
    k->dc2 = k->dc1;
  }
  PetscFunctionReturn(0);
}

/*
   a = F(x, t) / w for the n particles of this rank; x and a are [n][dim].
   Collective over the potential's communicator.
*/
PetscErrorCode WLMDynamicsComputeAcceleration(WLMDynamics dyn, PetscReal t, const PetscReal x[], PetscReal a[])
{
  const PetscInt dim = dyn->dim;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMDYNAMICS_Force, dyn, 0, 0, 0));
  PetscCall(WLMPotentialComputeForces(dyn->pot, t, dyn->n, x, dyn->uniform ? NULL : dyn->mass, NULL, a));
  for (PetscInt i = 0; i < dyn->n; i++) {
    for (PetscInt k = 0; k < dim; k++) a[i * dim + k] *= dyn->invmass[i];
  }
  PetscCall(PetscLogFlops((PetscLogDouble)dyn->n * dim));
  PetscCall(PetscLogEventEnd(WLMDYNAMICS_Force, dyn, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*
   For a cotangent q on the accelerations at (x, t):
     gradx      = (da/dx)^T q = grad_X((q / w) . F)                [n][dim], overwritten
     gradtheta += this rank's share of (da/dtheta)^T q             [nparam], or NULL
   Collective over the potential's communicator.
*/
PetscErrorCode WLMDynamicsComputeAccelerationProducts(WLMDynamics dyn, PetscReal t, const PetscReal x[], const PetscReal q[], PetscReal gradx[], PetscReal gradtheta[])
{
  const PetscInt dim = dyn->dim;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMDYNAMICS_Products, dyn, 0, 0, 0));
  for (PetscInt i = 0; i < dyn->n; i++) {
    for (PetscInt k = 0; k < dim; k++) dyn->work_lambda[i * dim + k] = q[i * dim + k] * dyn->invmass[i];
  }
  PetscCall(WLMPotentialComputeProducts(dyn->pot, t, dyn->n, x, dyn->uniform ? NULL : dyn->mass, dyn->work_lambda, gradx, gradtheta));
  PetscCall(PetscLogFlops((PetscLogDouble)dyn->n * dim));
  PetscCall(PetscLogEventEnd(WLMDYNAMICS_Products, dyn, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Factor s of the acceleration in dv/dt = -gamma v + s a. */
static PetscReal ForceScale(WLMDynamics dyn)
{
  return dyn->variant == WLM_FRICTION_REFERENCE ? 1.0 + dyn->friction : 1.0;
}

/* f(U) = (V, -gamma V + s a(X, t)); the TS right-hand side, also used by TSWLMVERLET to find its WLMDynamics. */
PetscErrorCode WLMDynamicsRHSFunction(TS ts, PetscReal t, Vec U, Vec F, void *ctx)
{
  WLMDynamics        dyn = (WLMDynamics)ctx;
  const PetscInt     nd  = dyn->n * dyn->dim;
  const PetscReal    gamma = dyn->friction, s = ForceScale(dyn);
  const PetscScalar *u;
  PetscScalar       *f;

  PetscFunctionBeginUser;
  PetscCall(VecGetArrayRead(U, &u));
  PetscCall(VecGetArray(F, &f));
  PetscCall(WLMDynamicsComputeAcceleration(dyn, t, u, f + nd));
  for (PetscInt i = 0; i < nd; i++) {
    f[i]      = u[nd + i];
    f[nd + i] = s * f[nd + i] - gamma * u[nd + i];
  }
  PetscCall(PetscLogFlops(3.0 * nd));
  PetscCall(VecRestoreArray(F, &f));
  PetscCall(VecRestoreArrayRead(U, &u));
  PetscFunctionReturn(0);
}

static PetscErrorCode GetVecKey(Vec v, PetscReal t, WLMVecKey *key)
{
  PetscFunctionBeginUser;
  PetscCall(PetscObjectGetId((PetscObject)v, &key->id));
  PetscCall(PetscObjectStateGet((PetscObject)v, &key->state));
  key->time = t;
  PetscFunctionReturn(0);
}

static PetscBool SameKey(const WLMVecKey *a, const WLMVecKey *b)
{
  return (PetscBool)(a->id == b->id && a->state == b->state && a->time == b->time);
}

/* Records the state at which the shell Jacobians apply; a new state invalidates the product cache. */
static PetscErrorCode RecordJacobianPoint(WLMDynamics dyn, PetscReal t, Vec U)
{
  WLMVecKey key;

  PetscFunctionBeginUser;
  PetscCall(GetVecKey(U, t, &key));
  if (dyn->jac_generation > 0 && SameKey(&key, &dyn->jac_key)) PetscFunctionReturn(0);
  PetscCall(VecCopy(U, dyn->jac_point));
  dyn->jac_key = key;
  dyn->jac_generation++;
  PetscFunctionReturn(0);
}

/* TSRHSJacobian callback: the shell only needs the point. */
PetscErrorCode WLMDynamicsRHSJacobian(TS ts, PetscReal t, Vec U, Mat A, Mat B, void *ctx)
{
  PetscFunctionBeginUser;
  PetscCall(RecordJacobianPoint((WLMDynamics)ctx, t, U));
  PetscFunctionReturn(0);
}

/* TSRHSJacobianP callback: the shell only needs the point. */
PetscErrorCode WLMDynamicsRHSJacobianP(TS ts, PetscReal t, Vec U, Mat A, void *ctx)
{
  PetscFunctionBeginUser;
  PetscCall(RecordJacobianPoint((WLMDynamics)ctx, t, U));
  PetscFunctionReturn(0);
}

/*
   Fills the product cache for the cotangent L at the recorded point:
   cache_gradx = s (da/dX)^T lv and cache_gradtheta = this rank's share of s (da/dtheta)^T lv.
*/
static PetscErrorCode UpdateProductCache(WLMDynamics dyn, Vec L)
{
  const PetscInt     nd = dyn->n * dyn->dim;
  const PetscReal    s  = ForceScale(dyn);
  const PetscScalar *l, *p;
  WLMVecKey          key;

  PetscFunctionBeginUser;
  PetscCall(GetVecKey(L, dyn->jac_key.time, &key));
  if (dyn->cache_generation == dyn->jac_generation && SameKey(&key, &dyn->cache_key)) PetscFunctionReturn(0);
  PetscCall(VecGetArrayRead(L, &l));
  PetscCall(VecGetArrayRead(dyn->jac_point, &p));
  for (PetscInt i = 0; i < nd; i++) dyn->work_force[i] = s * l[nd + i];
  PetscCall(PetscArrayzero(dyn->cache_gradtheta, dyn->nparam));
  PetscCall(WLMDynamicsComputeAccelerationProducts(dyn, dyn->jac_key.time, p, dyn->work_force, dyn->cache_gradx, dyn->cache_gradtheta));
  PetscCall(VecRestoreArrayRead(dyn->jac_point, &p));
  PetscCall(VecRestoreArrayRead(L, &l));
  dyn->cache_key        = key;
  dyn->cache_generation = dyn->jac_generation;
  PetscFunctionReturn(0);
}

/* y = J^T l = (s (da/dX)^T lv, lx - gamma lv) */
static PetscErrorCode MatMultTranspose_WLMJacobian(Mat J, Vec L, Vec Y)
{
  WLMDynamics        dyn;
  PetscInt           nd;
  const PetscScalar *l;
  PetscScalar       *y;

  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(J, &dyn));
  nd = dyn->n * dyn->dim;
  PetscCall(UpdateProductCache(dyn, L));
  PetscCall(VecGetArrayRead(L, &l));
  PetscCall(VecGetArray(Y, &y));
  for (PetscInt i = 0; i < nd; i++) {
    y[i]      = dyn->cache_gradx[i];
    y[nd + i] = l[i] - dyn->friction * l[nd + i];
  }
  PetscCall(PetscLogFlops(2.0 * nd));
  PetscCall(VecRestoreArray(Y, &y));
  PetscCall(VecRestoreArrayRead(L, &l));
  PetscFunctionReturn(0);
}

/* y = J d = (dv, s (da/dX) dx - gamma dv), with (da/dX) dx = grad_X(dx . F) / w (the Hessian is symmetric); for PETSc's Jacobian tests. */
static PetscErrorCode MatMult_WLMJacobian(Mat J, Vec D, Vec Y)
{
  WLMDynamics        dyn;
  PetscInt           nd, dim;
  const PetscReal    *p;
  const PetscScalar *d;
  PetscScalar       *y;
  PetscReal          s;

  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(J, &dyn));
  nd  = dyn->n * dyn->dim;
  dim = dyn->dim;
  s   = ForceScale(dyn);
  PetscCall(VecGetArrayRead(D, &d));
  PetscCall(VecGetArrayRead(dyn->jac_point, &p));
  PetscCall(VecGetArray(Y, &y));
  PetscCall(PetscLogEventBegin(WLMDYNAMICS_Products, dyn, 0, 0, 0));
  PetscCall(WLMPotentialComputeProducts(dyn->pot, dyn->jac_key.time, dyn->n, p, dyn->uniform ? NULL : dyn->mass, d, dyn->work_force, NULL));
  PetscCall(PetscLogEventEnd(WLMDYNAMICS_Products, dyn, 0, 0, 0));
  for (PetscInt i = 0; i < dyn->n; i++) {
    for (PetscInt k = 0; k < dim; k++) {
      const PetscInt j = i * dim + k;

      y[j]      = d[nd + j];
      y[nd + j] = s * dyn->invmass[i] * dyn->work_force[j] - dyn->friction * d[nd + j];
    }
  }
  PetscCall(PetscLogFlops(4.0 * nd));
  PetscCall(VecRestoreArray(Y, &y));
  PetscCall(VecRestoreArrayRead(dyn->jac_point, &p));
  PetscCall(VecRestoreArrayRead(D, &d));
  PetscFunctionReturn(0);
}

/*
   y = Jp^T l, local block (theta share, log gamma share):
     y_theta = s (da/dtheta)^T lv,   y_loggamma = sum lv . (-gamma v + [reference] gamma a).
   The reference variant evaluates the force at the point once more for the last term.
*/
static PetscErrorCode MatMultTranspose_WLMJacobianP(Mat Jp, Vec L, Vec Y)
{
  WLMDynamics        dyn;
  PetscInt           nd;
  const PetscScalar *l, *p;
  PetscScalar       *y;
  PetscReal          dloggamma = 0;

  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(Jp, &dyn));
  nd = dyn->n * dyn->dim;
  PetscCall(UpdateProductCache(dyn, L));
  PetscCall(VecGetArrayRead(L, &l));
  PetscCall(VecGetArrayRead(dyn->jac_point, &p));
  if (dyn->variant == WLM_FRICTION_REFERENCE) {
    PetscCall(WLMDynamicsComputeAcceleration(dyn, dyn->jac_key.time, p, dyn->work_force));
    for (PetscInt i = 0; i < nd; i++) dloggamma += l[nd + i] * (dyn->work_force[i] - p[nd + i]);
  } else {
    for (PetscInt i = 0; i < nd; i++) dloggamma -= l[nd + i] * p[nd + i];
  }
  PetscCall(PetscLogFlops(3.0 * nd));
  PetscCall(VecGetArray(Y, &y));
  PetscCall(PetscArraycpy(y, dyn->cache_gradtheta, dyn->nparam));
  y[dyn->nparam] = dyn->friction * dloggamma;
  PetscCall(VecRestoreArray(Y, &y));
  PetscCall(VecRestoreArrayRead(dyn->jac_point, &p));
  PetscCall(VecRestoreArrayRead(L, &l));
  PetscFunctionReturn(0);
}

/* Creates the shells J (2 n dim square) and Jp (2 n dim by nparam + 1 local columns) for the current sizes. */
PetscErrorCode WLMDynamicsCreateShellJacobians(WLMDynamics dyn)
{
  MPI_Comm       comm = PetscObjectComm((PetscObject)dyn);
  const PetscInt nloc = 2 * dyn->n * dyn->dim;

  PetscFunctionBeginUser;
  PetscCall(MatCreateShell(comm, nloc, nloc, PETSC_DETERMINE, PETSC_DETERMINE, dyn, &dyn->J));
  PetscCall(MatShellSetOperation(dyn->J, MATOP_MULT, (void (*)(void))MatMult_WLMJacobian));
  PetscCall(MatShellSetOperation(dyn->J, MATOP_MULT_TRANSPOSE, (void (*)(void))MatMultTranspose_WLMJacobian));
  PetscCall(MatCreateShell(comm, nloc, dyn->nparam + 1, PETSC_DETERMINE, PETSC_DETERMINE, dyn, &dyn->Jp));
  PetscCall(MatShellSetOperation(dyn->Jp, MATOP_MULT_TRANSPOSE, (void (*)(void))MatMultTranspose_WLMJacobianP));
  dyn->jac_generation   = 0;
  dyn->cache_generation = -1;
  PetscFunctionReturn(0);
}
