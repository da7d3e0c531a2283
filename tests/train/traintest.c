/* Helpers of the trainer tests; see traintest.h. */
#include "traintest.h"
#include <wlm/wlmgenerate.h>
#include <wlm/private/trainimpl.h>

/*
   Writes a damped harmonic data set (k = 1, c = 0.5, gamma = 0.3) with N
   particles in 2-D at T snapshots 0.5 apart, with or without velocities.
*/
PetscErrorCode WLMTestWriteHarmonicData(MPI_Comm comm, const char path[], PetscInt N, PetscInt T, PetscBool velocities)
{
  WLMGenerator gen;
  WLMSnapshots snaps;

  PetscFunctionBeginUser;
  PetscCall(WLMGeneratorCreate(comm, &gen));
  PetscCall(WLMGeneratorSetType(gen, WLMGENERATORHARMONIC));
  PetscCall(WLMGeneratorSetNumParticles(gen, N));
  PetscCall(WLMGeneratorSetSnapshots(gen, T, 0.5));
  PetscCall(WLMGeneratorSetDimension(gen, 2));
  PetscCall(WLMGeneratorSetSeed(gen, 3));
  PetscCall(WLMGeneratorSetVelocities(gen, velocities));
  PetscCall(WLMGeneratorHarmonicSetParameters(gen, 1.0, 0.5, 0.3));
  PetscCall(WLMGeneratorSetUp(gen));
  PetscCall(WLMSnapshotsCreate(comm, &snaps));
  PetscCall(WLMGeneratorGenerate(gen, snaps));
  PetscCall(WLMSnapshotsSave(snaps, path));
  PetscCall(WLMSnapshotsDestroy(&snaps));
  PetscCall(WLMGeneratorDestroy(&gen));
  PetscFunctionReturn(0);
}

/* Creates a trainer whose options come only from the given string, in a private options database left pushed until WLMTestTrainerDestroy(). */
PetscErrorCode WLMTestTrainerCreate(MPI_Comm comm, const char options[], PetscOptions *db, WLMTrainer *tr)
{
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsCreate(db));
  PetscCall(PetscOptionsInsertString(*db, options));
  PetscCall(PetscOptionsPush(*db));
  PetscCall(WLMTrainerCreate(comm, tr));
  PetscCall(WLMTrainerSetFromOptions(*tr));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMTestTrainerDestroy(PetscOptions *db, WLMTrainer *tr)
{
  PetscFunctionBeginUser;
  PetscCall(WLMTrainerDestroy(tr));
  PetscCall(PetscOptionsPop());
  PetscCall(PetscOptionsDestroy(db));
  PetscFunctionReturn(0);
}

/* Sets up a trainer from the options string alone and returns the set-up error; the trainer and its options are gone on return. */
PetscErrorCode WLMTestTrainerSetUpError(MPI_Comm comm, const char options[])
{
  PetscOptions   db;
  WLMTrainer     tr = NULL;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsCreate(&db));
  PetscCall(PetscOptionsInsertString(db, options));
  PetscCall(PetscOptionsPush(db));
  ierr = WLMTrainerCreate(comm, &tr);
  if (!ierr) ierr = WLMTrainerSetFromOptions(tr);
  if (!ierr) ierr = WLMTrainerSetUp(tr);
  PetscCall(WLMTrainerDestroy(&tr));
  PetscCall(PetscOptionsPop());
  PetscCall(PetscOptionsDestroy(&db));
  return ierr;
}

/* The trainer's parameter vector (theta, log gamma), borrowed. */
PetscErrorCode WLMTestTrainerParameters(WLMTrainer tr, PetscInt *n, PetscReal **params)
{
  PetscFunctionBeginUser;
  *n      = tr->nparams;
  *params = tr->params;
  PetscFunctionReturn(0);
}
