/*
   Checkpoints: everything needed to continue training bit for bit with the
   same rank count.  The random draws of step n depend only on (seed, n), so
   the state is the step, the parameters (theta, log gamma), the AdamW moments
   and the moving average.

   Layout (HDF5, written by rank 0 under a temporary name, then renamed):
     /               attributes format = "wlm-checkpoint", version, step, seed,
                     batch_rollouts, data, learn_friction, friction0, adam_t,
                     train_seconds (training time so far, excluding evaluations),
                     content_sha256, data_size, data_sha256, model_options
                     (identity records, see integrity.c)
     /model          the potential with the current weights (WLMPotentialSave)
     /optimizer      datasets params, m, v, ema [nparams]
*/
#include <wlm/private/integrity.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#define WLM_CHECKPOINT_VERSION 1

static PetscErrorCode WriteCheckpointFile(WLMTrainer tr, const char path[])
{
  hid_t   file, group;
  hsize_t dims[1] = {(hsize_t)tr->nparams};

  PetscFunctionBeginUser;
  WLMCallHDF5Return(file, path, H5Fcreate, (path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(WLMH5WriteAttributeString(file, "format", "wlm-checkpoint"));
  PetscCall(WLMH5WriteAttributeInt(file, "version", WLM_CHECKPOINT_VERSION));
  PetscCall(WLMH5WriteAttributeInt(file, "step", tr->step));
  PetscCall(WLMH5WriteAttributeInt(file, "seed", tr->seed));
  PetscCall(WLMH5WriteAttributeInt(file, "batch_rollouts", tr->batch_rollouts));
  PetscCall(WLMH5WriteAttributeString(file, "data", tr->data_file));
  PetscCall(WLMH5WriteAttributeInt(file, "learn_friction", tr->learn_friction));
  PetscCall(WLMH5WriteAttributeReal(file, "friction0", tr->friction0));
  PetscCall(WLMH5WriteAttributeInt(file, "adam_t", tr->opt->t));
  PetscCall(WLMH5WriteAttributeReal(file, "train_seconds", tr->train_seconds));
  PetscCall(WLMTrainerWriteCheckpointIdentity(tr, file));

  WLMCallHDF5Return(group, "model", H5Gcreate2, (file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(WLMPotentialSave(tr->pot, group));
  WLMCallHDF5("model", H5Gclose, (group));
  if (WLMTestFailureRequested("kill-in-checkpoint")) raise(SIGKILL); /* test-only: die with the file half written */

  WLMCallHDF5Return(group, "optimizer", H5Gcreate2, (file, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(WLMH5WriteDatasetReal(group, "params", 1, dims, tr->params));
  PetscCall(WLMH5WriteDatasetReal(group, "m", 1, dims, tr->opt->m));
  PetscCall(WLMH5WriteDatasetReal(group, "v", 1, dims, tr->opt->v));
  PetscCall(WLMH5WriteDatasetReal(group, "ema", 1, dims, tr->opt->ema));
  WLMCallHDF5("optimizer", H5Gclose, (group));
  WLMCallHDF5(path, H5Fclose, (file));
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerSaveCheckpoint - Writes a checkpoint atomically.

  Collective (rank 0 writes)

  Notes:
  The previous checkpoint of the same name stays complete until the new one
  has been written and closed.  When writing fails, the partial temporary
  file is removed and the previous checkpoint is left as it was.
@*/
PetscErrorCode WLMTrainerSaveCheckpoint(WLMTrainer tr, const char path[])
{
  PetscMPIInt    rank;
  char           tmp[PETSC_MAX_PATH_LEN + 32];
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMTRAIN_Checkpoint, 0, 0, 0, 0));
  PetscCallMPI(MPI_Comm_rank(PetscObjectComm((PetscObject)tr), &rank));
  PetscCall(WLMFileTemporaryName(path, tmp, sizeof(tmp)));
  PetscCall(WLMTrainerComputeDataIdentity(tr));
  PetscCall(WLMTestFailureInject("checkpoint"));
  if (rank == 0) {
    PetscCall(WLMTrainerApplyParameters(tr, tr->params));
    errno = 0;
    ierr  = WriteCheckpointFile(tr, tmp);
    if (ierr) {
      const int error = errno; /* HDF5 error reports are silenced (WLMH5Silence), so errno is the only record of the failed system call */

      /* the old checkpoint has not been touched; remove the partial new one so it cannot be mistaken for a checkpoint */
      (void)remove(tmp);
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "Could not write checkpoint \"%s\" (last system error: %s; a full disk or a file-size limit are common causes); the previous checkpoint \"%s\" is unchanged and -wlm_restart continues from it", tmp, error ? strerror(error) : "none", path);
    }
  }
  PetscCall(WLMFileCommit(PetscObjectComm((PetscObject)tr), tmp, path));
  PetscCall(PetscLogEventEnd(WLMTRAIN_Checkpoint, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Checks that the checkpoint's model matches the model built from the options. */
static PetscErrorCode CheckModel(WLMTrainer tr, hid_t file, const char path[])
{
  hid_t            group;
  WLMPotential     saved;
  WLMPotentialType type, savedtype;
  PetscInt         nsaved;
  PetscBool        same;

  PetscFunctionBeginUser;
  WLMCallHDF5Return(group, "model", H5Gopen2, (file, "model", H5P_DEFAULT));
  PetscCall(WLMPotentialLoad(PETSC_COMM_SELF, group, &saved));
  WLMCallHDF5("model", H5Gclose, (group));
  PetscCall(WLMPotentialGetType(tr->pot, &type));
  PetscCall(WLMPotentialGetType(saved, &savedtype));
  PetscCall(PetscStrcmp(type, savedtype, &same));
  PetscCall(WLMPotentialGetNumParameters(saved, &nsaved));
  PetscCall(WLMPotentialDestroy(&saved));
  PetscCheck(same, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint \"%s\" holds a %s potential but the options give %s; restart with the options of the original run", path, savedtype, type);
  PetscCheck(nsaved == tr->ntheta, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint \"%s\" holds a model with %" PetscInt_FMT " parameters but the options give %" PetscInt_FMT "; restart with the model options of the original run", path, nsaved, tr->ntheta);
  PetscFunctionReturn(0);
}

/*@
  WLMTrainerLoadCheckpoint - Restores the step, parameters and optimizer state of a checkpoint.

  Collective (every rank reads the file)

  Notes:
  The checkpoint's content checksum, data file and model options are
  verified; see WLMTrainerVerifyCheckpoint().
@*/
PetscErrorCode WLMTrainerLoadCheckpoint(WLMTrainer tr, const char path[])
{
  hid_t      file, group;
  hsize_t    dims[1] = {(hsize_t)tr->nparams};
  char      *format;
  PetscInt64 version, step, adam_t, learn;
  PetscBool  same;

  PetscFunctionBeginUser;
  file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  PetscCheck(file >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "Cannot open checkpoint \"%s\"; check the path given to -wlm_restart", path);
  PetscCall(WLMH5ReadAttributeString(file, "format", &format));
  PetscCall(PetscStrcmp(format, "wlm-checkpoint", &same));
  PetscCall(PetscFree(format));
  PetscCheck(same, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "\"%s\" is not a wlm checkpoint", path);
  PetscCall(WLMH5ReadAttributeInt(file, "version", &version));
  PetscCheck(version == WLM_CHECKPOINT_VERSION, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint \"%s\" has version %" PetscInt64_FMT "; this wlm reads version %d", path, version, WLM_CHECKPOINT_VERSION);
  PetscCall(WLMH5ReadAttributeInt(file, "learn_friction", &learn));
  PetscCheck((PetscBool)learn == tr->learn_friction, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint \"%s\" was trained with -wlm_friction_learn %s; restart with the same setting", path, learn ? "true" : "false");
  PetscCall(CheckModel(tr, file, path));

  PetscCall(WLMH5ReadAttributeInt(file, "step", &step));
  PetscCall(WLMH5ReadAttributeInt(file, "adam_t", &adam_t));
  PetscCall(WLMH5ReadAttributeReal(file, "train_seconds", &tr->train_seconds));
  WLMCallHDF5Return(group, "optimizer", H5Gopen2, (file, "optimizer", H5P_DEFAULT));
  PetscCall(WLMH5ReadDatasetReal(group, "params", 1, dims, tr->params));
  PetscCall(WLMH5ReadDatasetReal(group, "m", 1, dims, tr->opt->m));
  PetscCall(WLMH5ReadDatasetReal(group, "v", 1, dims, tr->opt->v));
  PetscCall(WLMH5ReadDatasetReal(group, "ema", 1, dims, tr->opt->ema));
  WLMCallHDF5("optimizer", H5Gclose, (group));
  PetscCall(WLMTrainerVerifyCheckpoint(tr, file, path, step, adam_t));
  WLMCallHDF5(path, H5Fclose, (file));
  tr->step    = (PetscInt)step;
  tr->opt->t  = (PetscInt)adam_t;
  PetscCall(WLMTrainerApplyParameters(tr, tr->params));
  PetscFunctionReturn(0);
}
