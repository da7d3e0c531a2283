/*
   WLMLoss life cycle and dispatch: Create, SetType, Set..., SetFromOptions,
   SetUp, Compute with its checks and log event, View and Destroy.  Loss types
   live in their own files and fill in the operations table declared in
   wlm/private/lossimpl.h.
*/
#include <wlm/private/lossimpl.h>

/*@
  WLMLossCreate - Creates a loss with no type.

  Collective

  Input Parameter:
. comm - ranks that share the particles of one pair of clouds; PETSC_COMM_SELF when each rank has whole clouds

  Output Parameter:
. loss - the loss

  Level: beginner

.seealso: WLMLossSetType(), WLMLossSetFromOptions(), WLMLossSetUp(), WLMLossCompute()
@*/
PetscErrorCode WLMLossCreate(MPI_Comm comm, WLMLoss *loss)
{
  WLMLoss l;

  PetscFunctionBeginUser;
  PetscValidPointer(loss, 2);
  PetscCall(WLMLossInitializePackage());
  PetscCall(PetscHeaderCreate(l, WLMLOSS_CLASSID, "WLMLoss", "Discrepancy between particle clouds", "WLMLoss", comm, WLMLossDestroy, WLMLossView));
  l->dim       = -1;
  l->p         = 2;
  l->blur      = PETSC_DEFAULT;
  l->blur_used = 0;
  l->scaling   = 0.9;
  l->exchange  = WLM_LOSS_EXCHANGE_AUTO;
  l->ring_min  = 200000;
  *loss        = l;
  PetscFunctionReturn(0);
}

/*@
  WLMLossSetType - Selects the loss: sinkhorn, mmd_gaussian, energy, or a registered type.

  Collective

  Options Database Key:
. -wlm_loss_type <type> - the loss type
@*/
PetscErrorCode WLMLossSetType(WLMLoss loss, WLMLossType type)
{
  PetscErrorCode (*create)(WLMLoss);
  PetscBool same;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscCall(PetscObjectTypeCompare((PetscObject)loss, type, &same));
  if (same) PetscFunctionReturn(0);
  PetscCall(PetscFunctionListFind(WLMLossList, type, &create));
  PetscCheck(create, PetscObjectComm((PetscObject)loss), PETSC_ERR_ARG_UNKNOWN_TYPE, "Unknown loss type \"%s\"; use sinkhorn, mmd_gaussian or energy", type);
  if (loss->ops->destroy) PetscCall((*loss->ops->destroy)(loss));
  PetscCall(PetscMemzero(loss->ops, sizeof(struct _WLMLossOps)));
  loss->data        = NULL;
  loss->needs_blur  = PETSC_TRUE;
  loss->setupcalled = PETSC_FALSE;
  PetscCall(PetscObjectChangeTypeName((PetscObject)loss, type));
  PetscCall((*create)(loss));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMLossGetType(WLMLoss loss, WLMLossType *type)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  *type = ((PetscObject)loss)->type_name;
  PetscFunctionReturn(0);
}

/*@
  WLMLossSetDimension - Sets the spatial dimension d of both clouds.

  Logically Collective

  Notes:
  The position arrays passed to WLMLossCompute() are [n][d]; every rank must set the same d.
@*/
PetscErrorCode WLMLossSetDimension(WLMLoss loss, PetscInt dim)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscCheck(dim >= 1, PetscObjectComm((PetscObject)loss), PETSC_ERR_ARG_OUTOFRANGE, "Dimension %" PetscInt_FMT " is invalid; particles need at least 1 coordinate", dim);
  loss->dim         = dim;
  loss->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMLossSetExponent - Sets p in the Sinkhorn cost |x - y|^p / p and eps = blur^p.

  Logically Collective

  Options Database Key:
. -wlm_loss_p <2> - 1 or 2

  Notes:
  Only the sinkhorn type uses p.
@*/
PetscErrorCode WLMLossSetExponent(WLMLoss loss, PetscInt p)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscCheck(p == 1 || p == 2, PetscObjectComm((PetscObject)loss), PETSC_ERR_ARG_OUTOFRANGE, "Exponent p = %" PetscInt_FMT " is not supported; use 1 or 2", p);
  loss->p = p;
  PetscFunctionReturn(0);
}

