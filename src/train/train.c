/*
   The training loop: steps with periodic progress lines, evaluations and
   checkpoints; a clean stop with a checkpoint on SIGTERM or SIGUSR1; at the
   end a final evaluation, the model, the predictions and a summary table.
*/
#include <wlm/private/trainimpl.h>

/* Checkpoint path inside the output directory. */
static PetscErrorCode CheckpointPath(WLMTrainer tr, char path[], size_t len)
{
  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, len, "%s/checkpoint.h5", tr->output));
  PetscFunctionReturn(0);
}

/* True when step is a positive multiple of every (0 meaning never). */
static PetscBool Due(PetscInt step, PetscInt every)
{
  return (PetscBool)(every > 0 && step % every == 0);
}

/* Runs the final evaluation and writes the model, a checkpoint and the summary. */
static PetscErrorCode Finish(WLMTrainer tr)
{
  char path[PETSC_MAX_PATH_LEN + 32];

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerEvaluate(tr, PETSC_TRUE));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/model.h5", tr->output));
  PetscCall(WLMTrainerSaveModel(tr, path));
  PetscCall(CheckpointPath(tr, path, sizeof(path)));
  PetscCall(WLMTrainerSaveCheckpoint(tr, path));
  PetscCall(WLMTrainerPrintSummary(tr));
  PetscCall(PetscPrintf(PetscObjectComm((PetscObject)tr), "Outputs in %s: metrics.jsonl, model.h5, predictions_raw.h5, predictions_ema.h5, checkpoint.h5\n", tr->output));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerTrain - Trains until -wlm_steps steps are done or a stop signal arrives.

  Collective

  Notes:
  The time per step printed and recorded excludes evaluations and
  checkpoints; its average over the steps since the last log line drives the
  estimate of the remaining time.
@*/
PetscErrorCode WLMTrainerTrain(WLMTrainer tr)
{
  MPI_Comm       comm = PetscObjectComm((PetscObject)tr);
  char           path[PETSC_MAX_PATH_LEN + 32];
  PetscLogDouble t0, t1;
  PetscReal      window = 0;
  PetscInt       nwindow = 0;

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerSetUp(tr));
  PetscCall(WLMTrainerCheckEvaluationSize(tr));
  PetscCall(WLMTrainerOpenOutput(tr));
  PetscCall(WLMTrainerInstallSignalHandlers());
  PetscCall(WLMTrainerComputeBaselines(tr));
  PetscCall(CheckpointPath(tr, path, sizeof(path)));
  if (tr->step == 0 && tr->eval_every > 0) PetscCall(WLMTrainerEvaluate(tr, PETSC_FALSE));

  while (tr->step < tr->steps) {
    PetscCall(PetscTime(&t0));
    PetscCall(WLMTrainerStep(tr));
    PetscCall(PetscTime(&t1));
    tr->step_seconds = (PetscReal)(t1 - t0);
    tr->train_seconds += tr->step_seconds;
    window += tr->step_seconds;
    nwindow++;

    if (Due(tr->step, tr->log_every) || tr->step == tr->steps) {
      tr->step_seconds = window / nwindow;
      PetscCall(WLMTrainerLogProgress(tr, tr->step_seconds));
      PetscCall(WLMTrainerWriteMetricsLine(tr, PETSC_FALSE));
      window  = 0;
      nwindow = 0;
    }
    if (Due(tr->step, tr->eval_every) && tr->step < tr->steps) PetscCall(WLMTrainerEvaluate(tr, PETSC_FALSE));
    if (Due(tr->step, tr->checkpoint_every) && tr->step < tr->steps) PetscCall(WLMTrainerSaveCheckpoint(tr, path));
    if (tr->stop_requested) {
      WLMTrainerSignalClear();
      PetscCall(WLMTrainerSaveCheckpoint(tr, path));
      PetscCall(PetscPrintf(comm, "Received a stop signal: wrote %s at step %" PetscInt_FMT " of %" PetscInt_FMT "; continue with -wlm_restart\n", path, tr->step, tr->steps));
      PetscFunctionReturn(0);
    }
  }
  PetscCall(Finish(tr));
  PetscFunctionReturn(0);
}
