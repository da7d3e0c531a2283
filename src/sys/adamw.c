/*
   AdamW optimizer, learning-rate schedules and the bias-corrected moving
   average of the weights; the update rules are stated in
   include/wlm/wlmadamw.h.
*/
#include <wlm/wlmadamw.h>

const char *const WLMLearningRateSchedules[] = {"constant", "cosine", "WLMLearningRateSchedule", "WLM_LR_", NULL};

/* Creates an optimizer for n parameters, one group, PyTorch's default betas and eps. */
PetscErrorCode WLMAdamWCreate(PetscInt n, WLMAdamW **opt)
{
  WLMAdamW *o;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&o));
  o->n              = n;
  o->ngroups        = 1;
  o->group_start[0] = 0;
  o->group_start[1] = n;
  o->group_lr[0]    = 1e-3;
  o->group_wd[0]    = 0;
  o->beta1          = 0.9;
  o->beta2          = 0.999;
  o->eps            = 1e-8;
  o->schedule       = WLM_LR_CONSTANT;
  o->lr_min_ratio   = 0;
  PetscCall(PetscCalloc3(n, &o->m, n, &o->v, n, &o->ema));
  *opt = o;
  PetscFunctionReturn(0);
}

/* Resizes the optimizer to n parameters in one group and zeroes its state; settings are kept. */
PetscErrorCode WLMAdamWSetSize(WLMAdamW *o, PetscInt n)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree3(o->m, o->v, o->ema));
  PetscCall(PetscCalloc3(n, &o->m, n, &o->v, n, &o->ema));
  o->n              = n;
  o->ngroups        = 1;
  o->group_start[0] = 0;
  o->group_start[1] = n;
  o->t              = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMAdamWDestroy(WLMAdamW **opt)
{
  PetscFunctionBeginUser;
  if (!*opt) PetscFunctionReturn(0);
  PetscCall(PetscFree3((*opt)->m, (*opt)->v, (*opt)->ema));
  PetscCall(PetscFree(*opt));
  PetscFunctionReturn(0);
}

/* Sets group g to the parameter range [start, end) with its learning rate and weight decay. */
PetscErrorCode WLMAdamWSetGroup(WLMAdamW *o, PetscInt g, PetscInt start, PetscInt end, PetscReal lr, PetscReal wd)
{
  PetscFunctionBeginUser;
  PetscCheck(g >= 0 && g < WLM_ADAMW_MAX_GROUPS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Group %" PetscInt_FMT " is out of range", g);
  PetscCheck(0 <= start && start <= end && end <= o->n, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Group range [%" PetscInt_FMT ", %" PetscInt_FMT ") is outside [0, %" PetscInt_FMT ")", start, end, o->n);
  o->group_start[g]     = start;
  o->group_start[g + 1] = end;
  o->group_lr[g]        = lr;
  o->group_wd[g]        = wd;
  o->ngroups            = PetscMax(o->ngroups, g + 1);
  PetscFunctionReturn(0);
}

/*
   Multiplier of the base learning rate at (0-based) step n: 1 for the
   constant schedule; for the cosine schedule a linear warm-up over the first
   warmup steps, then a half cosine from 1 down to lr_min_ratio at the last step.
*/
PetscReal WLMAdamWLearningRateFactor(const WLMAdamW *o, PetscInt n)
{
  PetscReal progress;

  if (o->schedule == WLM_LR_CONSTANT) return 1.0;
  if (n < o->warmup) return (PetscReal)(n + 1) / (PetscReal)o->warmup;
  if (o->total <= o->warmup) return 1.0;
  progress = PetscMin(1.0, (PetscReal)(n - o->warmup) / (PetscReal)(o->total - o->warmup));
  return o->lr_min_ratio + (1.0 - o->lr_min_ratio) * 0.5 * (1.0 + PetscCosReal(PETSC_PI * progress));
}

/*@
  WLMAdamWStep - Applies one AdamW update and updates the moving average.

  Input Parameters:
+ o - the optimizer
. p - parameters [n], updated in place
- g - gradient [n]; scaled in place when clipping applies

  Output Parameter:
. gnorm - 2-norm of the gradient before clipping
@*/
PetscErrorCode WLMAdamWStep(WLMAdamW *o, PetscReal p[], PetscReal g[], PetscReal *gnorm)
{
  PetscReal norm2 = 0, factor, bc1, bc2;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < o->n; i++) norm2 += g[i] * g[i];
  *gnorm = PetscSqrtReal(norm2);
  if (o->clip > 0 && *gnorm > o->clip) {
    PetscReal s = o->clip / *gnorm;

    for (PetscInt i = 0; i < o->n; i++) g[i] *= s;
  }

  factor = WLMAdamWLearningRateFactor(o, o->t);
  o->t++;
  bc1 = 1.0 - PetscPowReal(o->beta1, (PetscReal)o->t);
  bc2 = 1.0 - PetscPowReal(o->beta2, (PetscReal)o->t);
  for (PetscInt k = 0; k < o->ngroups; k++) {
    const PetscReal lr = o->group_lr[k] * factor, wd = o->group_wd[k];

    for (PetscInt i = o->group_start[k]; i < o->group_start[k + 1]; i++) {
      PetscReal mhat, vhat;

      o->m[i] = o->beta1 * o->m[i] + (1.0 - o->beta1) * g[i];
      o->v[i] = o->beta2 * o->v[i] + (1.0 - o->beta2) * g[i] * g[i];
      mhat    = o->m[i] / bc1;
      vhat    = o->v[i] / bc2;
      p[i] -= lr * wd * p[i]; /* decoupled weight decay, applied to the pre-update weights */
      p[i] -= lr * mhat / (PetscSqrtReal(vhat) + o->eps);
    }
  }

  for (PetscInt i = 0; i < o->n; i++) o->ema[i] = o->ema_decay * o->ema[i] + (1.0 - o->ema_decay) * p[i];
  PetscCall(PetscLogFlops(16.0 * o->n));
  PetscFunctionReturn(0);
}

/*@
  WLMAdamWGetAverage - Returns the bias-corrected moving average of the weights.

  Input Parameters:
+ o - the optimizer
- p - current parameters, returned when no step has been taken or the average is off

  Output Parameter:
. avg - the average [n]
@*/
PetscErrorCode WLMAdamWGetAverage(const WLMAdamW *o, const PetscReal p[], PetscReal avg[])
{
  PetscReal correction;

  PetscFunctionBeginUser;
  if (o->t == 0 || o->ema_decay <= 0) {
    PetscCall(PetscArraycpy(avg, p, o->n));
    PetscFunctionReturn(0);
  }
  correction = 1.0 - PetscPowReal(o->ema_decay, (PetscReal)o->t);
  for (PetscInt i = 0; i < o->n; i++) avg[i] = o->ema[i] / correction;
  PetscFunctionReturn(0);
}
