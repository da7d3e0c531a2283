/*
   Optimal-transport estimate of initial velocities.

   For an allowed snapshot s with a next allowed snapshot s', the entropic
   optimal transport plan P between the clouds of s and s' (squared Euclidean
   cost, blur eps^(1/2)) gives the barycentric projection

     T(x_i) = sum_j P_ij y_j / sum_j P_ij,        v_i = (T(x_i) - x_i) / (t_s' - t_s).

   The last allowed snapshot has no next one and uses the previous snapshot
   s'' instead: v_i = (x_i - T(x_i)) / (t_s - t_s''), T mapping to s''.
*/
#include <wlm/private/velocityimpl.h>
#include <wlm/wlmloss.h>

typedef struct {
  WLMLoss   loss; /* Sinkhorn solver with p = 2 */
  PetscReal blur; /* 0 for the loss module's estimate */
} VelocityOT;

PetscErrorCode WLMVelocitySetFromOptions_OT(WLMVelocity vel, PetscOptionItems *PetscOptionsObject)
{
  VelocityOT *ot;

  PetscFunctionBeginUser;
  if (!vel->ot) PetscCall(PetscNew((VelocityOT **)&vel->ot));
  ot = (VelocityOT *)vel->ot;
  PetscOptionsHeadBegin(PetscOptionsObject, "Optimal-transport velocity estimate");
  PetscCall(PetscOptionsReal("-wlm_velocity_ot_blur", "Blur of the entropic plan, in units of position (0: 0.01 times the median pairwise distance)", "", ot->blur, &ot->blur, NULL));
  PetscOptionsHeadEnd();
  PetscFunctionReturn(0);
}

/* Creates the Sinkhorn solver of the OT maps once; the dice estimator uses it too. */
PetscErrorCode WLMVelocitySetUp_OT(WLMVelocity vel)
{
  VelocityOT *ot;

  PetscFunctionBeginUser;
  if (!vel->ot) PetscCall(PetscNew((VelocityOT **)&vel->ot));
  ot = (VelocityOT *)vel->ot;
  if (ot->loss) PetscFunctionReturn(0);
  PetscCheck(ot->blur >= 0, PetscObjectComm((PetscObject)vel), PETSC_ERR_ARG_OUTOFRANGE, "-wlm_velocity_ot_blur %g is negative", (double)ot->blur);
  PetscCall(WLMLossCreate(PETSC_COMM_SELF, &ot->loss));
  PetscCall(WLMLossSetType(ot->loss, WLMLOSSSINKHORN));
  PetscCall(WLMLossSetDimension(ot->loss, vel->dim));
  PetscCall(WLMLossSetExponent(ot->loss, 2));
  PetscFunctionReturn(0);
}

/*
   The default blur is 0.01 times the median pairwise distance (the loss
   module's estimate is 0.5 times it).  Displacements between snapshots are
   often a few percent of the cloud's spread, and a blur of that size already
   pulls the barycentric map toward local means; the log-domain Sinkhorn
   with annealing stays stable at this scale.
*/
static PetscErrorCode SetBlur(WLMVelocity vel, const WLMSnapshot *snap)
{
  VelocityOT *ot = (VelocityOT *)vel->ot;
  PetscReal   blur;

  PetscFunctionBeginUser;
  if (ot->blur > 0) blur = ot->blur;
  else {
    PetscCall(WLMLossEstimateBlur(PETSC_COMM_SELF, vel->dim, snap->N, snap->x, 1000, 0, &blur));
    blur *= 0.02;
  }
  PetscCall(WLMLossSetBlur(ot->loss, blur));
  PetscCall(WLMLossSetUp(ot->loss));
  PetscFunctionReturn(0);
}

/*@
  WLMVelocityTransportMap - Computes T(x_i), the barycentric projection of the entropic OT plan from snapshot s to snapshot other.

  Input Parameters:
+ vel   - the velocity source
. s     - snapshot of the particles x_i
- other - target snapshot

  Output Parameter:
. T - T(x_i) for every particle of s [N_s][dim]
@*/
PetscErrorCode WLMVelocityTransportMap(WLMVelocity vel, PetscInt s, PetscInt other, PetscReal T[])
{
  VelocityOT *ot;
  WLMSnapshot a, b;

  PetscFunctionBeginUser;
  PetscCall(WLMVelocitySetUp_OT(vel));
  ot = (VelocityOT *)vel->ot;
  PetscCall(WLMSnapshotsGetSnapshot(vel->snaps, s, &a));
  PetscCall(WLMSnapshotsGetSnapshot(vel->snaps, other, &b));
  PetscCall(SetBlur(vel, &a));
  PetscCall(WLMLossSinkhornTransportMap(ot->loss, a.N, a.x, NULL, b.N, b.x, NULL, T));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMVelocityCompute_OT(WLMVelocity vel, PetscInt s, PetscReal v[])
{
  const PetscInt  pos = WLMVelocityAllowedPosition(vel, s);
  const PetscBool last = (PetscBool)(pos == vel->nallowed - 1);
  const PetscInt  other = last ? vel->allowed[pos - 1] : vel->allowed[pos + 1];
  WLMSnapshot     a, b;
  PetscReal       dt;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetSnapshot(vel->snaps, s, &a));
  PetscCall(WLMSnapshotsGetSnapshot(vel->snaps, other, &b));
  PetscCall(WLMVelocityTransportMap(vel, s, other, v));

  /* v currently holds T(x); turn it into a finite-difference velocity */
  dt = b.t - a.t;
  for (PetscInt k = 0; k < a.N * vel->dim; k++) v[k] = (v[k] - a.x[k]) / dt;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMVelocityReset_OT(WLMVelocity vel)
{
  VelocityOT *ot = (VelocityOT *)vel->ot;

  PetscFunctionBeginUser;
  if (!ot) PetscFunctionReturn(0);
  PetscCall(WLMLossDestroy(&ot->loss));
  PetscCall(PetscFree(vel->ot));
  PetscFunctionReturn(0);
}
