/*
   sde: gradient-flow stochastic differential equation

     dX = -grad Psi(X) dt + sigma dW,    X_0 ~ N(0, s0^2 I),

   integrated with Euler-Maruyama, X <- X - h grad Psi(X) + sigma sqrt(h) xi,
   xi ~ N(0, I), with h = dt / m for the smallest m such that h does not
   exceed the requested sub-step (default 0.001).

   Sampling modes:
     trajectories  one population is followed, snapshot k is its state at t = k dt;
     independent   snapshot k is simulated from its own fresh draw of X_0 up to
                   t = k dt, so no particle appears in two snapshots.

   Velocities (optional) are the probability-flow velocity
     v(x, t) = -grad Psi(x) - sigma^2 / 2 grad log p_t(x),
   which moves the density p_t exactly as the SDE does.  It is offered only
   for the quadratic potential, where p_t is Gaussian and known in closed form:
   with Psi = |x|^2 / 2 and X_0 ~ N(0, s0^2 I),
     p_t = N(0, s_t^2 I),  s_t^2 = s0^2 e^{-2t} + sigma^2 / 2 (1 - e^{-2t}),
     v(x, t) = (sigma^2 / (2 s_t^2) - 1) x.
   For the other potentials p_t is unknown and no velocity is written.

   Particle i uses random stream i (trajectories) or N (k + 1) + i for
   snapshot k (independent), so the output does not depend on the rank count.
*/
#include "generateimpl.h"

const char *const WLMSDEPotentials[] = {"quadratic", "styblinski_tang", "bohachevsky", "oakley_ohagan", "wavy_plateau", "WLMSDEPotential", "WLM_SDE_", NULL};
const char *const WLMSDEModes[]      = {"trajectories", "independent", "WLMSDEMode", "WLM_SDE_", NULL};

typedef struct {
  WLMSDEPotential potential;
  WLMSDEMode      mode;
  PetscReal       sigma;        /* noise level */
  PetscReal       step;         /* largest Euler-Maruyama sub-step */
  PetscReal       init_variance; /* s0^2 */
  PetscInt        substeps;     /* m, sub-steps per snapshot interval, set up from dt and step */
  PetscReal      *x, *v, *grad; /* this rank's particles [n][dim] */
  WLMRandom      *streams;
} SDE;

/*@
  WLMSDEPotentialCompute - Evaluates one of the SDE generator's potentials Psi and its gradient at a point.

  Not Collective

  Input Parameters:
+ potential - the potential
. dim       - dimension d (2 for Bohachevsky)
- x         - the point [dim]

  Output Parameters:
+ psi  - Psi(x), or NULL
- grad - grad Psi(x) [dim], or NULL
@*/
PetscErrorCode WLMSDEPotentialCompute(WLMSDEPotential potential, PetscInt dim, const PetscReal x[], PetscReal *psi, PetscReal grad[])
{
  PetscReal value = 0;

  PetscFunctionBeginUser;
  switch (potential) {
  case WLM_SDE_QUADRATIC:
    for (PetscInt k = 0; k < dim; k++) {
      value += 0.5 * x[k] * x[k];
      if (grad) grad[k] = x[k];
    }
    break;
  case WLM_SDE_STYBLINSKI_TANG:
    for (PetscInt k = 0; k < dim; k++) {
      const PetscReal y = x[k];

      value += 0.5 * (y * y * y * y - 16 * y * y + 5 * y);
      if (grad) grad[k] = 2 * y * y * y - 16 * y + 2.5;
    }
    break;
  case WLM_SDE_BOHACHEVSKY:
    PetscCheck(dim == 2, PETSC_COMM_SELF, PETSC_ERR_SUP, "The Bohachevsky potential is defined in 2 dimensions, not %" PetscInt_FMT "; use -wlm_generate_dim 2", dim);
    value = x[0] * x[0] + 2 * x[1] * x[1] - 0.3 * PetscCosReal(3 * PETSC_PI * x[0]) - 0.4 * PetscCosReal(4 * PETSC_PI * x[1]) + 0.7;
    if (grad) {
      grad[0] = 2 * x[0] + 0.9 * PETSC_PI * PetscSinReal(3 * PETSC_PI * x[0]);
      grad[1] = 4 * x[1] + 1.6 * PETSC_PI * PetscSinReal(4 * PETSC_PI * x[1]);
    }
    break;
  case WLM_SDE_OAKLEY_OHAGAN:
    for (PetscInt k = 0; k < dim; k++) {
      value += x[k] + x[k] * x[k] + (k > 0 ? x[k] * x[k - 1] : 0);
      if (grad) grad[k] = 1 + 2 * x[k] + (k > 0 ? x[k - 1] : 0) + (k < dim - 1 ? x[k + 1] : 0);
    }
    break;
  case WLM_SDE_WAVY_PLATEAU:
    for (PetscInt k = 0; k < dim; k++) {
      value += PetscSinReal(x[k]);
      if (grad) grad[k] = PetscCosReal(x[k]);
    }
    break;
  }
  if (psi) *psi = value;
  PetscFunctionReturn(0);
}

