/*
   One optimizer step of data-parallel training over groups of ranks.

   Group g of G = P / R runs rollouts j = g, g + G, ... < B of the step, each
   rank of the group with its share of the particles (ensemble.c), and every
   rank accumulates its share of their gradients; one MPI_Allreduce over all
   ranks sums the gradients together with the loss and the rollout count (both
   added by the first rank of each group only) and the stop flag set by a
   signal; every rank then applies the same AdamW update, so the parameters
   stay identical on all ranks without being broadcast.  With R = 1 this is
   plain data parallelism: rank r runs rollouts r, r + P, ...
*/
#include <wlm/private/trainimpl.h>

/*@
  WLMTrainerApplyParameters - Loads (theta, log gamma) into the potential and the dynamics.

  Not Collective
@*/
PetscErrorCode WLMTrainerApplyParameters(WLMTrainer tr, const PetscReal params[])
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialSetParameters(tr->pot, params));
  PetscCall(WLMDynamicsSetFriction(tr->dyn, tr->learn_friction ? PetscExpReal(params[tr->ntheta]) : tr->friction0));
  PetscFunctionReturn(0);
}

/* Stops with a message that names the step and the likely causes when the loss or gradient is not finite. */
static PetscErrorCode CheckFinite(WLMTrainer tr, PetscReal loss, PetscReal gnorm)
{
  PetscReal gamma;

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerGetFriction(tr, &gamma));
  PetscCheck(!PetscIsInfOrNanReal(loss) && !PetscIsInfOrNanReal(gnorm), PetscObjectComm((PetscObject)tr), PETSC_ERR_FP,
             "Training diverged at step %" PetscInt_FMT " (counting from 1): loss %g, gradient norm %g, friction %g. Lower -wlm_lr (now %g), add -wlm_grad_clip, use more -wlm_substeps when the friction times the time step is large, or raise -wlm_loss_blur; the last checkpoint was kept",
             tr->step + 1, (double)loss, (double)gnorm, (double)gamma, (double)tr->lr);
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerStep - Runs one optimizer step: B rollouts over the groups, one allreduce, one AdamW update.

  Collective
@*/
PetscErrorCode WLMTrainerStep(WLMTrainer tr)
{
  MPI_Comm       comm = PetscObjectComm((PetscObject)tr);
  const PetscInt np   = tr->nparams;
  PetscReal      loss, loss_sum = 0, gnorm;
  PetscInt       count = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMTRAIN_Step, 0, 0, 0, 0));

  PetscCall(WLMTestFailureInject("step"));
  PetscCall(PetscArrayzero(tr->grad, np + 3));
  for (PetscInt j = tr->group; j < tr->batch_rollouts; j += tr->ngroups) {
    PetscCall(WLMTrainerRolloutLoss(tr, tr->step, j, &loss));
    if (tr->group_rank > 0) continue; /* the group's loss is counted once */
    loss_sum += loss;
    count++;
  }
  if (WLMTestFailureRequested("nan")) loss_sum = (PetscReal)NAN; /* test-only: the divergence check after the allreduce must fire on every rank */

  /* one reduction carries the gradient, the loss, the rollout count and the stop flag */
  tr->grad[np]     = loss_sum;
  tr->grad[np + 1] = (PetscReal)count;
  tr->grad[np + 2] = WLMTrainerSignalReceived() ? 1.0 : 0.0;
  PetscCall(PetscLogEventBegin(WLMTRAIN_Allreduce, 0, 0, 0, 0));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, tr->grad, (PetscMPIInt)(np + 3), MPIU_REAL, MPIU_SUM, comm));
  PetscCall(PetscLogEventEnd(WLMTRAIN_Allreduce, 0, 0, 0, 0));
  for (PetscInt i = 0; i < np; i++) tr->grad[i] /= tr->grad[np + 1];
  tr->stop_requested = tr->grad[np + 2] > 0 ? PETSC_TRUE : PETSC_FALSE;

  /* check before updating, so a diverged step changes neither the parameters nor the checkpoint */
  loss  = tr->grad[np] / tr->grad[np + 1];
  gnorm = 0;
  for (PetscInt i = 0; i < np; i++) gnorm += tr->grad[i] * tr->grad[i];
  PetscCall(CheckFinite(tr, loss, PetscSqrtReal(gnorm)));

  /* the update runs identically on every rank */
  PetscCall(WLMAdamWStep(tr->opt, tr->params, tr->grad, &gnorm));
  PetscCall(WLMTrainerCheckParameters(tr));
  PetscCall(WLMTrainerApplyParameters(tr, tr->params));
  tr->last_loss  = loss;
  tr->last_gnorm = gnorm;
  tr->step++;
  PetscCall(PetscLogEventEnd(WLMTRAIN_Step, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
