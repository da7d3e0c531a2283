/*
   Checkpoint identity records (src/train/integrity.c): functions that take
   an open HDF5 checkpoint, kept apart from trainimpl.h so that only the files
   that read or write checkpoints include HDF5.
*/
#ifndef WLMINTEGRITY_H
#define WLMINTEGRITY_H

#include <wlm/private/trainimpl.h>
#include <wlm/private/h5util.h>

PETSC_EXTERN PetscErrorCode WLMTrainerWriteCheckpointIdentity(WLMTrainer, hid_t);
PETSC_EXTERN PetscErrorCode WLMTrainerVerifyCheckpoint(WLMTrainer, hid_t, const char[], PetscInt64, PetscInt64);

#endif
