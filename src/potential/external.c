/*
   external: particles in a learned external field,

     U(X, t) = sum_i w_i V_theta(x_i [, t]),    F_i = -w_i grad V_theta(x_i [, t]),

   V an MLP (wlm/private/dense.h) whose input is x_i, followed by t when the
   model has time input.  The acceleration F_i / w_i = -grad V(x_i) does not
   depend on the masses or on the other particles.  For a cotangent Lambda,

     grad_{x_i} (Lambda . F)  = -w_i Hess V(x_i) Lambda_i,
     grad_theta (Lambda . F)  = -sum_i w_i grad_theta (grad V(x_i) . Lambda_i),

   both from one tangent pass of the MLP along (Lambda_i, 0) and one
   reverse-tangent pass.  The parameter gradient

     grad_theta U = sum_i w_i grad_theta V(x_i)

   comes from one reverse pass with seeds w_i.  Particles on different ranks
   never interact, so a sharded evaluation only sums U over the ranks.
*/
#include <wlm/private/dense.h>

typedef struct {
  WLMExternalPart part;
} External;

/*@
  WLMExternalPartSetUp - Sizes the MLP V for the dimension and time input; returns through part->mlp.nparam.
@*/
PetscErrorCode WLMExternalPartSetUp(WLMExternalPart *part, PetscInt dim, PetscBool time_input)
{
  PetscFunctionBeginUser;
  part->dim        = dim;
  part->time_input = time_input;
  PetscCall(PetscFree(part->seeds));
  part->seeds_capacity = 0;
  PetscCall(WLMMLPSetSizes(&part->mlp, dim + (time_input ? 1 : 0), part->nlayers, part->width, part->activation));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMExternalPartDestroy(WLMExternalPart *part)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(part->seeds));
  part->seeds_capacity = 0;
  PetscCall(WLMMLPFreeWorkspace(&part->mlp));
  PetscFunctionReturn(0);
}

/* Particles per pass through V: the activations of one chunk stay in cache at width 64, and memory does not grow with n. */
#define EXTERNAL_CHUNK 512

/* Fills the input rows (x_i, t), with lambda also the tangent rows (lambda_i, 0), and the seeds w_i of m particles. */
static PetscErrorCode ExternalPartLoadRows(WLMExternalPart *part, PetscReal t, PetscInt m, const PetscReal *x, const PetscReal *w, PetscReal mass, const PetscReal *lambda)
{
  const PetscInt dim = part->dim, nin = part->mlp.nin;
  PetscReal     *in;

  PetscFunctionBeginUser;
  PetscCall(WLMMLPReserve(&part->mlp, m));
  if (part->seeds_capacity < part->mlp.capacity) {
    PetscCall(PetscFree(part->seeds));
    PetscCall(PetscMalloc1(part->mlp.capacity, &part->seeds));
    part->seeds_capacity = part->mlp.capacity;
  }
  in = part->mlp.input;
  for (PetscInt i = 0; i < m; i++) {
    for (PetscInt k = 0; k < dim; k++) in[i * nin + k] = x[i * dim + k];
    if (part->time_input) in[i * nin + dim] = t;
    part->seeds[i] = w ? w[i] : mass;
  }
  if (lambda) {
    in += m * nin;
    for (PetscInt i = 0; i < m; i++) {
      for (PetscInt k = 0; k < dim; k++) in[i * nin + k] = lambda[i * dim + k];
      if (part->time_input) in[i * nin + dim] = 0.0;
    }
  }
  PetscFunctionReturn(0);
}