/* Variance s_t^2 of every coordinate under the quadratic potential (the OU process started from N(0, s0^2 I)). */
static PetscReal QuadraticVariance(const SDE *sde, PetscReal t)
{
  const PetscReal decay = PetscExpReal(-2 * t);

  return sde->init_variance * decay + 0.5 * sde->sigma * sde->sigma * (1 - decay);
}

/* Draws X_0 for the local particles, each from the stream numbered first + its global index. */
static void SDEDrawInitial(WLMGenerator gen, SDE *sde, uint64_t first)
{
  const PetscReal s0 = PetscSqrtReal(sde->init_variance);

  for (PetscInt i = 0; i < gen->n; i++) {
    WLMRandomSeed(&sde->streams[i], (uint64_t)gen->seed, first + (uint64_t)(gen->start + i));
    for (PetscInt k = 0; k < gen->dim; k++) sde->x[i * gen->dim + k] = s0 * WLMRandomNormal(&sde->streams[i]);
  }
}

/* Advances the local particles by nsteps Euler-Maruyama sub-steps. */
static PetscErrorCode SDEAdvance(WLMGenerator gen, SDE *sde, PetscInt nsteps)
{
  const PetscInt  dim = gen->dim;
  const PetscReal h = gen->dt / sde->substeps, noise = sde->sigma * PetscSqrtReal(h);

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMGENERATOR_Step, gen, 0, 0, 0));
  for (PetscInt s = 0; s < nsteps; s++) {
    for (PetscInt i = 0; i < gen->n; i++) {
      PetscReal *xi = &sde->x[i * dim];

      PetscCall(WLMSDEPotentialCompute(sde->potential, dim, xi, NULL, sde->grad));
      for (PetscInt k = 0; k < dim; k++) xi[k] += -h * sde->grad[k] + noise * WLMRandomNormal(&sde->streams[i]);
    }
  }
  /* gradient (a few flops per coordinate, counted as 4), drift and noise (4), Box-Muller (about 10 per pair of normals, 5 per value) */
  PetscCall(PetscLogFlops((PetscLogDouble)nsteps * gen->n * dim * 13.0));
  PetscCall(PetscLogEventEnd(WLMGENERATOR_Step, gen, 0, 0, 0));
  PetscFunctionReturn(0);
}

