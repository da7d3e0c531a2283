/*
   WLMTrainer life cycle: creation with the method's defaults, options,
   viewing and destruction.  Set-up, steps, evaluation and output live in the
   other files of this folder.
*/
#include <wlm/private/trainimpl.h>

/*@
  WLMTrainerCreate - Creates a trainer with the method's default settings.

  Collective

  Input Parameter:
. comm - ranks that train together (groups of -wlm_ensemble_ranks ranks, data replicated or sharded by -wlm_data_distribution)

  Output Parameter:
. tr - the trainer
@*/
PetscErrorCode WLMTrainerCreate(MPI_Comm comm, WLMTrainer *tr)
{
  WLMTrainer t;

  PetscFunctionBeginUser;
  PetscValidPointer(tr, 2);
  PetscCall(WLMTrainInitializePackage());
  PetscCall(PetscHeaderCreate(t, WLMTRAINER_CLASSID, "WLMTrainer", "WLM trainer", "WLMTrainer", comm, WLMTrainerDestroy, WLMTrainerView));
  t->protocol         = WLM_PROTOCOL_FORECAST;
  t->train_fraction   = 0.5;
  t->start            = WLM_ROLLOUT_START_FIRST;
  t->batch_rollouts   = PETSC_DECIDE;
  t->ensemble_ranks   = 1;
  t->group_comm       = MPI_COMM_NULL;
  t->data_distribution = WLM_DATA_AUTO;
  t->batch_particles  = 0;
  t->horizon_min      = 1;
  t->horizon_max      = 0;
  t->horizon_ramp     = 0;
  t->learn_friction   = PETSC_TRUE;
  t->lr               = 1e-4;
  t->lr_friction      = 1e-3;
  t->weight_decay     = 1e-4;
  t->steps            = 1000;
  t->eval_every       = 0;
  t->log_every        = 50;
  t->checkpoint_every = 0;
  t->seed             = 0;
  t->last_loss        = PETSC_MAX_REAL;
  t->friction_max     = 1e4;
  t->forecast_start   = -1;
  t->forecast_ema     = PETSC_TRUE;
  PetscCall(PetscStrncpy(t->forecast_output, "forecast.h5", sizeof(t->forecast_output)));
  t->probe_grid[0]    = 64;
  t->probe_grid[1]    = 64;
  PetscCall(PetscStrncpy(t->probe_output, "probe.h5", sizeof(t->probe_output)));
  PetscCall(PetscStrncpy(t->output, "wlm-run", sizeof(t->output)));
  *tr = t;
  PetscFunctionReturn(0);
}

/* Reads the run-control options: steps, logging, evaluation, checkpoints, output. */
static PetscErrorCode WLMTrainerSetFromOptions_Run(WLMTrainer tr, PetscOptionItems *PetscOptionsObject)
{
  PetscBool set;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Run control");
  PetscCall(PetscOptionsInt("-wlm_steps", "Optimizer steps in total (a restart continues to this count)", "", tr->steps, &tr->steps, NULL));
  PetscCall(PetscOptionsInt("-wlm_eval_every", "Evaluate every this many steps (0: only at the end)", "", tr->eval_every, &tr->eval_every, NULL));
  PetscCall(PetscOptionsInt("-wlm_log_every", "Print and record a progress line every this many steps", "", tr->log_every, &tr->log_every, NULL));
  PetscCall(PetscOptionsInt("-wlm_checkpoint_every", "Write a checkpoint every this many steps (0: only at the end or on a signal)", "", tr->checkpoint_every, &tr->checkpoint_every, NULL));
  PetscCall(PetscOptionsInt("-wlm_seed", "Seed of the initialization and of every random draw", "", tr->seed, &tr->seed, NULL));
  PetscCall(PetscOptionsString("-wlm_output", "Output directory", "", tr->output, tr->output, sizeof(tr->output), NULL));
  PetscCall(PetscOptionsReal("-wlm_output_reserve", "Free space in MiB that must remain in the output directory beyond the estimated outputs, checked before training", "", tr->output_reserve_mb, &tr->output_reserve_mb, NULL));
  PetscCall(PetscOptionsBool("-wlm_output_overwrite", "Allow writing into an existing output directory that holds a previous run", "", tr->overwrite, &tr->overwrite, NULL));
  PetscCall(PetscOptionsString("-wlm_restart", "Checkpoint to continue from (empty value: the checkpoint in the output directory)", "", tr->restart, tr->restart, sizeof(tr->restart), &set));
  if (set && !tr->restart[0]) PetscCall(PetscSNPrintf(tr->restart, sizeof(tr->restart), "%s/checkpoint.h5", tr->output));
  PetscCall(PetscOptionsBool("-wlm_restart_force", "Accept a checkpoint whose data file or model options differ from this run's (a damaged checkpoint is never accepted)", "", tr->restart_force, &tr->restart_force, NULL));
  PetscOptionsHeadEnd();
  PetscCheck(tr->output_reserve_mb >= 0, PetscObjectComm((PetscObject)tr), PETSC_ERR_ARG_OUTOFRANGE, "-wlm_output_reserve %g is negative; give the free space to keep in MiB, or 0", (double)tr->output_reserve_mb);
  PetscFunctionReturn(0);
}

