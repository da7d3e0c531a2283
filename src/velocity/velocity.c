/*
   WLMVelocity: initial velocities of the particles of an observed snapshot.
   The sources are described in include/wlm/wlmvelocity.h; this file holds the
   object, the data and zero sources, and the dispatch to the estimators in
   ot.c and dice.c.
*/
#include <wlm/private/velocityimpl.h>

PetscClassId      WLMVELOCITY_CLASSID;
const char *const WLMVelocitySources[] = {"data", "zero", "ot", "dice", "WLMVelocitySource", "WLM_VELOCITY_", NULL};

static PetscBool WLMVelocityPackageInitialized = PETSC_FALSE;

/*@
  WLMVelocityInitializePackage - Registers the WLMVelocity class; called by WLMInitializePackage().
@*/
PetscErrorCode WLMVelocityInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMVelocityPackageInitialized) PetscFunctionReturn(0);
  WLMVelocityPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("WLMVelocity", &WLMVELOCITY_CLASSID));
  PetscFunctionReturn(0);
}

/*@
  WLMVelocityCreate - Creates a velocity source, by default the velocities stored in the data.

  Collective
@*/
PetscErrorCode WLMVelocityCreate(MPI_Comm comm, WLMVelocity *vel)
{
  WLMVelocity v;

  PetscFunctionBeginUser;
  PetscValidPointer(vel, 2);
  PetscCall(WLMVelocityInitializePackage());
  PetscCall(PetscHeaderCreate(v, WLMVELOCITY_CLASSID, "WLMVelocity", "Initial velocities", "WLMVelocity", comm, WLMVelocityDestroy, WLMVelocityView));
  v->source = WLM_VELOCITY_DATA;
  *vel      = v;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMVelocitySetSource(WLMVelocity vel, WLMVelocitySource source)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(vel, WLMVELOCITY_CLASSID, 1);
  vel->source      = source;
  vel->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMVelocityGetSource(WLMVelocity vel, WLMVelocitySource *source)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(vel, WLMVELOCITY_CLASSID, 1);
  *source = vel->source;
  PetscFunctionReturn(0);
}

/*@
  WLMVelocitySetSnapshots - Sets the data and the snapshots the estimators may read.

  Input Parameters:
+ vel      - the velocity source
. snaps    - the data: replicated on every rank, or sharded for the sources data and zero
. nallowed - number of allowed snapshots (at least 1; at least 2 for ot and dice)
- allowed  - increasing snapshot indices, for example the training snapshots

  Notes:
  Held-out and future snapshots must be left out of allowed; WLMVelocityCompute()
  rejects any snapshot that is not in the list.
@*/
PetscErrorCode WLMVelocitySetSnapshots(WLMVelocity vel, WLMSnapshots snaps, PetscInt nallowed, const PetscInt allowed[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(vel, WLMVELOCITY_CLASSID, 1);
  PetscCheck(nallowed >= 1, PetscObjectComm((PetscObject)vel), PETSC_ERR_ARG_OUTOFRANGE, "At least one snapshot must be allowed");
  for (PetscInt i = 1; i < nallowed; i++) PetscCheck(allowed[i] > allowed[i - 1], PetscObjectComm((PetscObject)vel), PETSC_ERR_ARG_WRONG, "Allowed snapshot indices must increase");
  vel->snaps = snaps;
  PetscCall(PetscFree(vel->allowed));
  PetscCall(PetscMalloc1(nallowed, &vel->allowed));
  PetscCall(PetscArraycpy(vel->allowed, allowed, nallowed));
  vel->nallowed    = nallowed;
  vel->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMVelocitySetFromOptions - Reads the velocity source and the estimators' options.

  Options Database Keys:
+ -wlm_velocity <data>  - data, zero, ot or dice
- estimator options       - see -help
@*/
PetscErrorCode WLMVelocitySetFromOptions(WLMVelocity vel)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(vel, WLMVELOCITY_CLASSID, 1);
  PetscObjectOptionsBegin((PetscObject)vel);
  PetscCall(PetscOptionsEnum("-wlm_velocity", "Initial velocities: data (stored in the file), zero, ot (optimal transport estimate) or dice (action-matching estimate)", "WLMVelocitySetSource", WLMVelocitySources, (PetscEnum)vel->source, (PetscEnum *)&vel->source, NULL));
  PetscCall(WLMVelocitySetFromOptions_OT(vel, PetscOptionsObject));
  PetscCall(WLMVelocitySetFromOptions_DICE(vel, PetscOptionsObject));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/* Rejects snapshots sharded over more than one rank: the estimators ot and dice read whole snapshots. */
static PetscErrorCode CheckWholeSnapshots(WLMVelocity vel)
{
  WLMSnapshotsDistribution dist;
  PetscMPIInt              size;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsGetDistribution(vel->snaps, &dist));
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)vel->snaps), &size));
  PetscCheck(dist == WLM_SNAPSHOTS_REPLICATED || size == 1, PetscObjectComm((PetscObject)vel), PETSC_ERR_SUP, "-wlm_velocity %s needs every particle of the snapshots on every rank, but they are sharded over %d ranks; load them replicated, or use -wlm_velocity data or zero", WLMVelocitySources[vel->source], size);
  PetscFunctionReturn(0);
}

