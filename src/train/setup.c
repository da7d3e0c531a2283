/*
   WLMTrainer set-up: load the snapshots (replicated on every rank, or
   sharded over each group, see distribution.c), split them by protocol,
   check every option before any work, and build the potential, dynamics,
   loss and velocity source with their workspaces.
*/
#include <wlm/private/trainimpl.h>

/* Rejects impossible option values with a message that names the option. */
static PetscErrorCode CheckOptions(WLMTrainer tr)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject)tr);
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(tr->data_file[0], comm, PETSC_ERR_USER_INPUT, "No snapshot file; pass -wlm_data FILE (convert data with tools/wlm-convert or generate it with wlm_generate)");
  PetscCheck(tr->steps >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_steps %" PetscInt_FMT " is negative", tr->steps);
  PetscCheck(tr->lr > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_lr %g is invalid; the learning rate must be positive", (double)tr->lr);
  PetscCheck(tr->lr_friction >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_lr_friction %g is negative", (double)tr->lr_friction);
  PetscCheck(tr->weight_decay >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_weight_decay %g is negative", (double)tr->weight_decay);
  PetscCheck(tr->opt->beta1 >= 0 && tr->opt->beta1 < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_adam_beta1 %g is invalid; use a value in [0, 1)", (double)tr->opt->beta1);
  PetscCheck(tr->opt->beta2 >= 0 && tr->opt->beta2 < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_adam_beta2 %g is invalid; use a value in [0, 1)", (double)tr->opt->beta2);
  PetscCheck(tr->opt->eps > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_adam_eps %g is invalid; use a positive value", (double)tr->opt->eps);
  PetscCheck(tr->opt->clip >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_grad_clip %g is negative", (double)tr->opt->clip);
  PetscCheck(tr->opt->ema_decay >= 0 && tr->opt->ema_decay < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_ema_decay %g is invalid; use a value in [0, 1)", (double)tr->opt->ema_decay);
  PetscCheck(tr->opt->warmup >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_lr_warmup %" PetscInt_FMT " is negative", tr->opt->warmup);
  PetscCheck(tr->opt->lr_min_ratio >= 0 && tr->opt->lr_min_ratio <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_lr_min_ratio %g is invalid; use a value in [0, 1]", (double)tr->opt->lr_min_ratio);
  if (tr->ngroups == size) PetscCheck(tr->batch_rollouts >= 1 && tr->batch_rollouts % size == 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_batch_rollouts %" PetscInt_FMT " is invalid with %d ranks; use a positive multiple of the rank count", tr->batch_rollouts, size);
  else PetscCheck(tr->batch_rollouts >= 1 && tr->batch_rollouts % tr->ngroups == 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_batch_rollouts %" PetscInt_FMT " is invalid with %d groups of -wlm_ensemble_ranks %d; use a positive multiple of the group count", tr->batch_rollouts, tr->ngroups, tr->group_size);
  PetscCheck(tr->eval_particles >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_eval_particles %" PetscInt_FMT " is negative; use 0 for all particles", tr->eval_particles);
  PetscCheck(tr->loss_particles >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_loss_particles %" PetscInt_FMT " is negative; use 0 for all particles", tr->loss_particles);
  PetscCheck(tr->batch_particles >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_batch_particles %" PetscInt_FMT " is negative; use 0 for all particles", tr->batch_particles);
  PetscCheck(tr->horizon_ramp >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_horizon_ramp %" PetscInt_FMT " is negative", tr->horizon_ramp);
  PetscCheck(tr->eval_every >= 0 && tr->log_every >= 0 && tr->checkpoint_every >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wlm_eval_every, -wlm_log_every and -wlm_checkpoint_every must not be negative");
  PetscFunctionReturn(0);
}

/* Loads the snapshot file: every rank stores every particle, or each group stores one copy split into the blocks of its ranks. */
static PetscErrorCode LoadData(WLMTrainer tr)
{
  WLMSnapshot snap;

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerResolveDataDistribution(tr));
  PetscCall(WLMSnapshotsCreate(tr->sharded ? tr->group_comm : PetscObjectComm((PetscObject)tr), &tr->snaps));
  PetscCall(WLMSnapshotsSetDistribution(tr->snaps, tr->sharded ? WLM_SNAPSHOTS_SHARDED : WLM_SNAPSHOTS_REPLICATED));
  PetscCall(WLMSnapshotsLoad(tr->snaps, tr->data_file));
  PetscCall(WLMSnapshotsGetNumSnapshots(tr->snaps, &tr->nsnap));
  PetscCall(WLMSnapshotsGetDimension(tr->snaps, &tr->dim));
  PetscCall(WLMSnapshotsGetTimes(tr->snaps, &tr->times));
  tr->max_count = 0;
  for (PetscInt s = 0; s < tr->nsnap; s++) {
    PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &snap));
    tr->max_count = PetscMax(tr->max_count, snap.N);
  }
  PetscFunctionReturn(0);
}

/*
  Sets the blur to the mean of the per-snapshot estimates over the training snapshots, unless the user gave one.
  The estimate's sample is drawn over global row indices, so sharded data (each group's ranks
  passing their blocks) gives the same sample and the same blur.
*/
static PetscErrorCode SetDefaultBlur(WLMTrainer tr)
{
  PetscBool   set;
  PetscReal   sum = 0, blur;
  WLMSnapshot snap;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsHasName(((PetscObject)tr->loss)->options, ((PetscObject)tr->loss)->prefix, "-wlm_loss_blur", &set));
  if (set) PetscFunctionReturn(0);
  for (PetscInt i = 0; i < tr->ntrain; i++) {
    PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, tr->train[i], &snap));
    PetscCall(WLMLossEstimateBlur(tr->sharded ? tr->group_comm : PETSC_COMM_SELF, tr->dim, snap.n, snap.x, 1000, (uint64_t)tr->seed, &blur));
    sum += blur;
  }
  PetscCall(WLMLossSetBlur(tr->loss, sum / tr->ntrain));
  PetscFunctionReturn(0);
}

/*
  Initial velocities of this rank's rows of every training snapshot, from training snapshots only.
  The estimators ot and dice need whole snapshots, so sharded data over more than one rank rejects them.
*/
static PetscErrorCode ComputeStartVelocities(WLMTrainer tr)
{
  WLMSnapshot       snap;
  WLMVelocitySource source;

  PetscFunctionBeginUser;
  PetscCall(WLMVelocityCreate(PETSC_COMM_SELF, &tr->vel));
  PetscCall(WLMVelocitySetSnapshots(tr->vel, tr->snaps, tr->ntrain, tr->train));
  PetscCall(WLMVelocitySetFromOptions(tr->vel));
  PetscCall(WLMVelocityGetSource(tr->vel, &source));
  PetscCheck(!tr->sharded || tr->group_size == 1 || source == WLM_VELOCITY_DATA || source == WLM_VELOCITY_ZERO, PetscObjectComm((PetscObject)tr), PETSC_ERR_SUP,
             "-wlm_velocity %s needs whole snapshots on every rank, but the data is sharded over groups of %d ranks; pass -wlm_data_distribution replicated, or -wlm_velocity data or zero", WLMVelocitySources[source], tr->group_size);
  PetscCall(WLMVelocitySetUp(tr->vel));
  PetscCall(PetscCalloc2(tr->nsnap, &tr->v0, tr->nsnap, &tr->v0_owned));
  for (PetscInt i = 0; i < tr->ntrain; i++) {
    const PetscInt s = tr->train[i];

    PetscCall(WLMSnapshotsGetSnapshot(tr->snaps, s, &snap));
    if (source == WLM_VELOCITY_DATA && snap.v) {
      /* the file's velocities are the start velocities; a copy would double their memory */
      tr->v0[s] = snap.v;
      continue;
    }
    /* at least one row, so that a rank without rows of s still marks s as a snapshot with start velocities */
    PetscCall(PetscMalloc1(PetscMax(snap.n, 1) * tr->dim, &tr->v0_owned[s]));
    PetscCall(WLMVelocityCompute(tr->vel, s, tr->v0_owned[s]));
    tr->v0[s] = tr->v0_owned[s];
  }
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerSetUpModels - Creates the potential, dynamics and loss on the group communicator (particles sharded over the group) and the optimizer state.

  Collective
@*/
PetscErrorCode WLMTrainerSetUpModels(WLMTrainer tr)
{
  MPI_Comm  comm = PetscObjectComm((PetscObject)tr);
  PetscBool set;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate(tr->group_comm, &tr->pot));
  PetscCall(WLMPotentialSetDimension(tr->pot, tr->dim));
  PetscCall(WLMPotentialSetFromOptions(tr->pot));
  PetscCall(WLMPotentialSetMaxParticles(tr->pot, WLMTrainerShareMax(tr, tr->max_count), tr->max_count));
  PetscCall(WLMPotentialSetUp(tr->pot));
  PetscCall(WLMPotentialInitializeParameters(tr->pot, (uint64_t)tr->seed));
  PetscCall(WLMPotentialGetNumParameters(tr->pot, &tr->ntheta));

  PetscCall(WLMDynamicsCreate(tr->group_comm, &tr->dyn));
  PetscCall(WLMDynamicsSetPotential(tr->dyn, tr->pot));
  PetscCall(WLMDynamicsSetFromOptions(tr->dyn));
  PetscCall(WLMDynamicsSetUp(tr->dyn));
  PetscCall(WLMDynamicsGetFriction(tr->dyn, &tr->friction0));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-wlm_friction", &set));
  if (tr->learn_friction && !set) {
    /* a learned friction starts from gamma = 0.1 unless -wlm_friction gives another start */
    tr->friction0 = 0.1;
    PetscCall(WLMDynamicsSetFriction(tr->dyn, tr->friction0));
  }
  PetscCheck(!tr->learn_friction || tr->friction0 > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "A learned friction needs a positive initial value, not %g; pass -wlm_friction 0.1 (for example) or -wlm_friction_learn false", (double)tr->friction0);

  PetscCall(WLMLossCreate(tr->group_comm, &tr->loss));
  PetscCall(WLMLossSetDimension(tr->loss, tr->dim));
  PetscCall(WLMLossSetFromOptions(tr->loss));
  PetscCall(SetDefaultBlur(tr));
  PetscCall(WLMLossSetUp(tr->loss));

  /* params = (theta, log gamma); with a fixed friction the last entry has learning rate 0 */
  tr->nparams = tr->ntheta + 1;
  PetscCall(PetscMalloc4(tr->nparams, &tr->params, tr->nparams + 3, &tr->grad, tr->nparams, &tr->avg, tr->nparams, &tr->rollout_grad));
  PetscCall(WLMPotentialGetParameters(tr->pot, tr->params));
  tr->params[tr->ntheta] = tr->learn_friction ? PetscLogReal(tr->friction0) : 0;
  PetscCall(WLMAdamWSetSize(tr->opt, tr->nparams));
  PetscCall(WLMAdamWSetGroup(tr->opt, 0, 0, tr->ntheta, tr->lr, tr->weight_decay));
  PetscCall(WLMAdamWSetGroup(tr->opt, 1, tr->ntheta, tr->nparams, tr->learn_friction ? tr->lr_friction : 0, 0));
  tr->opt->total = tr->steps;
  PetscFunctionReturn(0);
}

/* Rollout workspace for this rank's share of the largest snapshot and for the largest horizon. */
static PetscErrorCode AllocateWorkspace(WLMTrainer tr)
{
  const PetscInt nx = WLMTrainerShareMax(tr, tr->max_count) * tr->dim;

  PetscFunctionBeginUser;
  tr->kmax = PetscMax(tr->horizon_max, tr->nsnap);
  PetscCall(PetscMalloc3(tr->max_count, &tr->perm, nx, &tr->x0, nx, &tr->vstart));
  PetscCall(PetscMalloc5(tr->kmax, &tr->X, tr->kmax, &tr->dX, tr->kmax, &tr->Y, tr->kmax, &tr->ny, tr->kmax, &tr->rollout_times));
  for (PetscInt m = 0; m < tr->kmax; m++) PetscCall(PetscMalloc3(nx, &tr->X[m], nx, &tr->dX[m], nx, &tr->Y[m]));
  if (tr->loss_particles > 0) PetscCall(PetscMalloc2(nx, &tr->xsel, nx, &tr->gsel));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerSetUp - Loads the data, checks the options, builds the models and, with -wlm_restart, restores a checkpoint.

  Collective

  Notes:
  Every option is checked here, before any training step, so a misspelt or
  impossible setting fails within seconds of the job's start.
@*/
PetscErrorCode WLMTrainerSetUp(WLMTrainer tr)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(tr, WLMTRAINER_CLASSID, 1);
  if (tr->setupcalled) PetscFunctionReturn(0);
  if (!tr->opt) PetscCall(WLMAdamWCreate(0, &tr->opt));
  PetscCall(WLMTrainerSetUpEnsemble(tr));
  PetscCall(CheckOptions(tr));
  PetscCall(LoadData(tr));
  PetscCall(WLMTrainerSplitSnapshots(tr));
  PetscCall(WLMTrainerSetUpModels(tr));
  PetscCall(ComputeStartVelocities(tr));
  PetscCall(AllocateWorkspace(tr));
  if (tr->restart[0]) PetscCall(WLMTrainerLoadCheckpoint(tr, tr->restart));
  PetscCall(WLMTrainerApplyParameters(tr, tr->params));
  tr->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(0);
}