/*@
  WLMLossSetBlur - Sets the length scale of the loss: eps = blur^p for sinkhorn, the kernel width for mmd_gaussian.

  Logically Collective

  Input Parameters:
+ loss - the loss
- blur - positive length in the units of the positions, or PETSC_DEFAULT to estimate it from the observed cloud at every call

  Options Database Key:
. -wlm_loss_blur <blur> - the blur

  Notes:
  With PETSC_DEFAULT (the initial setting) every WLMLossCompute() estimates
  the blur from the observed cloud y as WLMLossEstimateBlur() does, from a
  sample of 1000 particles drawn with seed 0; the estimate costs about 5e5
  distances per call.  WLMLossEstimateBlur() once and WLMLossSetBlur() avoid
  that cost and keep the loss the same from call to call.
@*/
PetscErrorCode WLMLossSetBlur(WLMLoss loss, PetscReal blur)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscCheck(blur == (PetscReal)PETSC_DEFAULT || (blur > 0 && !PetscIsInfOrNanReal(blur)), PetscObjectComm((PetscObject)loss), PETSC_ERR_ARG_OUTOFRANGE, "Blur %g is invalid; it must be a positive length", (double)blur);
  loss->blur = blur;
  PetscFunctionReturn(0);
}

/*@
  WLMLossGetBlur - Returns the blur set by WLMLossSetBlur(), or the estimate used by the last WLMLossCompute() when none was set (0 before the first call).

  Not Collective
@*/
PetscErrorCode WLMLossGetBlur(WLMLoss loss, PetscReal *blur)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  *blur = loss->blur == (PetscReal)PETSC_DEFAULT ? loss->blur_used : loss->blur;
  PetscFunctionReturn(0);
}