/*
   Runs V on m particles and accumulates w_i V(x_i) into *U and -w_i grad V
   into F.  With lambda it also accumulates -w_i Hess V lambda_i into gradx
   and the parameter product into gradtheta.  Without lambda, gradtheta
   receives the parameter gradient sum_i w_i grad_theta V(x_i).  Any output
   may be NULL.
*/
static PetscErrorCode ExternalPartChunk(WLMExternalPart *part, const PetscReal *theta, PetscReal t, PetscInt m, const PetscReal *x, const PetscReal *w, PetscReal mass, const PetscReal *lambda, PetscReal *U, PetscReal *F, PetscReal *gradx, PetscReal *gradtheta)
{
  const PetscInt  dim = part->dim, nin = part->mlp.nin;
  const PetscBool tangent = lambda ? PETSC_TRUE : PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(ExternalPartLoadRows(part, t, m, x, w, mass, lambda));
  PetscCall(WLMMLPForward(&part->mlp, theta, m, tangent));
  if (U) {
    for (PetscInt i = 0; i < m; i++) *U += part->seeds[i] * part->mlp.output[i];
  }
  if (F || tangent || gradtheta) PetscCall(WLMMLPReverse(&part->mlp, theta, m, part->seeds, NULL, tangent, tangent ? -1.0 : 1.0, gradtheta));
  if (F) {
    for (PetscInt i = 0; i < m; i++) {
      for (PetscInt k = 0; k < dim; k++) F[i * dim + k] -= part->mlp.barin[i * nin + k];
    }
  }
  if (tangent && gradx) {
    const PetscReal *hl = part->mlp.barin + m * nin; /* w_i Hess V lambda_i */

    for (PetscInt i = 0; i < m; i++) {
      for (PetscInt k = 0; k < dim; k++) gradx[i * dim + k] -= hl[i * nin + k];
    }
  }
  PetscCall(PetscLogFlops(2.0 * m + (F ? m * dim : 0) + (gradx ? m * dim : 0)));
  PetscFunctionReturn(0);
}

/*@
  WLMExternalPartReserve - Sizes the workspace of V for calls with up to n particles (it never needs more than one chunk).
@*/
PetscErrorCode WLMExternalPartReserve(WLMExternalPart *part, PetscInt n)
{
  PetscFunctionBeginUser;
  PetscCall(WLMMLPReserve(&part->mlp, PetscMin(n, EXTERNAL_CHUNK)));
  PetscFunctionReturn(0);
}

/*@
  WLMExternalPartEvaluate - Computes this rank's share of U and subtracts the gradient from F.

  Input Parameters:
+ part  - the external part
. theta - parameters of V
. t     - time
. n     - particles on this rank
. x     - positions [n][dim]
. w     - masses [n], or NULL
- mass  - mass of every particle when w is NULL

  Output Parameters:
+ U - sum over this rank's particles of w_i V(x_i), or NULL
- F - decremented by w_i grad V(x_i) [n][dim], or NULL
@*/
PetscErrorCode WLMExternalPartEvaluate(WLMExternalPart *part, const PetscReal theta[], PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], PetscReal mass, PetscReal *U, PetscReal F[])
{
  const PetscInt dim = part->dim;

  PetscFunctionBeginUser;
  if (U) *U = 0;
  for (PetscInt i0 = 0; i0 < n; i0 += EXTERNAL_CHUNK) {
    const PetscInt m = PetscMin(EXTERNAL_CHUNK, n - i0);

    PetscCall(ExternalPartChunk(part, theta, t, m, x + i0 * dim, w ? w + i0 : NULL, mass, NULL, U, F ? F + i0 * dim : NULL, NULL, NULL));
  }
  PetscFunctionReturn(0);
}

/*@
  WLMExternalPartProducts - Adds the external part of the two force-cotangent products, and of U and F on the way.

  Input Parameters:
+ part, theta, t, n, x, w, mass - as for WLMExternalPartEvaluate()
- lambda - cotangent on the forces [n][dim]

  Output Parameters:
+ U         - sum over this rank's particles of w_i V(x_i), or NULL
. F         - decremented by w_i grad V(x_i) [n][dim], or NULL
. gradx     - incremented by -w_i Hess V(x_i) lambda_i [n][dim], or NULL
- gradtheta - incremented by -sum_i w_i grad_theta (grad V(x_i) . lambda_i), or NULL
@*/
PetscErrorCode WLMExternalPartProducts(WLMExternalPart *part, const PetscReal theta[], PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], PetscReal mass, const PetscReal lambda[], PetscReal *U, PetscReal F[], PetscReal gradx[], PetscReal gradtheta[])
{
  const PetscInt dim = part->dim;

  PetscFunctionBeginUser;
  if (U) *U = 0;
  for (PetscInt i0 = 0; i0 < n; i0 += EXTERNAL_CHUNK) {
    const PetscInt m = PetscMin(EXTERNAL_CHUNK, n - i0);

    PetscCall(ExternalPartChunk(part, theta, t, m, x + i0 * dim, w ? w + i0 : NULL, mass, lambda + i0 * dim, U, F ? F + i0 * dim : NULL, gradx ? gradx + i0 * dim : NULL, gradtheta));
  }
  PetscFunctionReturn(0);
}