/* Reads the optimizer options: AdamW, schedule, clipping, moving average, friction learning. */
static PetscErrorCode WLMTrainerSetFromOptions_Optimizer(WLMTrainer tr, PetscOptionItems *PetscOptionsObject)
{
  WLMAdamW *o = tr->opt;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Optimizer (AdamW)");
  PetscCall(PetscOptionsReal("-wlm_lr", "Learning rate of the potential's parameters", "", tr->lr, &tr->lr, NULL));
  PetscCall(PetscOptionsReal("-wlm_weight_decay", "Decoupled weight decay of the potential's parameters", "", tr->weight_decay, &tr->weight_decay, NULL));
  PetscCall(PetscOptionsBool("-wlm_friction_learn", "Learn the friction as gamma = exp(log gamma); otherwise keep -wlm_friction fixed", "", tr->learn_friction, &tr->learn_friction, NULL));
  PetscCall(PetscOptionsReal("-wlm_lr_friction", "Learning rate of log gamma (no weight decay)", "", tr->lr_friction, &tr->lr_friction, NULL));
  PetscCall(PetscOptionsReal("-wlm_friction_max", "Largest learned friction, in 1/time units; a larger value stops training as diverged", "", tr->friction_max, &tr->friction_max, NULL));
  PetscCall(PetscOptionsReal("-wlm_adam_beta1", "AdamW first-moment decay", "", o->beta1, &o->beta1, NULL));
  PetscCall(PetscOptionsReal("-wlm_adam_beta2", "AdamW second-moment decay", "", o->beta2, &o->beta2, NULL));
  PetscCall(PetscOptionsReal("-wlm_adam_eps", "AdamW denominator offset", "", o->eps, &o->eps, NULL));
  PetscCall(PetscOptionsReal("-wlm_grad_clip", "Largest gradient 2-norm; larger gradients are scaled down (0: no clipping)", "", o->clip, &o->clip, NULL));
  PetscCall(PetscOptionsEnum("-wlm_lr_schedule", "Learning-rate schedule", "", WLMLearningRateSchedules, (PetscEnum)o->schedule, (PetscEnum *)&o->schedule, NULL));
  PetscCall(PetscOptionsInt("-wlm_lr_warmup", "Steps of linear warm-up of the cosine schedule", "", o->warmup, &o->warmup, NULL));
  PetscCall(PetscOptionsReal("-wlm_lr_min_ratio", "Final learning rate of the cosine schedule as a fraction of -wlm_lr", "", o->lr_min_ratio, &o->lr_min_ratio, NULL));
  PetscCall(PetscOptionsReal("-wlm_ema_decay", "Decay of the moving average of the weights used for evaluation (0: off)", "", o->ema_decay, &o->ema_decay, NULL));
  PetscOptionsHeadEnd();
  PetscCheck(tr->friction_max > 0, PetscObjectComm((PetscObject)tr), PETSC_ERR_ARG_OUTOFRANGE, "-wlm_friction_max %g is invalid; use a positive friction in 1/time units", (double)tr->friction_max);
  PetscFunctionReturn(0);
}