/*@
  WLMLossSetScaling - Sets the ratio between successive blurs of the Sinkhorn annealing (eps is multiplied by scaling^p per iteration).

  Logically Collective

  Options Database Key:
. -wlm_loss_scaling <0.9> - ratio in (0, 1); larger values take more iterations and track the optimum more closely
@*/
PetscErrorCode WLMLossSetScaling(WLMLoss loss, PetscReal scaling)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscCheck(scaling > 0 && scaling < 1, PetscObjectComm((PetscObject)loss), PETSC_ERR_ARG_OUTOFRANGE, "Scaling %g is invalid; it must lie strictly between 0 and 1", (double)scaling);
  loss->scaling = scaling;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMLossSetOptionsPrefix(WLMLoss loss, const char prefix[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscCall(PetscObjectSetOptionsPrefix((PetscObject)loss, prefix));
  PetscFunctionReturn(0);
}

/*@
  WLMLossSetFromOptions - Reads the loss options.

  Collective

  Options Database Keys:
+ -wlm_loss_type <sinkhorn>  - sinkhorn, mmd_gaussian or energy
. -wlm_loss_p <2>            - exponent p of the Sinkhorn cost |x - y|^p / p, 1 or 2
. -wlm_loss_blur <blur>      - length scale in position units (default: estimated from the observed cloud at every call)
- -wlm_loss_scaling <0.9>    - blur ratio between Sinkhorn annealing iterations

  Each type adds its own options; run with -help to list them.
@*/
PetscErrorCode WLMLossSetFromOptions(WLMLoss loss)
{
  char      type[256];
  PetscBool flg;
  PetscInt  p       = loss->p;
  PetscReal blur    = loss->blur, scaling = loss->scaling;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscObjectOptionsBegin((PetscObject)loss);
  PetscCall(PetscOptionsFList("-wlm_loss_type", "Loss type", "WLMLossSetType", WLMLossList, ((PetscObject)loss)->type_name ? ((PetscObject)loss)->type_name : WLMLOSSSINKHORN, type, sizeof(type), &flg));
  if (flg || !((PetscObject)loss)->type_name) PetscCall(WLMLossSetType(loss, flg ? type : WLMLOSSSINKHORN));
  PetscCall(PetscOptionsInt("-wlm_loss_p", "Exponent p of the Sinkhorn cost |x - y|^p / p (1 or 2)", "WLMLossSetExponent", p, &p, &flg));
  if (flg) PetscCall(WLMLossSetExponent(loss, p));
  PetscCall(PetscOptionsReal("-wlm_loss_blur", "Length scale in position units: eps = blur^p, or the Gaussian kernel width (-2, PETSC_DEFAULT: estimated from the observed cloud at every call)", "WLMLossSetBlur", blur, &blur, &flg));
  if (flg) PetscCall(WLMLossSetBlur(loss, blur));
  PetscCall(PetscOptionsReal("-wlm_loss_scaling", "Blur ratio between Sinkhorn annealing iterations, in (0, 1)", "WLMLossSetScaling", scaling, &scaling, &flg));
  if (flg) PetscCall(WLMLossSetScaling(loss, scaling));
  PetscCall(PetscOptionsEnum("-wlm_loss_exchange", "How sharded clouds meet: gather both on every rank, pass blocks around a ring (memory per rank O(N / P)), or auto (ring from -wlm_loss_ring_min particles on several ranks)", "", WLMLossExchanges, (PetscEnum)loss->exchange, (PetscEnum *)&loss->exchange, NULL));
  PetscCall(PetscOptionsInt("-wlm_loss_ring_min", "With -wlm_loss_exchange auto: smallest N + M that uses the ring", "", loss->ring_min, &loss->ring_min, NULL));
  if (loss->ops->setfromoptions) PetscCall((*loss->ops->setfromoptions)(loss, PetscOptionsObject));
  PetscCall(PetscObjectProcessOptionsHandlers((PetscObject)loss, PetscOptionsObject));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/*@
  WLMLossSetUp - Checks the settings; selects the sinkhorn type when none was set.

  Collective

  Notes:
  Workspaces are sized by the first WLMLossCompute() that needs them and kept,
  so later calls with no larger clouds do not allocate.
@*/
PetscErrorCode WLMLossSetUp(WLMLoss loss)
{
  MPI_Comm    comm;
  PetscInt    dims[2];
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  if (loss->setupcalled) PetscFunctionReturn(0);
  comm = PetscObjectComm((PetscObject)loss);
  if (!((PetscObject)loss)->type_name) PetscCall(WLMLossSetType(loss, WLMLOSSSINKHORN));
  PetscCheck(loss->dim >= 1, comm, PETSC_ERR_ARG_WRONGSTATE, "Loss dimension is not set; call WLMLossSetDimension()");
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (size > 1) {
    dims[0] = -loss->dim;
    dims[1] = loss->dim;
    PetscCall(MPIU_Allreduce(MPI_IN_PLACE, dims, 2, MPIU_INT, MPI_MAX, comm));
    PetscCheck(-dims[0] == dims[1], comm, PETSC_ERR_ARG_INCOMP, "Dimension mismatch: the ranks set dimensions from %" PetscInt_FMT " to %" PetscInt_FMT "; call WLMLossSetDimension() with the same value on every rank", -dims[0], dims[1]);
  }
  if (loss->ops->setup) PetscCall((*loss->ops->setup)(loss));
  loss->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/*@
  WLMLossCompute - Computes the loss between a predicted and an observed cloud, and its gradient with respect to the predicted positions.

  Collective

  Input Parameters:
+ loss - the loss
. n    - predicted particles on this rank
. x    - their positions [n][dim]
. a    - their masses [n], or NULL for uniform masses
. m    - observed particles on this rank
. y    - their positions [m][dim]
- b    - their masses [m], or NULL for uniform masses

  Output Parameters:
+ value - the loss, the same on every rank
- gradx - d value / d x for this rank's particles [n][dim], or NULL

  Notes:
  Masses need not sum to 1: each cloud's masses are divided by their total over
  the communicator, and the gradient is that of the loss of the normalized
  clouds.  Masses must be non-negative with a positive total, and either given
  on every rank or NULL on every rank.  The clouds may have different sizes and
  any split over the ranks; a rank may pass no particles.

  Errors name the offending value: an empty cloud, positions that are not
  finite, a negative mass, a total mass that is not positive, ranks that
  disagree on the dimension.

.seealso: WLMLossComputeWithMassGradient()
@*/
PetscErrorCode WLMLossCompute(WLMLoss loss, PetscInt n, const PetscReal x[], const PetscReal a[], PetscInt m, const PetscReal y[], const PetscReal b[], PetscReal *value, PetscReal gradx[])
{
  PetscFunctionBeginUser;
  PetscCall(WLMLossComputeWithMassGradient(loss, n, x, a, m, y, b, value, gradx, NULL));
  PetscFunctionReturn(0);
}

/* grada_i = d value / d (mass i as passed) for this rank's particles, from the derivatives phi with respect to the normalized masses. */
static PetscErrorCode MassGradient(WLMLoss loss, const PetscReal phi[], PetscReal grada[])
{
  const WLMLossClouds *cl   = &loss->clouds;
  PetscReal            mean = 0;

  PetscFunctionBeginUser;
  /* a_i = w_i / W gives d/dw_i = (phi_i - sum_k a_k phi_k) / W */
  for (PetscInt k = 0; k < cl->N; k++) mean += cl->a[k] * phi[k];
  for (PetscInt i = 0; i < cl->n; i++) grada[i] = (phi[cl->xstart + i] - mean) / cl->atotal;
  PetscCall(PetscLogFlops(2.0 * cl->N + 2.0 * cl->n));
  PetscFunctionReturn(0);
}

/*@
  WLMLossComputeWithMassGradient - Computes the loss, its gradient with respect to the predicted positions, and its gradient with respect to the predicted masses.

  Collective

  Input Parameters: as for WLMLossCompute()

  Output Parameters:
+ value - the loss, the same on every rank
. gradx - d value / d x for this rank's particles [n][dim], or NULL
- grada - d value / d a for this rank's masses [n] as passed, or NULL; with NULL masses, the derivatives with respect to masses that are all 1

  Notes:
  The loss depends on the masses through their normalization a_i / sum_k a_k,
  so grada is orthogonal to the masses: sum_i a_i grada_i = 0 over all ranks.
  For sinkhorn the derivative with respect to the normalized masses is f - fa,
  the difference of the last dual potentials of OT(a, b) and OT(a, a).  Like
  the position gradient it follows from the envelope theorem and is exact at
  convergence.  For mmd_gaussian and energy it is exact.

.seealso: WLMLossCompute()
@*/
PetscErrorCode WLMLossComputeWithMassGradient(WLMLoss loss, PetscInt n, const PetscReal x[], const PetscReal a[], PetscInt m, const PetscReal y[], const PetscReal b[], PetscReal *value, PetscReal gradx[], PetscReal grada[])
{
  WLMLossClouds *cl = &loss->clouds;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscValidRealPointer(value, 8);
  PetscCall(WLMLossSetUp(loss));
  PetscCall(PetscLogEventBegin(WLMLOSS_Compute, loss, 0, 0, 0));
  if (!grada) {
    PetscBool use, fallback = PETSC_TRUE;

    loss->ring.gradient = gradx ? PETSC_TRUE : PETSC_FALSE;
    PetscCall(WLMLossRingSetUp(loss, n, x, m, y, (PetscBool)(!a && !b), &use));
    if (use) PetscCall((*loss->ops->computering)(loss, value, gradx, &fallback));
    loss->ring_used = (PetscBool)(use && !fallback);
    if (loss->ring_used) {
      PetscCall(PetscLogEventEnd(WLMLOSS_Compute, loss, 0, 0, 0));
      PetscCheck(!PetscIsInfOrNanReal(*value), PetscObjectComm((PetscObject)loss), PETSC_ERR_FP, "Loss of type %s is %g for blur %g; the clouds or the blur are outside the range the loss can represent", ((PetscObject)loss)->type_name, (double)*value, (double)loss->blur_used);
      PetscFunctionReturn(0);
    }
  }
  loss->ring_used = PETSC_FALSE;
  PetscCall(WLMLossCloudsGather(loss, n, x, a, m, y, b, gradx ? PETSC_TRUE : PETSC_FALSE));
  if (loss->blur == (PetscReal)PETSC_DEFAULT && loss->needs_blur) {
    PetscCall(WLMLossBlurFromSample(loss, cl->M, WLM_LOSS_BLUR_SAMPLE, cl->yt, &loss->blur_used));
    PetscCall(PetscInfo(loss, "Blur estimated from the observed cloud: %g\n", (double)loss->blur_used));
  } else if (loss->blur != (PetscReal)PETSC_DEFAULT) loss->blur_used = loss->blur;
  if (grada && cl->N > loss->capmassgrad) {
    PetscCall(PetscFree(loss->massgrad));
    PetscCall(PetscMalloc1(cl->N, &loss->massgrad));
    loss->capmassgrad = cl->N;
  }
  PetscCall((*loss->ops->compute)(loss, value, cl->gradient ? gradx : NULL, grada ? loss->massgrad : NULL));
  if (grada) PetscCall(MassGradient(loss, loss->massgrad, grada));
  PetscCall(PetscLogEventEnd(WLMLOSS_Compute, loss, 0, 0, 0));
  PetscCheck(!PetscIsInfOrNanReal(*value), PetscObjectComm((PetscObject)loss), PETSC_ERR_FP, "Loss of type %s is %g for blur %g; the clouds or the blur are outside the range the loss can represent", ((PetscObject)loss)->type_name, (double)*value, (double)loss->blur_used);
  PetscFunctionReturn(0);
}

/*@
  WLMLossView - Prints the type and settings of the loss.

  Collective
@*/
PetscErrorCode WLMLossView(WLMLoss loss, PetscViewer viewer)
{
  PetscBool isascii;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(PetscObjectComm((PetscObject)loss), &viewer));
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &isascii));
  if (!isascii) PetscFunctionReturn(0);
  PetscCall(PetscObjectPrintClassNamePrefixType((PetscObject)loss, viewer));
  PetscCall(PetscViewerASCIIPushTab(viewer));
  if (loss->blur == (PetscReal)PETSC_DEFAULT) PetscCall(PetscViewerASCIIPrintf(viewer, "dimension %" PetscInt_FMT ", blur estimated from the observed cloud at every call\n", loss->dim));
  else PetscCall(PetscViewerASCIIPrintf(viewer, "dimension %" PetscInt_FMT ", blur %g\n", loss->dim, (double)loss->blur));
  PetscCall(PetscViewerASCIIPrintf(viewer, "clouds on several ranks: %s exchange (auto: ring from %" PetscInt_FMT " particles)\n", WLMLossExchanges[loss->exchange], loss->ring_min));
  if (loss->ops->view) PetscCall((*loss->ops->view)(loss, viewer));
  PetscCall(PetscViewerASCIIPopTab(viewer));
  PetscFunctionReturn(0);
}

/*@
  WLMLossDestroy - Frees a loss.

  Collective
@*/
PetscErrorCode WLMLossDestroy(WLMLoss *loss)
{
  PetscFunctionBeginUser;
  if (!*loss) PetscFunctionReturn(0);
  PetscValidHeaderSpecific(*loss, WLMLOSS_CLASSID, 1);
  if (--((PetscObject)(*loss))->refct > 0) {
    *loss = NULL;
    PetscFunctionReturn(0);
  }
  if ((*loss)->ops->destroy) PetscCall((*(*loss)->ops->destroy)(*loss));
  PetscCall(WLMLossCloudsDestroy(&(*loss)->clouds));
  PetscCall(WLMLossPairWorkDestroy(&(*loss)->work));
  PetscCall(WLMLossRingDestroy(&(*loss)->ring));
  PetscCall(PetscFree((*loss)->blurwork));
  PetscCall(PetscFree((*loss)->massgrad));
  PetscCall(PetscHeaderDestroy(loss));
  PetscFunctionReturn(0);
}
