/*
   One training rollout: its random choices, its loss and its gradient.

   Rollout j of step n draws, from a stream seeded by (seed, n B + j):
     k   horizon, uniform in min(kmin, cap(n))..cap(n), the cap growing
         linearly over the ramp;
     p   start position among the training snapshots: 0 with -wlm_rollout_start
         first, uniform in 0..K-k with any (K + 1 training snapshots);
     the particle subsample of the start snapshot and of each target.
   It integrates from training snapshot train[p] to the times of train[p+1..p+k]
   and adds the gradient of

     L = 1/k sum_{m=1..k} S(X_m, Y_m)

   with respect to (theta, log gamma) to the trainer's gradient buffer.  With
   -wlm_loss_particles L, S compares L predicted particles, those at the
   evenly spaced positions floor(s n / L), s < L, of the randomly ordered
   rollout population, with L particles drawn from each target; the other
   particles still move and interact but get no cotangent.

   The ranks of a group make the same draws and each keeps its block of rows
   of the start cloud and of every target (ensemble.c), so its gradient is its
   share of the rollout's gradient.  The draws are global row indices; the
   rows come from WLMTrainerFetchRows(), a copy with replicated data and an
   exchange within the group with sharded data (distribution.c), so the
   rollout is the same for every distribution.
*/
#include <wlm/private/trainimpl.h>

/* Cap on the horizon at 0-based step n: grows linearly from 1 to horizon_max over horizon_ramp steps. */
static PetscInt HorizonCap(WLMTrainer tr, PetscInt n)
{
  PetscReal frac;

  if (tr->horizon_ramp <= 0) return tr->horizon_max;
  frac = PetscMin(1.0, (PetscReal)(n + 1) / (PetscReal)tr->horizon_ramp);
  return PetscMax(1, (PetscInt)PetscCeilReal(frac * tr->horizon_max - 1e-9));
}

/*
  Draws the start snapshot, horizon and particles.  Fills this rank's share of x0, vstart and the
  targets Y, the share sizes nout and ny, and the rollout times.  nall is the rollout's particle
  count and first the index of this rank's first particle.
*/
static PetscErrorCode DrawRollout(WLMTrainer tr, WLMRandom *r, PetscInt step, PetscInt *nout, PetscInt *nall, PetscInt *first, PetscInt *kout, PetscInt *sout)
{
  const PetscInt cap = HorizonCap(tr, step);
  const PetscInt low = PetscMin(tr->horizon_min, cap);
  PetscInt       k, p, s, n, lo, hi;
  WLMSnapshot    snap;

  PetscFunctionBeginUser;
  k = low + WLMRandomInteger(r, cap - low + 1);
  p = tr->start == WLM_ROLLOUT_START_FIRST ? 0 : WLMRandomInteger(r, tr->ntrain - k);
  s = tr->train[p];

  PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &snap));
  n = tr->batch_particles > 0 ? PetscMin(tr->batch_particles, snap.N) : snap.N;
  WLMRandomSample(r, snap.N, n, tr->perm);
  WLMTrainerShareRange(tr, n, &lo, &hi);
  PetscCall(WLMTrainerFetchStartRows(tr, s, hi - lo, tr->perm + lo, tr->x0, tr->vstart));
  *nout  = hi - lo;
  *nall  = n;
  *first = lo;

  for (PetscInt m = 0; m < k; m++) {
    const PetscInt target = tr->train[p + 1 + m];
    PetscInt       ny;

    PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, target, &snap));
    ny                   = tr->batch_particles > 0 ? PetscMin(tr->batch_particles, snap.N) : snap.N;
    if (tr->loss_particles > 0) ny = PetscMin(tr->loss_particles, snap.N);
    tr->rollout_times[m] = tr->times[target];
    WLMRandomSample(r, snap.N, ny, tr->perm);
    WLMTrainerShareRange(tr, ny, &lo, &hi);
    PetscCall(WLMTrainerFetchRows(tr, target, hi - lo, tr->perm + lo, tr->Y[m]));
    tr->ny[m] = hi - lo;
  }
  *kout = k;
  *sout = s;
  PetscFunctionReturn(0);
}

