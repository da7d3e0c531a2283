/*
   WLMTrainer: learns a potential energy U_theta and a friction gamma from
   snapshots by Wasserstein Lagrangian Mechanics training, then evaluates
   forecasts and interpolations with exact W1 and W2.

   One optimizer step averages, over B rollouts spread across the ranks, the
   loss

     L = 1/k sum_{m=1..k} S_eps(X(t_{s+m}), Y_{s+m})

   of a rollout that starts at training snapshot s with its initial
   velocities and runs over k training intervals; the gradient with respect to
   (theta, log gamma) comes from the exact discrete adjoint of the integrator.
   The random choices of rollout j of step n come from a stream seeded by
   (seed, n, j), so the run does not depend on the rank count beyond the order
   of floating-point sums.
*/
#ifndef WLMTRAIN_H
#define WLMTRAIN_H

#include <wlm/wlmsnapshots.h>
#include <wlm/wlmpotential.h>
#include <wlm/wlmdynamics.h>
#include <wlm/wlmloss.h>
#include <wlm/wlmvelocity.h>
#include <wlm/wlmadamw.h>

typedef struct _p_WLMTrainer *WLMTrainer;

PETSC_EXTERN PetscClassId WLMTRAINER_CLASSID;

typedef enum {
  WLM_PROTOCOL_FORECAST,   /* train on the first snapshots, forecast the rest */
  WLM_PROTOCOL_INTERPOLATE /* train on all snapshots except the held-out ones */
} WLMProtocol;
PETSC_EXTERN const char *const WLMProtocols[];

typedef enum {
  WLM_ROLLOUT_START_FIRST, /* every rollout starts at the first training snapshot */
  WLM_ROLLOUT_START_ANY    /* a rollout starts at a random training snapshot */
} WLMRolloutStart;
PETSC_EXTERN const char *const WLMRolloutStarts[];

typedef enum {
  WLM_DATA_AUTO,       /* sharded when a group has more than one rank, replicated otherwise */
  WLM_DATA_REPLICATED, /* every rank stores every particle of every snapshot */
  WLM_DATA_SHARDED     /* each group stores one copy, each of its R ranks a block of about N / R rows */
} WLMDataDistribution;
PETSC_EXTERN const char *const WLMDataDistributions[];

PETSC_EXTERN PetscErrorCode WLMTrainInitializePackage(void);
PETSC_EXTERN PetscErrorCode WLMTrainerCreate(MPI_Comm, WLMTrainer *);
PETSC_EXTERN PetscErrorCode WLMTrainerSetFromOptions(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerPrintObjectHelp(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerSetEnsembleRanks(WLMTrainer, PetscInt);
PETSC_EXTERN PetscErrorCode WLMTrainerSetDataDistribution(WLMTrainer, WLMDataDistribution);
PETSC_EXTERN PetscErrorCode WLMTrainerSetUp(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerTrain(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerEvaluate(WLMTrainer, PetscBool);
PETSC_EXTERN PetscErrorCode WLMTrainerEvaluateCheckpoint(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerForecast(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerProbe(WLMTrainer);
PETSC_EXTERN PetscErrorCode WLMTrainerView(WLMTrainer, PetscViewer);
PETSC_EXTERN PetscErrorCode WLMTrainerDestroy(WLMTrainer *);

PETSC_EXTERN PetscErrorCode WLMTrainerGetPotential(WLMTrainer, WLMPotential *);
PETSC_EXTERN PetscErrorCode WLMTrainerGetDynamics(WLMTrainer, WLMDynamics *);
PETSC_EXTERN PetscErrorCode WLMTrainerGetStep(WLMTrainer, PetscInt *);
PETSC_EXTERN PetscErrorCode WLMTrainerGetFriction(WLMTrainer, PetscReal *);
PETSC_EXTERN PetscErrorCode WLMTrainerGetLastLoss(WLMTrainer, PetscReal *);
PETSC_EXTERN PetscErrorCode WLMTrainerSaveCheckpoint(WLMTrainer, const char[]);
PETSC_EXTERN PetscErrorCode WLMTrainerLoadCheckpoint(WLMTrainer, const char[]);

#endif
