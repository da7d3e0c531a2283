/*
   WLMDynamics life cycle: Create, Set.../Get..., SetFromOptions, SetUp,
   View, Destroy.  The object owns one TS for its whole life; rollouts reuse
   it (see rollout.c), so TS options given once apply to every rollout.
*/
#include <wlm/private/dynamicsimpl.h>

PETSC_INTERN PetscErrorCode WLMDynamicsPostStep(TS);
PETSC_INTERN PetscErrorCode WLMDynamicsResetParticles(WLMDynamics);

/*@
  WLMDynamicsCreate - Creates a rollout engine for damped second-order mechanics.

  Collective

  Input Parameter:
. comm - ranks that share the particles of one ensemble; PETSC_COMM_SELF when each rank integrates whole ensembles

  Output Parameter:
. dyn - the new object, with friction 0, the exact friction variant, 1 step per output interval and TS type TSWLMVERLET

  Level: beginner

.seealso: WLMDynamicsSetPotential(), WLMDynamicsSetFromOptions(), WLMDynamicsRollout()
@*/
PetscErrorCode WLMDynamicsCreate(MPI_Comm comm, WLMDynamics *dyn)
{
  WLMDynamics  d;
  TSAdapt      adapt;
  TSTrajectory tj;

  PetscFunctionBeginUser;
  PetscValidPointer(dyn, 2);
  PetscCall(WLMDynamicsInitializePackage());
  PetscCall(PetscHeaderCreate(d, WLMDYNAMICS_CLASSID, "WLMDynamics", "Damped second-order mechanics", "WLMDynamics", comm, WLMDynamicsDestroy, WLMDynamicsView));
  d->friction = 0.0;
  d->variant  = WLM_FRICTION_EXACT;
  d->substeps = 1;
  d->dt       = 0.0;
  d->dim      = -1;
  d->n        = -1;
  d->nparam   = -1;

  /* The TS is created once; rollouts only reset its time, step number and trajectory. */
  PetscCall(TSCreate(comm, &d->ts));
  PetscCall(PetscObjectIncrementTabLevel((PetscObject)d->ts, (PetscObject)d, 1));
  PetscCall(TSSetType(d->ts, TSWLMVERLET));
  PetscCall(TSSetApplicationContext(d->ts, d));
  PetscCall(TSSetRHSFunction(d->ts, NULL, WLMDynamicsRHSFunction, d));
  PetscCall(TSSetPostStep(d->ts, WLMDynamicsPostStep));
  PetscCall(TSSetExactFinalTime(d->ts, TS_EXACTFINALTIME_STEPOVER));
  PetscCall(TSGetAdapt(d->ts, &adapt));
  PetscCall(TSAdaptSetType(adapt, TSADAPTNONE));
  PetscCall(TSSetSaveTrajectory(d->ts));
  PetscCall(TSGetTrajectory(d->ts, &tj));
  PetscCall(TSTrajectorySetType(tj, d->ts, TSTRAJECTORYWLMTAPE));
  PetscCall(TSTrajectorySetUseHistory(tj, PETSC_FALSE));
  *dyn = d;
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsSetPotential - Sets the potential-energy model whose forces drive the particles.

  Collective

  Notes:
  The model must live on a communicator congruent to the one of dyn, because
  both shard the same particles.  The object keeps a reference.
@*/
PetscErrorCode WLMDynamicsSetPotential(WLMDynamics dyn, WLMPotential pot)
{
  PetscMPIInt cmp;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 2);
  PetscCallMPI(MPI_Comm_compare(PetscObjectComm((PetscObject)dyn), PetscObjectComm((PetscObject)pot), &cmp));
  PetscCheck(cmp == MPI_IDENT || cmp == MPI_CONGRUENT, PetscObjectComm((PetscObject)dyn), PETSC_ERR_ARG_NOTSAMECOMM, "The potential and the dynamics must shard the particles over the same ranks; create both on the same communicator");
  PetscCall(PetscObjectReference((PetscObject)pot));
  PetscCall(WLMPotentialDestroy(&dyn->pot));
  dyn->pot         = pot;
  dyn->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMDynamicsGetPotential(WLMDynamics dyn, WLMPotential *pot)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  *pot = dyn->pot;
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsSetFriction - Sets the friction gamma >= 0 (units of 1/time).

  Logically Collective

  Options Database Key:
. -wlm_friction <gamma> - friction, default 0

  Notes:
  A trainer that learns the friction calls this before every rollout with
  gamma = exp(log gamma) and uses dL/dlog(gamma) from WLMDynamicsRolloutAdjoint().
@*/
PetscErrorCode WLMDynamicsSetFriction(WLMDynamics dyn, PetscReal gamma)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  PetscCheck(gamma >= 0.0 && !PetscIsInfOrNanReal(gamma), PetscObjectComm((PetscObject)dyn), PETSC_ERR_ARG_OUTOFRANGE, "Friction %g is invalid; use a finite gamma >= 0", (double)gamma);
  dyn->friction = gamma;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMDynamicsGetFriction(WLMDynamics dyn, PetscReal *gamma)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  *gamma = dyn->friction;
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsSetFrictionVariant - Chooses how friction enters the update.

  Logically Collective

  Options Database Key:
. -wlm_friction_variant <exact|reference> - default exact

  Notes:
  WLM_FRICTION_EXACT integrates dv/dt = -gamma v + a.  WLM_FRICTION_REFERENCE
  is a compatibility option that reproduces the update of the authors'
  reference code, whose small-step limit is dv/dt = -gamma v + (1 + gamma) a:
  the friction also scales the force.  Both have exact adjoints.
@*/
PetscErrorCode WLMDynamicsSetFrictionVariant(WLMDynamics dyn, WLMFrictionVariant variant)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  PetscCheck(variant == WLM_FRICTION_EXACT || variant == WLM_FRICTION_REFERENCE, PetscObjectComm((PetscObject)dyn), PETSC_ERR_ARG_OUTOFRANGE, "Unknown friction variant %d; use exact or reference", (int)variant);
  dyn->variant = variant;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMDynamicsGetFrictionVariant(WLMDynamics dyn, WLMFrictionVariant *variant)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  *variant = dyn->variant;
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsSetSubsteps - Sets the number of equal steps between consecutive output times.

  Logically Collective

  Options Database Key:
. -wlm_substeps <S> - steps per output interval, default 1

  Notes:
  Ignored when a fixed time step is set with WLMDynamicsSetTimeStep() or -ts_dt.
@*/
PetscErrorCode WLMDynamicsSetSubsteps(WLMDynamics dyn, PetscInt substeps)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  PetscCheck(substeps >= 1, PetscObjectComm((PetscObject)dyn), PETSC_ERR_ARG_OUTOFRANGE, "Substeps %" PetscInt_FMT " is invalid; use at least 1 step per output interval", substeps);
  dyn->substeps = substeps;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMDynamicsGetSubsteps(WLMDynamics dyn, PetscInt *substeps)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  *substeps = dyn->substeps;
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsSetTimeStep - Sets a fixed time step; the last step before each output time is shortened to end on it.

  Logically Collective

  Input Parameters:
+ dyn - the object
- dt  - step size > 0, or 0 to split every output interval into equal substeps

  Options Database Key:
. -ts_dt <dt> - the TS option sets the same step when given

  Notes:
  A last step shorter than 1e-9 dt is merged into the previous one, so that
  output times that are multiples of dt up to rounding do not create a tiny step.
@*/
PetscErrorCode WLMDynamicsSetTimeStep(WLMDynamics dyn, PetscReal dt)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  PetscCheck(dt >= 0.0 && !PetscIsInfOrNanReal(dt), PetscObjectComm((PetscObject)dyn), PETSC_ERR_ARG_OUTOFRANGE, "Time step %g is invalid; use dt > 0, or 0 to split output intervals into substeps", (double)dt);
  dyn->dt = dt;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMDynamicsGetTimeStep(WLMDynamics dyn, PetscReal *dt)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  *dt = dyn->dt;
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsSetOptionsPrefix - Sets the prefix of the object's options and of its TS.
@*/
PetscErrorCode WLMDynamicsSetOptionsPrefix(WLMDynamics dyn, const char prefix[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  PetscCall(PetscObjectSetOptionsPrefix((PetscObject)dyn, prefix));
  PetscCall(TSSetOptionsPrefix(dyn->ts, prefix));
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsSetFromOptions - Reads the friction, variant and step options, then the options of the TS.

  Collective

  Options Database Keys:
+ -wlm_friction <0>                      - friction gamma >= 0, in 1/time
. -wlm_friction_variant <exact>          - exact, or reference (compatibility with the authors' code)
. -wlm_substeps <1>                      - equal steps per output interval
. -ts_dt <dt>                            - fixed step instead of substeps; the last step before an output time is shortened
- -ts_type <wlmverlet>                   - wlmverlet, or rk with -ts_rk_type 1fe, 2a, 3, 3bs or 4

  Notes:
  Rollouts set the TS start time, step sizes and number of steps themselves,
  so -ts_max_time, -ts_max_steps and -ts_adapt_type do not apply.
@*/
PetscErrorCode WLMDynamicsSetFromOptions(WLMDynamics dyn)
{
  PetscReal          gamma = dyn->friction;
  PetscInt           substeps = dyn->substeps;
  WLMFrictionVariant variant = dyn->variant;
  PetscBool          set;
  const char        *prefix;
  PetscReal          dt;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  PetscObjectOptionsBegin((PetscObject)dyn);
  PetscCall(PetscOptionsReal("-wlm_friction", "Friction gamma >= 0 (1/time)", "WLMDynamicsSetFriction", gamma, &gamma, &set));
  if (set) PetscCall(WLMDynamicsSetFriction(dyn, gamma));
  PetscCall(PetscOptionsEnum("-wlm_friction_variant", "How friction enters the update: exact decay, or the reference code's variant", "WLMDynamicsSetFrictionVariant", WLMFrictionVariants, (PetscEnum)variant, (PetscEnum *)&variant, &set));
  if (set) PetscCall(WLMDynamicsSetFrictionVariant(dyn, variant));
  PetscCall(PetscOptionsInt("-wlm_substeps", "Equal steps per output interval (ignored when -ts_dt is given)", "WLMDynamicsSetSubsteps", substeps, &substeps, &set));
  if (set) PetscCall(WLMDynamicsSetSubsteps(dyn, substeps));
  PetscCall(PetscObjectProcessOptionsHandlers((PetscObject)dyn, PetscOptionsObject));
  PetscOptionsEnd();

  PetscCall(TSSetFromOptions(dyn->ts));
  PetscCall(TSGetOptionsPrefix(dyn->ts, &prefix));
  PetscCall(PetscOptionsHasName(((PetscObject)dyn)->options, prefix, "-ts_dt", &set));
  if (set) {
    PetscCall(TSGetTimeStep(dyn->ts, &dt));
    PetscCall(WLMDynamicsSetTimeStep(dyn, dt));
  }
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsSetUp - Sets up the potential and takes its dimension and parameter count.

  Collective

  Notes:
  Workspaces that depend on the particle count are sized by the first
  rollout with that count.
@*/
PetscErrorCode WLMDynamicsSetUp(WLMDynamics dyn)
{
  PetscInt dim, nparam;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  if (dyn->setupcalled) PetscFunctionReturn(0);
  PetscCheck(dyn->pot, PetscObjectComm((PetscObject)dyn), PETSC_ERR_ARG_WRONGSTATE, "No potential; call WLMDynamicsSetPotential() before WLMDynamicsSetUp()");
  PetscCall(WLMPotentialSetUp(dyn->pot));
  PetscCall(WLMPotentialGetDimension(dyn->pot, &dim));
  PetscCall(WLMPotentialGetNumParameters(dyn->pot, &nparam));
  if (dyn->n >= 0 && (dim != dyn->dim || nparam != dyn->nparam)) PetscCall(WLMDynamicsResetParticles(dyn));
  dyn->dim         = dim;
  dyn->nparam      = nparam;
  dyn->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsGetTS - Returns the TS that integrates the rollouts, for monitors and views.

  Not Collective

  Notes:
  Do not replace what the rollouts set on this TS: the start time, step
  sizes, step count, solution, right-hand side, Jacobians, cost gradients,
  post-step function and trajectory.
@*/
PetscErrorCode WLMDynamicsGetTS(WLMDynamics dyn, TS *ts)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  *ts = dyn->ts;
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsView - Prints the friction, the step rule and the TS.

  Collective
@*/
PetscErrorCode WLMDynamicsView(WLMDynamics dyn, PetscViewer viewer)
{
  PetscBool isascii;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(PetscObjectComm((PetscObject)dyn), &viewer));
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &isascii));
  if (!isascii) PetscFunctionReturn(0);
  PetscCall(PetscObjectPrintClassNamePrefixType((PetscObject)dyn, viewer));
  PetscCall(PetscViewerASCIIPushTab(viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "friction gamma = %g, variant %s\n", (double)dyn->friction, WLMFrictionVariants[dyn->variant]));
  if (dyn->dt > 0) PetscCall(PetscViewerASCIIPrintf(viewer, "fixed step dt = %g, last step before each output time shortened\n", (double)dyn->dt));
  else PetscCall(PetscViewerASCIIPrintf(viewer, "%" PetscInt_FMT " equal steps per output interval\n", dyn->substeps));
  PetscCall(TSView(dyn->ts, viewer));
  PetscCall(PetscViewerASCIIPopTab(viewer));
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsDestroy - Frees the object, its TS and its workspaces.

  Collective
@*/
PetscErrorCode WLMDynamicsDestroy(WLMDynamics *dyn)
{
  PetscFunctionBeginUser;
  if (!*dyn) PetscFunctionReturn(0);
  PetscValidHeaderSpecific(*dyn, WLMDYNAMICS_CLASSID, 1);
  if (--((PetscObject)(*dyn))->refct > 0) {
    *dyn = NULL;
    PetscFunctionReturn(0);
  }
  PetscCall(WLMDynamicsResetParticles(*dyn));
  PetscCall(TSDestroy(&(*dyn)->ts));
  PetscCall(WLMPotentialDestroy(&(*dyn)->pot));
  PetscCall(PetscFree((*dyn)->plantime));
  PetscCall(PetscFree((*dyn)->outstep));
  PetscCall(PetscHeaderDestroy(dyn));
  PetscFunctionReturn(0);
}