/*
  Reads -wlm_data_distribution as a string, so that a wrong value gets a message with the choices
  and their meaning rather than PETSc's generic one.
*/
static PetscErrorCode WLMTrainerSetFromOptions_Distribution(WLMTrainer tr, PetscOptionItems *PetscOptionsObject)
{
  char      value[64];
  PetscBool set, found;
  PetscEnum e;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(value, WLMDataDistributions[tr->data_distribution], sizeof(value)));
  PetscCall(PetscOptionsString("-wlm_data_distribution",
                               "Snapshot data per rank: replicated (every rank stores every particle), sharded (each group of -wlm_ensemble_ranks R ranks stores one copy, N / R rows per rank; -wlm_velocity ot and dice are not supported) or auto (sharded when R > 1)",
                               "WLMTrainerSetDataDistribution", value, value, sizeof(value), &set));
  if (!set) PetscFunctionReturn(0);
  PetscCall(PetscEnumFind(WLMDataDistributions, value, &e, &found));
  PetscCheck(found, PetscObjectComm((PetscObject)tr), PETSC_ERR_ARG_WRONG, "-wlm_data_distribution %s is invalid; use auto (sharded when -wlm_ensemble_ranks > 1), replicated or sharded", value);
  tr->data_distribution = (WLMDataDistribution)e;
  PetscFunctionReturn(0);
}

/* Reads the protocol and minibatch options. */
static PetscErrorCode WLMTrainerSetFromOptions_Protocol(WLMTrainer tr, PetscOptionItems *PetscOptionsObject)
{
  PetscInt  nholdout = WLM_MAX_HOLDOUT;
  PetscBool set;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Data and protocol");
  PetscCall(PetscOptionsString("-wlm_data", "Snapshot file (HDF5, see docs/file-format.md)", "", tr->data_file, tr->data_file, sizeof(tr->data_file), NULL));
  PetscCall(PetscOptionsEnum("-wlm_protocol", "forecast: train on the first snapshots; interpolate: train on all but -wlm_holdout", "", WLMProtocols, (PetscEnum)tr->protocol, (PetscEnum *)&tr->protocol, NULL));
  PetscCall(PetscOptionsReal("-wlm_train_fraction", "Forecast: fraction of the snapshots used for training, from the first", "", tr->train_fraction, &tr->train_fraction, NULL));
  PetscCall(PetscOptionsIntArray("-wlm_holdout", "Interpolate: comma-separated indices of the held-out snapshots", "", tr->holdout, &nholdout, &set));
  if (set) tr->nholdout = nholdout;
  PetscCall(PetscOptionsEnum("-wlm_rollout_start", "Where training rollouts start: the first training snapshot, or any", "", WLMRolloutStarts, (PetscEnum)tr->start, (PetscEnum *)&tr->start, NULL));
  PetscCall(PetscOptionsInt("-wlm_batch_rollouts", "Rollouts per optimizer step over all ranks, a multiple of the group count P / R (default: one per group)", "", tr->batch_rollouts, &tr->batch_rollouts, NULL));
  PetscCall(PetscOptionsInt("-wlm_loss_particles", "Particles of each predicted and observed cloud that the loss compares, a random subsample of the rollout (0: all); the rollout itself keeps -wlm_batch_particles", "", tr->loss_particles, &tr->loss_particles, NULL));
  PetscCall(PetscOptionsInt("-wlm_eval_particles", "Particles of each cloud that the exact W1 and W2 of an evaluation compare, a fixed random subsample (0: all; the solver's cost grows faster than N^2)", "", tr->eval_particles, &tr->eval_particles, NULL));
  PetscCall(PetscOptionsInt("-wlm_ensemble_ranks", "Ranks R that share the particles of one rollout; the rank count must be a multiple of R", "WLMTrainerSetEnsembleRanks", tr->ensemble_ranks, &tr->ensemble_ranks, NULL));
  PetscCall(WLMTrainerSetFromOptions_Distribution(tr, PetscOptionsObject));
  PetscCall(PetscOptionsInt("-wlm_batch_particles", "Particles per rollout, with targets subsampled to match (0: all)", "", tr->batch_particles, &tr->batch_particles, NULL));
  PetscCall(PetscOptionsInt("-wlm_horizon_min", "Smallest horizon k in training intervals (forecasts profit from long horizons)", "", tr->horizon_min, &tr->horizon_min, NULL));
  PetscCall(PetscOptionsInt("-wlm_horizon_max", "Largest horizon k in training intervals (0: all training intervals)", "", tr->horizon_max, &tr->horizon_max, NULL));
  PetscCall(PetscOptionsInt("-wlm_horizon_ramp", "Steps over which the horizon cap grows linearly from 1 (0: no ramp)", "", tr->horizon_ramp, &tr->horizon_ramp, NULL));
  PetscOptionsHeadEnd();
  PetscFunctionReturn(0);
}

