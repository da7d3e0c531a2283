/*
   AdamW with parameter groups, learning-rate schedules, gradient-norm
   clipping and a bias-corrected exponential moving average of the weights.

   For each parameter p with gradient g at step n (counting from 1):

     m <- beta1 m + (1 - beta1) g,          v <- beta2 v + (1 - beta2) g^2
     p <- p - lr_n (m / (1 - beta1^n)) / (sqrt(v / (1 - beta2^n)) + eps) - lr_n wd p

   and the average a <- delta a + (1 - delta) p starts from 0 and is read as
   a / (1 - delta^n), so early evaluations are not dominated by the initial
   weights.  Each group has its own learning rate and weight decay (the
   friction has no weight decay).
*/
#ifndef WLMADAMW_H
#define WLMADAMW_H

#include <petscsys.h>

typedef enum {
  WLM_LR_CONSTANT,
  WLM_LR_COSINE /* linear warm-up, then cosine decay to lr_min at the last step */
} WLMLearningRateSchedule;
PETSC_EXTERN const char *const WLMLearningRateSchedules[];

#define WLM_ADAMW_MAX_GROUPS 4

typedef struct {
  PetscInt  n;                       /* number of parameters */
  PetscInt  ngroups;                 /* groups are contiguous ranges */
  PetscInt  group_start[WLM_ADAMW_MAX_GROUPS + 1];
  PetscReal group_lr[WLM_ADAMW_MAX_GROUPS];
  PetscReal group_wd[WLM_ADAMW_MAX_GROUPS];
  PetscReal beta1, beta2, eps;
  PetscReal clip;                    /* max gradient 2-norm of group 0, or 0 for no clipping */
  WLMLearningRateSchedule schedule;
  PetscInt  warmup;                  /* steps of linear warm-up (cosine schedule) */
  PetscInt  total;                   /* last step of the schedule */
  PetscReal lr_min_ratio;            /* cosine floor as a fraction of the base rate */
  PetscReal ema_decay;               /* delta; 0 turns the average off */
  PetscInt  t;                       /* completed steps */
  PetscReal *m, *v, *ema;            /* moments and average, length n */
} WLMAdamW;

PETSC_EXTERN PetscErrorCode WLMAdamWCreate(PetscInt, WLMAdamW **);
PETSC_EXTERN PetscErrorCode WLMAdamWDestroy(WLMAdamW **);
PETSC_EXTERN PetscErrorCode WLMAdamWSetSize(WLMAdamW *, PetscInt);
PETSC_EXTERN PetscErrorCode WLMAdamWSetGroup(WLMAdamW *, PetscInt, PetscInt, PetscInt, PetscReal, PetscReal);
PETSC_EXTERN PetscReal      WLMAdamWLearningRateFactor(const WLMAdamW *, PetscInt);
PETSC_EXTERN PetscErrorCode WLMAdamWStep(WLMAdamW *, PetscReal[], PetscReal[], PetscReal *);
PETSC_EXTERN PetscErrorCode WLMAdamWGetAverage(const WLMAdamW *, const PetscReal[], PetscReal[]);

#endif
