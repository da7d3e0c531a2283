/*
   Divergence guards applied after every optimizer update.  The loss and the
   gradient are checked before the update (step.c); this file checks what the
   update produced: every parameter finite and the friction gamma = exp(log
   gamma) at most -wlm_friction_max.  A friction that runs away makes
   dv/dt = -gamma v stiff, so the explicit integrator becomes unstable once
   gamma dt exceeds about 2 (dt = snapshot interval / -wlm_substeps).

   Both checks run on every rank with the same replicated parameters, so every
   rank raises the same collective error and no rank waits for another.  The
   error stops the run before the next checkpoint, so the checkpoint on disk
   is the last one written before divergence.
*/
#include <wlm/private/trainimpl.h>

/* Largest integration step of a training rollout: -ts_dt when set, else the longest training interval divided by -wlm_substeps. */
static PetscErrorCode GetLargestTimeStep(WLMTrainer tr, PetscReal *dt)
{
  PetscInt substeps;

  PetscFunctionBeginUser;
  PetscCall(WLMDynamicsGetTimeStep(tr->dyn, dt));
  if (*dt > 0) PetscFunctionReturn(0);
  PetscCall(WLMDynamicsGetSubsteps(tr->dyn, &substeps));
  for (PetscInt i = 0; i + 1 < tr->ntrain; i++) *dt = PetscMax(*dt, (tr->times[tr->train[i + 1]] - tr->times[tr->train[i]]) / substeps);
  PetscFunctionReturn(0);
}

/*@C
  WLMTrainerCheckParameters - Stops training when the update made a parameter non-finite or the friction too large.

  Collective
@*/
PetscErrorCode WLMTrainerCheckParameters(WLMTrainer tr)
{
  MPI_Comm  comm = PetscObjectComm((PetscObject)tr);
  PetscReal gamma, dt;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < tr->ntheta; i++) {
    PetscCheck(!PetscIsInfOrNanReal(tr->params[i]), comm, PETSC_ERR_FP,
               "Training diverged at step %" PetscInt_FMT " (counting from 1): potential parameter %" PetscInt_FMT " of %" PetscInt_FMT " is %g after the update. Lower -wlm_lr (now %g) or add -wlm_grad_clip; the last checkpoint was kept",
               tr->step + 1, i, tr->ntheta, (double)tr->params[i], (double)tr->lr);
  }
  if (!tr->learn_friction) PetscFunctionReturn(0);

  gamma = PetscExpReal(tr->params[tr->ntheta]);
  PetscCall(GetLargestTimeStep(tr, &dt));
  PetscCheck(!PetscIsInfOrNanReal(gamma) && gamma <= tr->friction_max, comm, PETSC_ERR_FP,
             "Training diverged at step %" PetscInt_FMT " (counting from 1): the learned friction is %g, above -wlm_friction_max %g (friction times the largest time step is %g). Lower -wlm_lr_friction (now %g), use more -wlm_substeps, or raise -wlm_friction_max if such a friction is plausible; the last checkpoint was kept",
             tr->step + 1, (double)gamma, (double)tr->friction_max, (double)(gamma * dt), (double)tr->lr_friction);
  PetscFunctionReturn(0);
}
