/*
   Helpers of the trainer tests: a small damped harmonic data set written to a
   file, and trainers built from an options string in a private options
   database, so that tests do not see each other's options.
*/
#ifndef WLMTEST_TRAINTEST_H
#define WLMTEST_TRAINTEST_H

#include <wlm/wlmtrain.h>

PetscErrorCode WLMTestWriteHarmonicData(MPI_Comm, const char[], PetscInt, PetscInt, PetscBool);
PetscErrorCode WLMTestTrainerCreate(MPI_Comm, const char[], PetscOptions *, WLMTrainer *);
PetscErrorCode WLMTestTrainerDestroy(PetscOptions *, WLMTrainer *);
PetscErrorCode WLMTestTrainerSetUpError(MPI_Comm, const char[]);
PetscErrorCode WLMTestTrainerParameters(WLMTrainer, PetscInt *, PetscReal **);

#endif