/* Adds snapshot k from the current local state, with the probability-flow velocity when requested. */
static PetscErrorCode SDEAddSnapshot(WLMGenerator gen, SDE *sde, WLMSnapshots snap, PetscInt k)
{
  const PetscReal t = k * gen->dt;

  PetscFunctionBeginUser;
  if (gen->velocities) {
    const PetscReal factor = 0.5 * sde->sigma * sde->sigma / QuadraticVariance(sde, t) - 1;

    for (PetscInt i = 0; i < gen->n * gen->dim; i++) sde->v[i] = factor * sde->x[i];
  }
  PetscCall(WLMSnapshotsAddSnapshot(snap, t, gen->n, sde->x, gen->velocities ? sde->v : NULL, NULL, NULL));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorGenerate_SDE(WLMGenerator gen, WLMSnapshots snap)
{
  SDE *sde = (SDE *)gen->data;

  PetscFunctionBeginUser;
  if (sde->mode == WLM_SDE_TRAJECTORIES) {
    SDEDrawInitial(gen, sde, 0);
    PetscCall(SDEAddSnapshot(gen, sde, snap, 0));
    for (PetscInt k = 1; k < gen->T; k++) {
      PetscCall(SDEAdvance(gen, sde, sde->substeps));
      PetscCall(SDEAddSnapshot(gen, sde, snap, k));
    }
  } else {
    for (PetscInt k = 0; k < gen->T; k++) {
      SDEDrawInitial(gen, sde, (uint64_t)gen->N * (uint64_t)(k + 1));
      PetscCall(SDEAdvance(gen, sde, k * sde->substeps));
      PetscCall(SDEAddSnapshot(gen, sde, snap, k));
    }
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorSetUp_SDE(WLMGenerator gen)
{
  SDE     *sde  = (SDE *)gen->data;
  MPI_Comm comm = PetscObjectComm((PetscObject)gen);

  PetscFunctionBeginUser;
  PetscCheck(sde->step > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "SDE sub-step %.6g is invalid; it must be positive", (double)sde->step);
  PetscCheck(sde->sigma >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "SDE noise level sigma = %.6g is invalid; it must be non-negative", (double)sde->sigma);
  PetscCheck(sde->init_variance > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Initial variance %.6g is invalid; it must be positive", (double)sde->init_variance);
  PetscCheck(sde->potential != WLM_SDE_BOHACHEVSKY || gen->dim == 2, comm, PETSC_ERR_SUP, "The Bohachevsky potential is defined in 2 dimensions, not %" PetscInt_FMT "; use -wlm_generate_dim 2", gen->dim);
  PetscCheck(!gen->velocities || sde->potential == WLM_SDE_QUADRATIC, comm, PETSC_ERR_SUP,
             "Velocities are available only for the quadratic potential, where the density p_t and so the probability-flow velocity -grad Psi - sigma^2/2 grad log p_t are known exactly; the %s potential has no closed-form p_t, so pass -wlm_generate_velocities 0",
             WLMSDEPotentials[sde->potential]);
  sde->substeps = (PetscInt)PetscCeilReal(gen->dt / sde->step * (1 - 1e-12));
  sde->substeps = PetscMax(sde->substeps, 1);
  PetscCall(PetscFree4(sde->x, sde->v, sde->grad, sde->streams));
  PetscCall(PetscMalloc4(gen->n * gen->dim + 1, &sde->x, gen->n * gen->dim + 1, &sde->v, gen->dim, &sde->grad, gen->n + 1, &sde->streams));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorSetFromOptions_SDE(WLMGenerator gen, PetscOptionItems *PetscOptionsObject)
{
  SDE *sde = (SDE *)gen->data;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Gradient-flow SDE options");
  PetscCall(PetscOptionsEnum("-wlm_generate_sde_potential", "Potential Psi", "WLMGeneratorSDESetPotential", WLMSDEPotentials, (PetscEnum)sde->potential, (PetscEnum *)&sde->potential, NULL));
  PetscCall(PetscOptionsEnum("-wlm_generate_sde_mode", "trajectories: follow one population; independent: a fresh population per snapshot", "WLMGeneratorSDESetMode", WLMSDEModes, (PetscEnum)sde->mode, (PetscEnum *)&sde->mode, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_sde_step", "Largest Euler-Maruyama sub-step (time units)", "WLMGeneratorSDESetStep", sde->step, &sde->step, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_sde_sigma", "Noise level sigma", "", sde->sigma, &sde->sigma, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_sde_init_variance", "Variance s0^2 of every coordinate of X_0", "", sde->init_variance, &sde->init_variance, NULL));
  PetscOptionsHeadEnd();
  gen->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorAttributes_SDE(WLMGenerator gen, WLMSnapshots snap)
{
  SDE *sde = (SDE *)gen->data;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsSetAttribute(snap, "generate_sde_potential", WLMSDEPotentials[sde->potential]));
  PetscCall(WLMSnapshotsSetAttribute(snap, "generate_sde_mode", WLMSDEModes[sde->mode]));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_sde_step", sde->step));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_sde_substep", gen->dt / sde->substeps));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_sde_sigma", sde->sigma));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_sde_init_variance", sde->init_variance));
  if (gen->velocities) PetscCall(WLMSnapshotsSetAttribute(snap, "velocity_kind", "probability flow -grad Psi - sigma^2/2 grad log p_t, exact for the Gaussian p_t of the quadratic potential"));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorView_SDE(WLMGenerator gen, PetscViewer viewer)
{
  SDE *sde = (SDE *)gen->data;

  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "potential %s, %s, sigma %.6g, X_0 ~ N(0, %.6g I), Euler-Maruyama sub-step at most %.6g\n", WLMSDEPotentials[sde->potential], WLMSDEModes[sde->mode], (double)sde->sigma, (double)sde->init_variance, (double)sde->step));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorDestroy_SDE(WLMGenerator gen)
{
  SDE *sde = (SDE *)gen->data;

  PetscFunctionBeginUser;
  PetscCall(PetscFree4(sde->x, sde->v, sde->grad, sde->streams));
  PetscCall(PetscObjectComposeFunction((PetscObject)gen, "WLMGeneratorSDESetPotential_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject)gen, "WLMGeneratorSDESetMode_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject)gen, "WLMGeneratorSDESetStep_C", NULL));
  PetscCall(PetscFree(gen->data));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorSDESetPotential_SDE(WLMGenerator gen, WLMSDEPotential potential)
{
  PetscFunctionBeginUser;
  ((SDE *)gen->data)->potential = potential;
  gen->setupcalled              = PETSC_FALSE;
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorSDESetMode_SDE(WLMGenerator gen, WLMSDEMode mode)
{
  PetscFunctionBeginUser;
  ((SDE *)gen->data)->mode = mode;
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorSDESetStep_SDE(WLMGenerator gen, PetscReal step)
{
  PetscFunctionBeginUser;
  PetscCheck(step > 0, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_OUTOFRANGE, "SDE sub-step %.6g is invalid; it must be positive", (double)step);
  ((SDE *)gen->data)->step = step;
  gen->setupcalled         = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSDESetPotential - Chooses the potential Psi of the gradient-flow SDE (default quadratic).

  Logically Collective

  Options Database Key:
. -wlm_generate_sde_potential <quadratic|styblinski_tang|bohachevsky|oakley_ohagan|wavy_plateau> - the potential
@*/
PetscErrorCode WLMGeneratorSDESetPotential(WLMGenerator gen, WLMSDEPotential potential)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscTryMethod(gen, "WLMGeneratorSDESetPotential_C", (WLMGenerator, WLMSDEPotential), (gen, potential));
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSDESetMode - Chooses between following one population (trajectories, the default) and a fresh population per snapshot (independent).

  Logically Collective

  Options Database Key:
. -wlm_generate_sde_mode <trajectories|independent> - the sampling mode
@*/
PetscErrorCode WLMGeneratorSDESetMode(WLMGenerator gen, WLMSDEMode mode)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscTryMethod(gen, "WLMGeneratorSDESetMode_C", (WLMGenerator, WLMSDEMode), (gen, mode));
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSDESetStep - Sets the largest Euler-Maruyama sub-step (default 0.001); dt / step is rounded up to whole sub-steps.

  Logically Collective

  Options Database Key:
. -wlm_generate_sde_step <h> - the sub-step
@*/
PetscErrorCode WLMGeneratorSDESetStep(WLMGenerator gen, PetscReal step)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscTryMethod(gen, "WLMGeneratorSDESetStep_C", (WLMGenerator, PetscReal), (gen, step));
  PetscFunctionReturn(0);
}

/*MC
  WLMGENERATORSDE - "sde": gradient-flow SDE dX = -grad Psi(X) dt + sigma dW with Euler-Maruyama sub-steps.

  Options Database Keys:
+ -wlm_generate_sde_potential <quadratic>   - quadratic, styblinski_tang, bohachevsky, oakley_ohagan or wavy_plateau
. -wlm_generate_sde_mode <trajectories>     - trajectories or independent
. -wlm_generate_sde_step <0.001>            - largest Euler-Maruyama sub-step
. -wlm_generate_sde_sigma <1>               - noise level
- -wlm_generate_sde_init_variance <0.2>     - variance of each coordinate of X_0

  Defaults of the common options: 1000 particles, 21 snapshots 0.01 apart, no velocities.
M*/
PETSC_EXTERN PetscErrorCode WLMGeneratorCreate_SDE(WLMGenerator gen)
{
  SDE *sde;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&sde));
  sde->potential     = WLM_SDE_QUADRATIC;
  sde->mode          = WLM_SDE_TRAJECTORIES;
  sde->sigma         = 1.0;
  sde->step          = 1e-3;
  sde->init_variance = 0.2;
  gen->data          = sde;
  WLMGeneratorSetTypeDefaults(gen, 1000, 21, 0.01, PETSC_FALSE);
  gen->ops->setfromoptions = WLMGeneratorSetFromOptions_SDE;
  gen->ops->setup          = WLMGeneratorSetUp_SDE;
  gen->ops->generate       = WLMGeneratorGenerate_SDE;
  gen->ops->attributes     = WLMGeneratorAttributes_SDE;
  gen->ops->view           = WLMGeneratorView_SDE;
  gen->ops->destroy        = WLMGeneratorDestroy_SDE;
  PetscCall(PetscObjectComposeFunction((PetscObject)gen, "WLMGeneratorSDESetPotential_C", WLMGeneratorSDESetPotential_SDE));
  PetscCall(PetscObjectComposeFunction((PetscObject)gen, "WLMGeneratorSDESetMode_C", WLMGeneratorSDESetMode_SDE));
  PetscCall(PetscObjectComposeFunction((PetscObject)gen, "WLMGeneratorSDESetStep_C", WLMGeneratorSDESetStep_SDE));
  PetscFunctionReturn(0);
}