/*
  Loss of prediction X [n][dim] (this rank's rows from global row first on, of nall) against target m, with its gradient in dX.
  With -wlm_loss_particles L < nall, only the rows floor(s nall / L) enter the loss and the others get a zero gradient.
*/
static PetscErrorCode SubsampleLoss(WLMTrainer tr, PetscInt m, PetscInt n, PetscInt nall, PetscInt first, PetscReal *value)
{
  const PetscInt dim = tr->dim, L = tr->loss_particles;
  PetscInt       c = 0, s0;

  PetscFunctionBeginUser;
  if (L <= 0 || L >= nall) {
    PetscCall(WLMLossCompute(tr->loss, n, tr->X[m], NULL, tr->ny[m], tr->Y[m], NULL, value, tr->dX[m]));
    PetscFunctionReturn(0);
  }
  /* first sample whose row is on this rank: the least s with s nall / L >= first */
  s0 = (PetscInt)(((PetscInt64)first * L + nall - 1) / nall);
  for (PetscInt s = s0; s < L; s++) {
    const PetscInt i = (PetscInt)((PetscInt64)s * nall / L) - first;

    if (i >= n) break;
    PetscCall(PetscArraycpy(tr->xsel + c * dim, tr->X[m] + i * dim, dim));
    c++;
  }
  PetscCall(WLMLossCompute(tr->loss, c, tr->xsel, NULL, tr->ny[m], tr->Y[m], NULL, value, tr->gsel));
  PetscCall(PetscArrayzero(tr->dX[m], n * dim));
  c = 0;
  for (PetscInt s = s0; s < L; s++) {
    const PetscInt i = (PetscInt)((PetscInt64)s * nall / L) - first;

    if (i >= n) break;
    PetscCall(PetscArraycpy(tr->dX[m] + i * dim, tr->gsel + c * dim, dim));
    c++;
  }
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerRolloutLoss - Runs rollout j of a step, adds its gradient to the buffer and returns its loss.

  Collective over the trainer's group: its ranks share the rollout's particles.

  Input Parameters:
+ tr   - the trainer, with the parameters of this step applied
. step - 0-based optimizer step
- j    - rollout index within the step, 0..B-1

  Output Parameter:
. loss - L of this rollout, the same on every rank of the group
@*/
PetscErrorCode WLMTrainerRolloutLoss(WLMTrainer tr, PetscInt step, PetscInt j, PetscReal *loss)
{
  WLMRandom r;
  PetscInt  n = 0, nall = 0, first = 0, k = 0, s = 0;
  PetscReal value;

  PetscFunctionBeginUser;
  WLMRandomSeed(&r, (uint64_t)tr->seed, (uint64_t)step * (uint64_t)tr->batch_rollouts + (uint64_t)j);
  /* fresh random batches of a meanfield potential for every rollout, without drawing from r */
  PetscCall(WLMPotentialMeanfieldSetBatchSeed(tr->pot, WLMRandomMix64(WLMRandomMix64((uint64_t)tr->seed) ^ ((uint64_t)step * (uint64_t)tr->batch_rollouts + (uint64_t)j))));
  PetscCall(DrawRollout(tr, &r, step, &n, &nall, &first, &k, &s));

  PetscCall(PetscLogEventBegin(WLMTRAIN_Rollout, 0, 0, 0, 0));
  PetscCall(WLMDynamicsRollout(tr->dyn, n, NULL, tr->times[s], tr->x0, tr->vstart, k, tr->rollout_times, tr->X, NULL));
  PetscCall(PetscLogEventEnd(WLMTRAIN_Rollout, 0, 0, 0, 0));

  /* loss and its gradient at each observation time; the 1/k average is folded into dX */
  *loss = 0;
  PetscCall(PetscLogEventBegin(WLMTRAIN_Loss, 0, 0, 0, 0));
  for (PetscInt m = 0; m < k; m++) {
    PetscCall(SubsampleLoss(tr, m, n, nall, first, &value));
    for (PetscInt i = 0; i < n * tr->dim; i++) tr->dX[m][i] /= k;
    *loss += value / k;
  }
  PetscCall(PetscLogEventEnd(WLMTRAIN_Loss, 0, 0, 0, 0));

  PetscCall(PetscLogEventBegin(WLMTRAIN_Adjoint, 0, 0, 0, 0));
  PetscCall(WLMDynamicsRolloutAdjoint(tr->dyn, (const PetscReal *const *)tr->dX, NULL, tr->rollout_grad, &tr->rollout_grad[tr->ntheta], NULL, NULL));
  PetscCall(PetscLogEventEnd(WLMTRAIN_Adjoint, 0, 0, 0, 0));
  for (PetscInt i = 0; i < tr->nparams; i++) tr->grad[i] += tr->rollout_grad[i];
  PetscFunctionReturn(0);
}