/*@
  WLMVelocitySetUp - Checks that the source can work with the data and fits the estimator where one is needed.

  Collective
@*/
PetscErrorCode WLMVelocitySetUp(WLMVelocity vel)
{
  MPI_Comm  comm = PetscObjectComm((PetscObject)vel);
  PetscBool has;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(vel, WLMVELOCITY_CLASSID, 1);
  if (vel->setupcalled) PetscFunctionReturn(0);
  PetscCheck(vel->snaps, comm, PETSC_ERR_ARG_WRONGSTATE, "Call WLMVelocitySetSnapshots() before WLMVelocitySetUp()");
  PetscCall(WLMSnapshotsGetDimension(vel->snaps, &vel->dim));
  if (vel->source == WLM_VELOCITY_OT || vel->source == WLM_VELOCITY_DICE) PetscCall(CheckWholeSnapshots(vel));
  switch (vel->source) {
  case WLM_VELOCITY_DATA:
    PetscCall(WLMSnapshotsHasVelocity(vel->snaps, &has));
    PetscCheck(has, comm, PETSC_ERR_USER_INPUT, "-wlm_velocity data needs velocities in the snapshot file, which has none; use -wlm_velocity ot, dice or zero");
    break;
  case WLM_VELOCITY_ZERO:
    break;
  case WLM_VELOCITY_OT:
    PetscCheck(vel->nallowed >= 2, comm, PETSC_ERR_USER_INPUT, "-wlm_velocity ot needs at least 2 training snapshots");
    PetscCall(WLMVelocitySetUp_OT(vel));
    break;
  case WLM_VELOCITY_DICE:
    PetscCheck(vel->nallowed >= 2, comm, PETSC_ERR_USER_INPUT, "-wlm_velocity dice needs at least 2 training snapshots");
    PetscCall(WLMVelocitySetUp_DICE(vel));
    break;
  }
  vel->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* Position of snapshot s in the allowed list, or -1. */
PetscInt WLMVelocityAllowedPosition(WLMVelocity vel, PetscInt s)
{
  for (PetscInt i = 0; i < vel->nallowed; i++) {
    if (vel->allowed[i] == s) return i;
  }
  return -1;
}

/*@
  WLMVelocityCompute - Returns the initial velocities of every particle of an allowed snapshot.

  Input Parameters:
+ vel - the velocity source, set up
- s   - snapshot index; must be in the allowed list

  Output Parameter:
. v - velocities [n][dim] of this rank's n rows of the snapshot, in their row order (all N_s rows when the data is replicated)

  Notes:
  Sources data and zero work with sharded snapshots; ot and dice need the whole snapshots on
  every rank, and WLMVelocitySetUp() rejects them for data sharded over more than one rank.
@*/
PetscErrorCode WLMVelocityCompute(WLMVelocity vel, PetscInt s, PetscReal v[])
{
  WLMSnapshot snap;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(vel, WLMVELOCITY_CLASSID, 1);
  PetscCall(WLMVelocitySetUp(vel));
  PetscCheck(WLMVelocityAllowedPosition(vel, s) >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Snapshot %" PetscInt_FMT " is not among the snapshots the velocity estimate may use", s);
  PetscCall(WLMSnapshotsGetSnapshot(vel->snaps, s, &snap));
  switch (vel->source) {
  case WLM_VELOCITY_DATA:
    PetscCall(PetscArraycpy(v, snap.v, snap.n * vel->dim));
    break;
  case WLM_VELOCITY_ZERO:
    PetscCall(PetscArrayzero(v, snap.n * vel->dim));
    break;
  case WLM_VELOCITY_OT:
    PetscCall(WLMVelocityCompute_OT(vel, s, v));
    break;
  case WLM_VELOCITY_DICE:
    PetscCall(WLMVelocityCompute_DICE(vel, s, v));
    break;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode WLMVelocityView(WLMVelocity vel, PetscViewer viewer)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(vel, WLMVELOCITY_CLASSID, 1);
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(PetscObjectComm((PetscObject)vel), &viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "WLMVelocity: initial velocities from %s, estimated from %" PetscInt_FMT " allowed snapshots\n", WLMVelocitySources[vel->source], vel->nallowed));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMVelocityDestroy(WLMVelocity *vel)
{
  PetscFunctionBeginUser;
  if (!*vel) PetscFunctionReturn(0);
  PetscValidHeaderSpecific(*vel, WLMVELOCITY_CLASSID, 1);
  if (--((PetscObject)(*vel))->refct > 0) {
    *vel = NULL;
    PetscFunctionReturn(0);
  }
  PetscCall(WLMVelocityReset_OT(*vel));
  PetscCall(WLMVelocityReset_DICE(*vel));
  PetscCall(PetscFree((*vel)->allowed));
  PetscCall(PetscHeaderDestroy(vel));
  PetscFunctionReturn(0);
}