/*@
  WLMExternalPartParameterGradient - Adds the external part of the parameter gradient of U, and computes U on the way.

  Input Parameters:
+ part, theta, t, n, x, w, mass - as for WLMExternalPartEvaluate()

  Output Parameters:
+ U         - sum over this rank's particles of w_i V(x_i), or NULL
- gradtheta - incremented by sum_i w_i grad_theta V(x_i) over this rank's particles [nparam of V]
@*/
PetscErrorCode WLMExternalPartParameterGradient(WLMExternalPart *part, const PetscReal theta[], PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], PetscReal mass, PetscReal *U, PetscReal gradtheta[])
{
  const PetscInt dim = part->dim;

  PetscFunctionBeginUser;
  if (U) *U = 0;
  for (PetscInt i0 = 0; i0 < n; i0 += EXTERNAL_CHUNK) {
    const PetscInt m = PetscMin(EXTERNAL_CHUNK, n - i0);

    PetscCall(ExternalPartChunk(part, theta, t, m, x + i0 * dim, w ? w + i0 : NULL, mass, NULL, U, NULL, NULL, gradtheta));
  }
  PetscFunctionReturn(0);
}

/* Options of V; the same names serve the external and meanfield types. */
PetscErrorCode WLMExternalPartSetFromOptions(WLMExternalPart *part, PetscOptionItems *PetscOptionsObject)
{
  PetscInt  n = WLM_MLP_MAX_LAYERS, width[WLM_MLP_MAX_LAYERS];
  PetscBool set;

  PetscFunctionBeginUser;
  for (PetscInt l = 0; l < part->nlayers; l++) width[l] = part->width[l];
  PetscCall(PetscOptionsIntArray("-wlm_potential_hidden", "Hidden widths of the external-field MLP V, e.g. 64,64", "WLMPotentialSetHidden", width, &n, &set));
  if (set) {
    PetscCall(WLMDenseCheckWidths("-wlm_potential_hidden", n, width));
    part->nlayers = n;
    for (PetscInt l = 0; l < n; l++) part->width[l] = width[l];
  }
  PetscCall(PetscOptionsEnum("-wlm_potential_activation", "Activation of the external-field MLP V", "WLMPotentialSetActivation", WLMActivations, (PetscEnum)part->activation, (PetscEnum *)&part->activation, NULL));
  PetscFunctionReturn(0);
}

