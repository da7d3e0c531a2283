/*
   WLMPotential life cycle and dispatch: Create, SetType, SetFromOptions,
   SetUp, parameter access, energy/force/product/gradient calls with log events,
   View, Save/Load and Destroy.  Model types live in their own files and fill
   in the operations table declared in wlm/private/potentialimpl.h.
*/
#include <wlm/private/potentialimpl.h>
#include <wlm/private/h5util.h>

/*@
  WLMPotentialCreate - Creates a potential-energy model with no type.

  Collective

  Input Parameter:
. comm - ranks that share the particles of one population; PETSC_COMM_SELF when each rank holds whole populations

  Output Parameter:
. pot - the model

  Level: beginner

.seealso: WLMPotentialSetType(), WLMPotentialSetFromOptions(), WLMPotentialSetUp()
@*/
PetscErrorCode WLMPotentialCreate(MPI_Comm comm, WLMPotential *pot)
{
  WLMPotential p;

  PetscFunctionBeginUser;
  PetscValidPointer(pot, 2);
  PetscCall(WLMPotentialInitializePackage());
  PetscCall(PetscHeaderCreate(p, WLMPOTENTIAL_CLASSID, "WLMPotential", "Potential energy model", "WLMPotential", comm, WLMPotentialDestroy, WLMPotentialView));
  p->dim        = -1;
  p->time_input = PETSC_FALSE;
  p->seed       = 0;
  p->exchange   = WLM_POTENTIAL_EXCHANGE_AUTO;
  p->ring_min   = 200000;
  *pot          = p;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialSetType - Selects the model: attention, external, meanfield, harmonic, or a registered type.

  Collective

  Options Database Key:
. -wlm_potential_type <type> - the model type
@*/
PetscErrorCode WLMPotentialSetType(WLMPotential pot, WLMPotentialType type)
{
  PetscErrorCode (*create)(WLMPotential);
  PetscBool same;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(PetscObjectTypeCompare((PetscObject)pot, type, &same));
  if (same) PetscFunctionReturn(0);
  PetscCall(PetscFunctionListFind(WLMPotentialList, type, &create));
  PetscCheck(create, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_UNKNOWN_TYPE, "Unknown potential type \"%s\"; use attention, external, meanfield or harmonic", type);
  if (pot->ops->destroy) PetscCall((*pot->ops->destroy)(pot));
  PetscCall(PetscMemzero(pot->ops, sizeof(struct _WLMPotentialOps)));
  PetscCall(PetscFree(pot->theta));
  pot->nparam      = 0;
  pot->setupcalled = PETSC_FALSE;
  PetscCall(PetscObjectChangeTypeName((PetscObject)pot, type));
  PetscCall((*create)(pot));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMPotentialGetType(WLMPotential pot, WLMPotentialType *type)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  *type = ((PetscObject)pot)->type_name;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialSetDimension - Sets the spatial dimension d of the particles.

  Logically Collective

  Notes:
  Usually taken from the snapshot file; must be called before WLMPotentialSetUp().
@*/
PetscErrorCode WLMPotentialSetDimension(WLMPotential pot, PetscInt dim)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCheck(dim >= 1, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "Dimension %" PetscInt_FMT " is invalid; particles need at least 1 coordinate", dim);
  PetscCheck(!pot->setupcalled || dim == pot->dim, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONGSTATE, "Cannot change the dimension after WLMPotentialSetUp()");
  pot->dim = dim;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMPotentialGetDimension(WLMPotential pot, PetscInt *dim)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  *dim = pot->dim;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialSetTimeInput - Makes the energy depend on time, U_theta(X, t).

  Logically Collective

  Options Database Key:
. -wlm_potential_time_input <bool> - feed the time to the model
@*/
PetscErrorCode WLMPotentialSetTimeInput(WLMPotential pot, PetscBool flg)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCheck(!pot->setupcalled || flg == pot->time_input, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONGSTATE, "Cannot change the time input after WLMPotentialSetUp()");
  pot->time_input = flg;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMPotentialGetTimeInput(WLMPotential pot, PetscBool *flg)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  *flg = pot->time_input;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialSetMaxParticles - Sizes the workspaces for the largest particle counts the caller will pass.

  Logically Collective

  Input Parameters:
+ pot        - the model
. max_local  - largest number of particles on one rank
- max_global - largest number of particles over the communicator

  Notes:
  Optional: workspaces also grow on the first call that needs more room and
  are kept, so steady-state calls do not allocate.
@*/
PetscErrorCode WLMPotentialSetMaxParticles(WLMPotential pot, PetscInt max_local, PetscInt max_global)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCheck(max_local >= 0 && max_global >= max_local, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "Particle capacities %" PetscInt_FMT " (local) and %" PetscInt_FMT " (global) are inconsistent", max_local, max_global);
  pot->max_local  = max_local;
  pot->max_global = max_global;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMPotentialSetOptionsPrefix(WLMPotential pot, const char prefix[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(PetscObjectSetOptionsPrefix((PetscObject)pot, prefix));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialSetFromOptions - Reads the model's options.

  Collective

  Options Database Keys:
+ -wlm_potential_type <external>  - attention, external, meanfield or harmonic
. -wlm_potential_time_input <bool> - make U depend on time
- -wlm_potential_seed <int>       - seed of the parameter initialization done by WLMPotentialSetUp()

  Each type adds its own options; run with -help to list them.
@*/
PetscErrorCode WLMPotentialSetFromOptions(WLMPotential pot)
{
  char      type[256];
  PetscBool flg;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscObjectOptionsBegin((PetscObject)pot);
  PetscCall(PetscOptionsFList("-wlm_potential_type", "Potential energy model", "WLMPotentialSetType", WLMPotentialList, ((PetscObject)pot)->type_name ? ((PetscObject)pot)->type_name : WLMPOTENTIALEXTERNAL, type, sizeof(type), &flg));
  if (flg || !((PetscObject)pot)->type_name) PetscCall(WLMPotentialSetType(pot, flg ? type : WLMPOTENTIALEXTERNAL));
  PetscCall(PetscOptionsBool("-wlm_potential_time_input", "Feed the time to the model, U(X, t)", "WLMPotentialSetTimeInput", pot->time_input, &pot->time_input, NULL));
  PetscCall(PetscOptionsInt("-wlm_potential_seed", "Seed of the parameter initialization", "WLMPotentialInitializeParameters", (PetscInt)pot->seed, &pot->seed, NULL));
  PetscCall(PetscOptionsEnum("-wlm_potential_exchange", "How sharded interacting models meet remote partners: gather all particles on every rank, pass blocks around a ring (memory per rank O(N / P)), or auto (ring from -wlm_potential_ring_min particles on several ranks)", "WLMPotentialSetExchange", WLMPotentialExchanges, (PetscEnum)pot->exchange, (PetscEnum *)&pot->exchange, NULL));
  PetscCall(PetscOptionsInt("-wlm_potential_ring_min", "With -wlm_potential_exchange auto: smallest particle count that uses the ring", "WLMPotentialSetExchange", pot->ring_min, &pot->ring_min, NULL));
  PetscCheck(pot->ring_min >= 1, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "-wlm_potential_ring_min %" PetscInt_FMT " is invalid; give a particle count of at least 1 (auto uses the ring from that many particles)", pot->ring_min);
  if (pot->ops->setfromoptions) PetscCall((*pot->ops->setfromoptions)(pot, PetscOptionsObject));
  PetscCall(PetscObjectProcessOptionsHandlers((PetscObject)pot, PetscOptionsObject));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialSetUp - Sizes the parameter vector and workspaces and initializes the parameters from the seed.

  Collective
@*/
PetscErrorCode WLMPotentialSetUp(WLMPotential pot)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  if (pot->setupcalled) PetscFunctionReturn(0);
  PetscCheck(((PetscObject)pot)->type_name, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONGSTATE, "Potential type is not set; call WLMPotentialSetType() or pass -wlm_potential_type");
  PetscCheck(pot->dim >= 1, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONGSTATE, "Potential dimension is not set; call WLMPotentialSetDimension()");
  PetscCall((*pot->ops->setup)(pot));
  PetscCheck(pot->nparam >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Potential type %s did not set its parameter count", ((PetscObject)pot)->type_name);
  PetscCall(PetscFree(pot->theta));
  PetscCall(PetscCalloc1(pot->nparam, &pot->theta));
  pot->setupcalled = PETSC_TRUE;
  PetscCall(WLMPotentialInitializeParameters(pot, (uint64_t)pot->seed));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialInitializeParameters - Sets the parameters to the type's deterministic random initialization for a seed.

  Collective

  Notes:
  Every rank that passes the same seed gets bitwise the same parameters.
@*/
PetscErrorCode WLMPotentialInitializeParameters(WLMPotential pot, uint64_t seed)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(WLMPotentialSetUp(pot));
  pot->seed = (PetscInt)seed;
  if (pot->ops->initialize) PetscCall((*pot->ops->initialize)(pot, seed));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMPotentialGetNumParameters(WLMPotential pot, PetscInt *nparam)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(WLMPotentialSetUp(pot));
  *nparam = pot->nparam;
  PetscFunctionReturn(0);
}

/* Copies the parameters into a caller's array of length WLMPotentialGetNumParameters(). */
PetscErrorCode WLMPotentialGetParameters(WLMPotential pot, PetscReal theta[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(WLMPotentialSetUp(pot));
  PetscCall(PetscArraycpy(theta, pot->theta, pot->nparam));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMPotentialSetParameters(WLMPotential pot, const PetscReal theta[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(WLMPotentialSetUp(pot));
  PetscCall(PetscArraycpy(pot->theta, theta, pot->nparam));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialGetParameterArray - Gives direct access to the parameter array, for optimizers that update in place.

  Notes:
  The array stays owned by the model and valid until WLMPotentialDestroy() or WLMPotentialSetType().
@*/
PetscErrorCode WLMPotentialGetParameterArray(WLMPotential pot, PetscReal **theta)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(WLMPotentialSetUp(pot));
  *theta = pot->theta;
  PetscFunctionReturn(0);
}

/* Preconditions shared by the compute calls. */
static PetscErrorCode CheckComputeArguments(WLMPotential pot, PetscInt n, const PetscReal x[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCheck(pot->setupcalled, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONGSTATE, "Call WLMPotentialSetUp() before computing with the potential");
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Particle count %" PetscInt_FMT " is negative", n);
  PetscCheck(n == 0 || x, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Positions are NULL for %" PetscInt_FMT " particles", n);
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialComputeEnergy - Computes U_theta(X, t).

  Collective

  Input Parameters:
+ pot - the model
. t   - time (ignored unless the model has time input)
. n   - particles on this rank
. x   - positions [n][dim]
- w   - masses [n], or NULL for uniform masses 1/N

  Output Parameter:
. U - energy of the whole population (the same on every rank)
@*/
PetscErrorCode WLMPotentialComputeEnergy(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], PetscReal *U)
{
  PetscFunctionBeginUser;
  PetscCall(CheckComputeArguments(pot, n, x));
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Energy, pot, 0, 0, 0));
  PetscCall((*pot->ops->energy)(pot, t, n, x, w, U));
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Energy, pot, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialComputeForces - Computes the forces F = -dU/dX on this rank's particles, and optionally U.

  Collective

  Input Parameters:
+ pot - the model
. t   - time
. n   - particles on this rank
. x   - positions [n][dim]
- w   - masses [n], or NULL for uniform masses 1/N

  Output Parameters:
+ U - energy, or NULL when not needed
- F - forces [n][dim]
@*/
PetscErrorCode WLMPotentialComputeForces(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], PetscReal *U, PetscReal F[])
{
  PetscFunctionBeginUser;
  PetscCall(CheckComputeArguments(pot, n, x));
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Forces, pot, 0, 0, 0));
  PetscCall((*pot->ops->forces)(pot, t, n, x, w, U, F));
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Forces, pot, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialComputeProducts - Computes the products of a force cotangent that an adjoint needs.

  Collective

  Input Parameters:
+ pot    - the model
. t      - time
. n      - particles on this rank
. x      - positions [n][dim]
. w      - masses [n], or NULL for uniform masses 1/N
- lambda - cotangent on the forces [n][dim]

  Output Parameters:
+ gradx     - grad_X (lambda . F) = -H lambda on this rank's particles [n][dim], or NULL
- gradtheta - incremented by this rank's share of grad_theta (lambda . F) [nparam], or NULL

  Notes:
  The shares of gradtheta summed over the ranks of the communicator give the
  full product, so a caller can accumulate over many calls and reduce once.
@*/
PetscErrorCode WLMPotentialComputeProducts(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], const PetscReal lambda[], PetscReal gradx[], PetscReal gradtheta[])
{
  PetscFunctionBeginUser;
  PetscCall(CheckComputeArguments(pot, n, x));
  PetscCheck(n == 0 || lambda, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Cotangent lambda is NULL");
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_Products, pot, 0, 0, 0));
  PetscCall((*pot->ops->products)(pot, t, n, x, w, lambda, gradx, gradtheta));
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_Products, pot, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialComputeForcesAndProducts - Computes U, the forces and both force-cotangent products in one pass.

  Collective

  Input Parameters:
+ pot    - the model
. t      - time
. n      - particles on this rank
. x      - positions [n][dim]
. w      - masses [n], or NULL for uniform masses 1/N
- lambda - cotangent on the forces [n][dim]

  Output Parameters:
+ U         - energy, or NULL
. F         - forces [n][dim], or NULL
. gradx     - grad_X (lambda . F) [n][dim], or NULL
- gradtheta - incremented by this rank's share of grad_theta (lambda . F) [nparam], or NULL

  Notes:
  The products pass of the learned types computes the forces on the way, so
  this call costs about as much as WLMPotentialComputeProducts() alone and
  saves a separate WLMPotentialComputeForces() where both are needed at the
  same positions.  Types without a combined pass make the two calls.
@*/
PetscErrorCode WLMPotentialComputeForcesAndProducts(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], const PetscReal lambda[], PetscReal *U, PetscReal F[], PetscReal gradx[], PetscReal gradtheta[])
{
  PetscFunctionBeginUser;
  PetscCall(CheckComputeArguments(pot, n, x));
  PetscCheck(n == 0 || lambda, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Cotangent lambda is NULL");
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_ForcesProducts, pot, 0, 0, 0));
  if (pot->ops->forcesproducts) PetscCall((*pot->ops->forcesproducts)(pot, t, n, x, w, lambda, U, F, gradx, gradtheta));
  else {
    if (F) PetscCall((*pot->ops->forces)(pot, t, n, x, w, U, F));
    else if (U) PetscCall((*pot->ops->energy)(pot, t, n, x, w, U));
    PetscCall((*pot->ops->products)(pot, t, n, x, w, lambda, gradx, gradtheta));
  }
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_ForcesProducts, pot, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialComputeParameterGradient - Computes U and the gradient of U with respect to the parameters theta.

  Collective

  Input Parameters:
+ pot - the model
. t   - time
. n   - particles on this rank
. x   - positions [n][dim]
- w   - masses [n], or NULL for uniform masses 1/N

  Output Parameters:
+ U         - energy, or NULL
- gradtheta - incremented by this rank's share of grad_theta U [nparam]

  Notes:
  As with the parameter product, the shares of gradtheta summed over the
  ranks give the full gradient, so a caller can accumulate over many calls
  (snapshots, times) and reduce once.  The call runs the forward pass and
  one reverse pass with seed 1 on U; in the benchmarks of docs/benchmarks.md
  it took 1.1 to 1.5 times as long as WLMPotentialComputeForces().  A model
  type without this operation raises PETSC_ERR_SUP.

.seealso: WLMPotentialComputeProducts(), WLMPotentialGetNumParameters()
@*/
PetscErrorCode WLMPotentialComputeParameterGradient(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal w[], PetscReal *U, PetscReal gradtheta[])
{
  PetscFunctionBeginUser;
  PetscCall(CheckComputeArguments(pot, n, x));
  PetscCheck(gradtheta, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Parameter gradient array gradtheta is NULL; pass an array of WLMPotentialGetNumParameters() entries");
  PetscCheck(pot->ops->parametergradient, PetscObjectComm((PetscObject)pot), PETSC_ERR_SUP, "Potential type %s does not compute the parameter gradient of the energy; use harmonic, external, meanfield or attention", ((PetscObject)pot)->type_name);
  PetscCall(PetscLogEventBegin(WLMPOTENTIAL_ParameterGradient, pot, 0, 0, 0));
  PetscCall((*pot->ops->parametergradient)(pot, t, n, x, w, U, gradtheta));
  PetscCall(PetscLogEventEnd(WLMPOTENTIAL_ParameterGradient, pot, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialView - Prints the type, sizes and hyperparameters of the model.

  Collective
@*/
PetscErrorCode WLMPotentialView(WLMPotential pot, PetscViewer viewer)
{
  PetscBool isascii;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(PetscObjectComm((PetscObject)pot), &viewer));
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &isascii));
  if (!isascii) PetscFunctionReturn(0);
  PetscCall(PetscObjectPrintClassNamePrefixType((PetscObject)pot, viewer));
  PetscCall(PetscViewerASCIIPushTab(viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "dimension %" PetscInt_FMT ", time input %s, %" PetscInt_FMT " parameters\n", pot->dim, PetscBools[pot->time_input], pot->nparam));
  if (pot->ops->view) PetscCall((*pot->ops->view)(pot, viewer));
  PetscCall(PetscViewerASCIIPopTab(viewer));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialSave - Writes the model (type, hyperparameters and parameters) into an open HDF5 group.

  Not Collective: call it on the rank that writes the file.

  Notes:
  The group receives attributes type, dim, time_input, nparam, the type's
  hyperparameters, and a dataset "parameters" [nparam], so that the group
  alone describes the model.
@*/
PetscErrorCode WLMPotentialSave(WLMPotential pot, hid_t group)
{
  hsize_t dims[1];

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(WLMPotentialSetUp(pot));
  PetscCall(WLMH5WriteAttributeString(group, "type", ((PetscObject)pot)->type_name));
  PetscCall(WLMH5WriteAttributeInt(group, "dim", pot->dim));
  PetscCall(WLMH5WriteAttributeInt(group, "time_input", pot->time_input));
  PetscCall(WLMH5WriteAttributeInt(group, "nparam", pot->nparam));
  if (pot->ops->save) PetscCall((*pot->ops->save)(pot, group));
  dims[0] = (hsize_t)pot->nparam;
  PetscCall(WLMH5WriteDatasetReal(group, "parameters", 1, dims, pot->theta));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialLoad - Creates a model from an HDF5 group written by WLMPotentialSave().

  Not Collective over the file: every rank that calls it reads the group.

  Input Parameters:
+ comm  - communicator of the new model
- group - open HDF5 group

  Output Parameter:
. pot - the model, set up, with the saved parameters
@*/
PetscErrorCode WLMPotentialLoad(MPI_Comm comm, hid_t group, WLMPotential *pot)
{
  char        *type;
  PetscInt64   dim, time_input, nparam;
  hsize_t      dims[1];
  WLMPotential p;

  PetscFunctionBeginUser;
  PetscCall(WLMH5ReadAttributeString(group, "type", &type));
  PetscCall(WLMH5ReadAttributeInt(group, "dim", &dim));
  PetscCall(WLMH5ReadAttributeInt(group, "time_input", &time_input));
  PetscCall(WLMH5ReadAttributeInt(group, "nparam", &nparam));
  PetscCall(WLMPotentialCreate(comm, &p));
  PetscCall(WLMPotentialSetType(p, type));
  PetscCall(PetscFree(type));
  PetscCall(WLMPotentialSetDimension(p, (PetscInt)dim));
  PetscCall(WLMPotentialSetTimeInput(p, time_input ? PETSC_TRUE : PETSC_FALSE));
  if (p->ops->load) PetscCall((*p->ops->load)(p, group));
  PetscCall(WLMPotentialSetUp(p));
  PetscCheck(p->nparam == nparam, comm, PETSC_ERR_FILE_UNEXPECTED, "Saved model has %" PetscInt64_FMT " parameters but its hyperparameters give %" PetscInt_FMT, nparam, p->nparam);
  dims[0] = (hsize_t)p->nparam;
  PetscCall(WLMH5ReadDatasetReal(group, "parameters", 1, dims, p->theta));
  *pot = p;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialDestroy - Frees a model.

  Collective
@*/
PetscErrorCode WLMPotentialDestroy(WLMPotential *pot)
{
  PetscFunctionBeginUser;
  if (!*pot) PetscFunctionReturn(0);
  PetscValidHeaderSpecific(*pot, WLMPOTENTIAL_CLASSID, 1);
  if (--((PetscObject)(*pot))->refct > 0) {
    *pot = NULL;
    PetscFunctionReturn(0);
  }
  if ((*pot)->ops->destroy) PetscCall((*(*pot)->ops->destroy)(*pot));
  PetscCall(PetscFree((*pot)->theta));
  PetscCall(PetscHeaderDestroy(pot));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialGetUniformMass - Returns 1/N, N the total particle count over the model's communicator.

  Collective

  Notes:
  Model types call it when the caller passes NULL masses.
@*/
PetscErrorCode WLMPotentialGetUniformMass(WLMPotential pot, PetscInt n, PetscReal *mass)
{
  PetscInt    N = n;
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
  if (size > 1) PetscCall(MPIU_Allreduce(&n, &N, 1, MPIU_INT, MPI_SUM, PetscObjectComm((PetscObject)pot)));
  PetscCheck(N > 0, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "The population has no particles");
  *mass = 1.0 / (PetscReal)N;
  PetscFunctionReturn(0);
}