/* Reads the options of -wlm_mode forecast and probe. */
static PetscErrorCode WLMTrainerSetFromOptions_Forecast(WLMTrainer tr, PetscOptionItems *PetscOptionsObject)
{
  PetscInt  ntimes = WLM_MAX_HOLDOUT, ngrid, nbounds;
  PetscBool set;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Forecast mode");
  PetscCall(PetscOptionsInt("-wlm_forecast_start", "Snapshot of -wlm_data to start from (default: the first training snapshot)", "", tr->forecast_start, &tr->forecast_start, NULL));
  PetscCall(PetscOptionsString("-wlm_forecast_initial", "Snapshot file whose first snapshot is the initial population (positions, and velocities if present)", "", tr->forecast_initial, tr->forecast_initial, sizeof(tr->forecast_initial), NULL));
  PetscCall(PetscOptionsRealArray("-wlm_forecast_times", "Comma-separated output times (default: the times of all later snapshots)", "", tr->forecast_times, &ntimes, &set));
  if (set) tr->nforecast_times = ntimes;
  PetscCall(PetscOptionsBool("-wlm_forecast_ema", "Forecast with the averaged weights (false: the current weights)", "", tr->forecast_ema, &tr->forecast_ema, NULL));
  PetscCall(PetscOptionsString("-wlm_forecast_output", "Output snapshot file", "", tr->forecast_output, tr->forecast_output, sizeof(tr->forecast_output), NULL));
  PetscOptionsHeadEnd();
  PetscOptionsHeadBegin(PetscOptionsObject, "Probe mode (the population is the snapshot -wlm_forecast_start; weights follow -wlm_forecast_ema)");
  ngrid = 2;
  PetscCall(PetscOptionsIntArray("-wlm_probe_grid", "Grid points along the first two coordinates, nx,ny (one value: a square grid)", "", tr->probe_grid, &ngrid, &set));
  if (set && ngrid == 1) tr->probe_grid[1] = tr->probe_grid[0];
  nbounds = 4;
  PetscCall(PetscOptionsRealArray("-wlm_probe_bounds", "Grid bounds xmin,xmax,ymin,ymax (default: the population's bounding box plus 10%)", "", tr->probe_bounds, &nbounds, &tr->probe_bounds_set));
  PetscCheck(!tr->probe_bounds_set || (nbounds == 4 && tr->probe_bounds[0] < tr->probe_bounds[1] && tr->probe_bounds[2] < tr->probe_bounds[3]), PetscObjectComm((PetscObject)tr), PETSC_ERR_ARG_WRONG, "-wlm_probe_bounds needs four values xmin,xmax,ymin,ymax with xmin < xmax and ymin < ymax");
  PetscCall(PetscOptionsString("-wlm_probe_output", "Output file of the probe", "", tr->probe_output, tr->probe_output, sizeof(tr->probe_output), NULL));
  PetscOptionsHeadEnd();
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerSetFromOptions - Reads the trainer's options and those of its potential, dynamics, loss and velocity source.

  Collective

  Notes:
  Run with -help for the full list, with defaults and units.
@*/
PetscErrorCode WLMTrainerSetFromOptions(WLMTrainer tr)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(tr, WLMTRAINER_CLASSID, 1);
  if (!tr->opt) PetscCall(WLMAdamWCreate(0, &tr->opt));
  PetscObjectOptionsBegin((PetscObject)tr);
  PetscCall(WLMTrainerSetFromOptions_Protocol(tr, PetscOptionsObject));
  PetscCall(WLMTrainerSetFromOptions_Optimizer(tr, PetscOptionsObject));
  PetscCall(WLMTrainerSetFromOptions_Run(tr, PetscOptionsObject));
  PetscCall(WLMTrainerSetFromOptions_Forecast(tr, PetscOptionsObject));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerPrintObjectHelp - Reads the options of a potential, dynamics, loss and velocity source built for the purpose, so that -help lists them without data.

  Collective
@*/
PetscErrorCode WLMTrainerPrintObjectHelp(WLMTrainer tr)
{
  WLMPotential pot;
  WLMDynamics  dyn;
  WLMLoss      loss;
  WLMVelocity  vel;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate(PETSC_COMM_SELF, &pot));
  PetscCall(WLMPotentialSetFromOptions(pot));
  PetscCall(WLMDynamicsCreate(PETSC_COMM_SELF, &dyn));
  PetscCall(WLMDynamicsSetFromOptions(dyn));
  PetscCall(WLMLossCreate(PETSC_COMM_SELF, &loss));
  PetscCall(WLMLossSetFromOptions(loss));
  PetscCall(WLMVelocityCreate(PETSC_COMM_SELF, &vel));
  PetscCall(WLMVelocitySetFromOptions(vel));
  PetscCall(WLMVelocityDestroy(&vel));
  PetscCall(WLMLossDestroy(&loss));
  PetscCall(WLMDynamicsDestroy(&dyn));
  PetscCall(WLMPotentialDestroy(&pot));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMTrainerGetPotential(WLMTrainer tr, WLMPotential *pot)
{
  PetscFunctionBeginUser;
  *pot = tr->pot;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMTrainerGetDynamics(WLMTrainer tr, WLMDynamics *dyn)
{
  PetscFunctionBeginUser;
  *dyn = tr->dyn;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMTrainerGetStep(WLMTrainer tr, PetscInt *step)
{
  PetscFunctionBeginUser;
  *step = tr->step;
  PetscFunctionReturn(0);
}

/* Current friction gamma = exp(log gamma) of the raw weights. */
PetscErrorCode WLMTrainerGetFriction(WLMTrainer tr, PetscReal *gamma)
{
  PetscFunctionBeginUser;
  *gamma = tr->params && tr->learn_friction ? PetscExpReal(tr->params[tr->ntheta]) : tr->friction0;
  PetscFunctionReturn(0);
}

/* Mean rollout loss of the last optimizer step. */
PetscErrorCode WLMTrainerGetLastLoss(WLMTrainer tr, PetscReal *loss)
{
  PetscFunctionBeginUser;
  *loss = tr->last_loss;
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerView - Prints the data, protocol, models and optimizer settings.

  Collective
@*/
PetscErrorCode WLMTrainerView(WLMTrainer tr, PetscViewer viewer)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(tr, WLMTRAINER_CLASSID, 1);
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(PetscObjectComm((PetscObject)tr), &viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "WLMTrainer: data %s, protocol %s, %" PetscInt_FMT " training and %" PetscInt_FMT " test snapshots\n", tr->data_file, WLMProtocols[tr->protocol], tr->ntrain, tr->ntest));
  PetscCall(PetscViewerASCIIPushTab(viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "rollouts start at %s training snapshot; %" PetscInt_FMT " rollouts per step, %" PetscInt_FMT " particles per rollout (0: all), horizon %" PetscInt_FMT " to %" PetscInt_FMT ", ramp %" PetscInt_FMT " steps\n", tr->start == WLM_ROLLOUT_START_FIRST ? "the first" : "any", tr->batch_rollouts, tr->batch_particles, tr->horizon_min, tr->horizon_max, tr->horizon_ramp));
  PetscCall(PetscViewerASCIIPrintf(viewer, "AdamW lr %g (%s), weight decay %g, friction %s (initial %g, lr %g), moving average decay %g, %" PetscInt_FMT " steps\n", (double)tr->lr, WLMLearningRateSchedules[tr->opt->schedule], (double)tr->weight_decay, tr->learn_friction ? "learned" : "fixed", (double)tr->friction0, (double)tr->lr_friction, (double)tr->opt->ema_decay, tr->steps));
  if (tr->group_size > 1) PetscCall(PetscViewerASCIIPrintf(viewer, "each rollout sharded over a group of %d ranks (-wlm_ensemble_ranks), %d groups\n", tr->group_size, tr->ngroups));
  if (tr->setupcalled) PetscCall(PetscViewerASCIIPrintf(viewer, "snapshot data %s (-wlm_data_distribution %s)\n", tr->sharded ? "sharded over each group" : "replicated on every rank", WLMDataDistributions[tr->data_distribution]));
  if (tr->pot) PetscCall(WLMPotentialView(tr->pot, viewer));
  if (tr->dyn) PetscCall(WLMDynamicsView(tr->dyn, viewer));
  if (tr->loss) PetscCall(WLMLossView(tr->loss, viewer));
  if (tr->vel) PetscCall(WLMVelocityView(tr->vel, viewer));
  PetscCall(PetscViewerASCIIPopTab(viewer));
  PetscFunctionReturn(0);
}

/* Frees the evaluation arrays. */
static PetscErrorCode WLMEvalResultsDestroy(WLMEvalResults *e)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree5(e->raw, e->ema, e->persistence, e->freestream, e->persistence_last));
  e->n = 0;
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerDestroy - Frees the trainer and the objects it created.

  Collective
@*/
PetscErrorCode WLMTrainerDestroy(WLMTrainer *tr)
{
  WLMTrainer t;

  PetscFunctionBeginUser;
  if (!*tr) PetscFunctionReturn(0);
  t = *tr;
  PetscValidHeaderSpecific(t, WLMTRAINER_CLASSID, 1);
  if (--((PetscObject)t)->refct > 0) {
    *tr = NULL;
    PetscFunctionReturn(0);
  }
  if (t->metrics) fclose(t->metrics);
  PetscCall(WLMEvalResultsDestroy(&t->eval));
  if (t->v0) {
    for (PetscInt s = 0; s < t->nsnap; s++) PetscCall(PetscFree(t->v0_owned[s]));
    PetscCall(PetscFree2(t->v0, t->v0_owned));
  }
  for (PetscInt m = 0; m < t->kmax; m++) PetscCall(PetscFree3(t->X[m], t->dX[m], t->Y[m]));
  PetscCall(PetscFree5(t->X, t->dX, t->Y, t->ny, t->rollout_times));
  PetscCall(PetscFree3(t->perm, t->x0, t->vstart));
  PetscCall(PetscFree2(t->xsel, t->gsel));
  PetscCall(PetscFree4(t->params, t->grad, t->avg, t->rollout_grad));
  PetscCall(PetscFree2(t->train, t->test));
  PetscCall(WLMAdamWDestroy(&t->opt));
  PetscCall(WLMVelocityDestroy(&t->vel));
  PetscCall(WLMLossDestroy(&t->loss));
  PetscCall(WLMDynamicsDestroy(&t->dyn));
  PetscCall(WLMPotentialDestroy(&t->pot));
  PetscCall(WLMSnapshotsDestroy(&t->snaps));
  PetscCall(WLMTrainerDestroyEnsemble(t));
  PetscCall(PetscHeaderDestroy(tr));
  PetscFunctionReturn(0);
}