/* Hyperparameters of V as attributes "hidden" and "activation". */
PetscErrorCode WLMExternalPartSave(WLMExternalPart *part, hid_t group)
{
  PetscFunctionBeginUser;
  PetscCall(WLMDenseWriteWidths(group, "hidden", part->nlayers, part->width));
  PetscCall(WLMDenseWriteEnum(group, "activation", WLMActivations, part->activation));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMExternalPartLoad(WLMExternalPart *part, hid_t group)
{
  PetscInt act;

  PetscFunctionBeginUser;
  PetscCall(WLMDenseReadWidths(group, "hidden", WLM_MLP_MAX_LAYERS, &part->nlayers, part->width));
  PetscCall(WLMDenseReadEnum(group, "activation", WLMActivations, &act));
  part->activation = (WLMActivation)act;
  PetscFunctionReturn(0);
}

/* Sets the defaults of V: two hidden layers of width 64 with SiLU. */
static void ExternalPartDefaults(WLMExternalPart *part)
{
  part->nlayers    = 2;
  part->width[0]   = 64;
  part->width[1]   = 64;
  part->activation = WLM_ACTIVATION_SILU;
}

/* Mass of every particle when the caller passes none. */
static PetscErrorCode ExternalMass(WLMPotential pot, PetscInt n, const PetscReal *w, PetscReal *mass)
{
  PetscFunctionBeginUser;
  *mass = 0;
  if (!w) PetscCall(WLMPotentialGetUniformMass(pot, n, mass));
  PetscFunctionReturn(0);
}

static PetscErrorCode SumOverRanks(WLMPotential pot, PetscReal *U)
{
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
  if (size > 1) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, U, 1, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)pot)));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialEnergy_External(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U)
{
  External *ext = (External *)pot->data;
  PetscReal mass;

  PetscFunctionBeginUser;
  PetscCall(ExternalMass(pot, n, w, &mass));
  PetscCall(WLMExternalPartEvaluate(&ext->part, pot->theta, t, n, x, w, mass, U, NULL));
  PetscCall(SumOverRanks(pot, U));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialForces_External(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U, PetscReal *F)
{
  External *ext = (External *)pot->data;
  PetscReal mass;

  PetscFunctionBeginUser;
  PetscCall(ExternalMass(pot, n, w, &mass));
  PetscCall(PetscArrayzero(F, n * pot->dim));
  PetscCall(WLMExternalPartEvaluate(&ext->part, pot->theta, t, n, x, w, mass, U, F));
  if (U) PetscCall(SumOverRanks(pot, U));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialForcesProducts_External(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscReal *U, PetscReal *F, PetscReal *gradx, PetscReal *gradtheta)
{
  External *ext = (External *)pot->data;
  PetscReal mass;

  PetscFunctionBeginUser;
  PetscCall(ExternalMass(pot, n, w, &mass));
  if (F) PetscCall(PetscArrayzero(F, n * pot->dim));
  if (gradx) PetscCall(PetscArrayzero(gradx, n * pot->dim));
  PetscCall(WLMExternalPartProducts(&ext->part, pot->theta, t, n, x, w, mass, lambda, U, F, gradx, gradtheta));
  if (U) PetscCall(SumOverRanks(pot, U));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialParameterGradient_External(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U, PetscReal *gradtheta)
{
  External *ext = (External *)pot->data;
  PetscReal mass;

  PetscFunctionBeginUser;
  PetscCall(ExternalMass(pot, n, w, &mass));
  PetscCall(WLMExternalPartParameterGradient(&ext->part, pot->theta, t, n, x, w, mass, U, gradtheta));
  if (U) PetscCall(SumOverRanks(pot, U));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialProducts_External(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscReal *gradx, PetscReal *gradtheta)
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialForcesProducts_External(pot, t, n, x, w, lambda, NULL, NULL, gradx, gradtheta));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetFromOptions_External(WLMPotential pot, PetscOptionItems *PetscOptionsObject)
{
  External *ext = (External *)pot->data;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "External potential options");
  PetscCall(WLMExternalPartSetFromOptions(&ext->part, PetscOptionsObject));
  PetscOptionsHeadEnd();
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetUp_External(WLMPotential pot)
{
  External *ext = (External *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMExternalPartSetUp(&ext->part, pot->dim, pot->time_input));
  pot->nparam = ext->part.mlp.nparam;
  if (pot->max_local > 0) PetscCall(WLMExternalPartReserve(&ext->part, pot->max_local));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialInitialize_External(WLMPotential pot, uint64_t seed)
{
  External *ext = (External *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMMLPInitialize(&ext->part.mlp, pot->theta, seed, 0));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialView_External(WLMPotential pot, PetscViewer viewer)
{
  External *ext = (External *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMDenseViewWidths(viewer, "external field V", ext->part.nlayers, ext->part.width, ext->part.activation));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSave_External(WLMPotential pot, hid_t group)
{
  External *ext = (External *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMExternalPartSave(&ext->part, group));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialLoad_External(WLMPotential pot, hid_t group)
{
  External *ext = (External *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMExternalPartLoad(&ext->part, group));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialDestroy_External(WLMPotential pot)
{
  External *ext = (External *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMExternalPartDestroy(&ext->part));
  PetscCall(PetscObjectComposeFunction((PetscObject)pot, "WLMPotentialSetHidden_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject)pot, "WLMPotentialSetActivation_C", NULL));
  PetscCall(PetscFree(pot->data));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetHidden_External(WLMPotential pot, PetscInt n, const PetscInt width[])
{
  External *ext = (External *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMDenseCheckWidths("WLMPotentialSetHidden()", n, width));
  ext->part.nlayers = n;
  for (PetscInt l = 0; l < n; l++) ext->part.width[l] = width[l];
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetActivation_External(WLMPotential pot, WLMActivation act)
{
  External *ext = (External *)pot->data;

  PetscFunctionBeginUser;
  ext->part.activation = act;
  PetscFunctionReturn(0);
}

/*MC
  WLMPOTENTIALEXTERNAL - "external": U = sum_i w_i V(x_i [, t]) with V a multilayer perceptron.

  Options Database Keys:
+ -wlm_potential_hidden <64,64>      - hidden widths of V
- -wlm_potential_activation <silu>   - silu, tanh, softplus or gelu

  Notes:
  Parameters start as in PyTorch's nn.Linear: weights and biases of a layer
  with fan-in k uniform in (-1/sqrt(k), 1/sqrt(k)), drawn from the seed.
M*/
PETSC_EXTERN PetscErrorCode WLMPotentialCreate_External(WLMPotential pot)
{
  External *ext;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&ext));
  ExternalPartDefaults(&ext->part);
  pot->data                   = ext;
  pot->ops->setfromoptions    = WLMPotentialSetFromOptions_External;
  pot->ops->setup             = WLMPotentialSetUp_External;
  pot->ops->initialize        = WLMPotentialInitialize_External;
  pot->ops->energy            = WLMPotentialEnergy_External;
  pot->ops->forces            = WLMPotentialForces_External;
  pot->ops->products          = WLMPotentialProducts_External;
  pot->ops->forcesproducts    = WLMPotentialForcesProducts_External;
  pot->ops->parametergradient = WLMPotentialParameterGradient_External;
  pot->ops->view              = WLMPotentialView_External;
  pot->ops->save              = WLMPotentialSave_External;
  pot->ops->load              = WLMPotentialLoad_External;
  pot->ops->destroy           = WLMPotentialDestroy_External;
  PetscCall(PetscObjectComposeFunction((PetscObject)pot, "WLMPotentialSetHidden_C", WLMPotentialSetHidden_External));
  PetscCall(PetscObjectComposeFunction((PetscObject)pot, "WLMPotentialSetActivation_C", WLMPotentialSetActivation_External));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialSetHidden - Sets the hidden widths of the external-field MLP V of the external and meanfield types.

  Logically Collective

  Input Parameters:
+ pot    - the model
. n      - number of hidden layers, 1 to 8
- widths - widths of the hidden layers [n]

  Options Database Key:
. -wlm_potential_hidden <64,64> - the widths, comma-separated
@*/
PetscErrorCode WLMPotentialSetHidden(WLMPotential pot, PetscInt n, const PetscInt widths[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCheck(!pot->setupcalled, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONGSTATE, "Cannot change the hidden widths after WLMPotentialSetUp()");
  PetscUseMethod(pot, "WLMPotentialSetHidden_C", (WLMPotential, PetscInt, const PetscInt[]), (pot, n, widths));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialSetActivation - Sets the activation of the external-field MLP V of the external and meanfield types.

  Logically Collective

  Options Database Key:
. -wlm_potential_activation <silu> - silu, tanh, softplus or gelu
@*/
PetscErrorCode WLMPotentialSetActivation(WLMPotential pot, WLMActivation act)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCheck(!pot->setupcalled, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONGSTATE, "Cannot change the activation after WLMPotentialSetUp()");
  PetscCheck(act >= WLM_ACTIVATION_SILU && act <= WLM_ACTIVATION_GELU, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "Activation %d is invalid; use silu, tanh, softplus or gelu", (int)act);
  PetscUseMethod(pot, "WLMPotentialSetActivation_C", (WLMPotential, WLMActivation), (pot, act));
  PetscFunctionReturn(0);
}
