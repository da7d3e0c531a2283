/*
   TSTRAJECTORYWLMTAPE: the trajectory of a rollout, kept in memory for its
   adjoint.

   For every step n = 1..N the tape stores the stage vectors that the TS type
   returns from TSGetStages() after the step (3 for TSWLMVERLET, s for an
   s-stage TSRK), and the time t_n; a TS adjoint step needs nothing else.
   TSTrajectoryGet() restores the stages of step n, sets the time to t_n and
   the time step to -(t_n - t_{n-1}), as PETSc's adjoint steps expect.

   Storage grows to the longest rollout seen and is reused: setting step 0
   rewinds the tape, so repeated rollouts allocate nothing.  When the state
   size changes (a new particle count) the stored vectors are replaced.
   Each stored vector costs its data plus about 1.7 KB of PETSc Vec overhead
   (measured with -malloc_debug on PETSc 3.18).

   Why not TSTRAJECTORYMEMORY: in PETSc 3.18 its stack is sized when the
   trajectory is set up, so a later, longer rollout needs a new trajectory.
   On this build a memory trajectory created after an adjoint solve crashed
   in TSTrajectorySet() at the first step past the old size.
*/
#include <wlm/private/dynamicsimpl.h>
#include <petsc/private/tsimpl.h>

typedef struct {
  PetscInt   nstages;    /* stage vectors per step */
  PetscInt   nlocal;     /* local size of the stored vectors */
  PetscInt   capacity;   /* steps with stage storage */
  PetscInt   nstored;    /* last step stored, -1 when the tape is empty */
  Vec       *stage;      /* stage s of step n at [(n - 1) nstages + s] */
  PetscReal *time;       /* t_n for n = 0..ntime - 1 */
  PetscInt   ntime;
} TJ_WLMTape;

/* Frees the stage vectors; the times are kept because step 0 of the current solve may already be stored. */
static PetscErrorCode TapeFreeStages(TJ_WLMTape *tape)
{
  PetscFunctionBeginUser;
  if (tape->stage) PetscCall(VecDestroyVecs(tape->capacity * tape->nstages, &tape->stage));
  tape->capacity = 0;
  PetscFunctionReturn(0);
}

/* Makes room for the time of step n. */
static PetscErrorCode TapeReserveTime(TJ_WLMTape *tape, PetscInt n)
{
  PetscReal *time;
  PetscInt   ntime;

  PetscFunctionBeginUser;
  if (n < tape->ntime) PetscFunctionReturn(0);
  ntime = PetscMax(n + 1, 2 * tape->ntime);
  PetscCall(PetscMalloc1(ntime, &time));
  if (tape->ntime) PetscCall(PetscArraycpy(time, tape->time, tape->ntime));
  PetscCall(PetscFree(tape->time));
  tape->time  = time;
  tape->ntime = ntime;
  PetscFunctionReturn(0);
}

/*
   Makes room for the stages of steps 1..nsteps, ns per step, shaped like Y.
   Stored steps are kept when only the capacity grows; a new stage count or
   vector size replaces the storage.  The new capacity is the TS's maximum
   step count when it has one (a rollout sets it to its planned steps, so
   each rollout allocates at most once), else twice the old capacity.
*/
static PetscErrorCode TapeReserveStages(TJ_WLMTape *tape, TS ts, PetscInt nsteps, PetscInt ns, Vec Y)
{
  PetscInt nlocal, capacity;
  Vec     *stage;

  PetscFunctionBeginUser;
  PetscCall(VecGetLocalSize(Y, &nlocal));
  if (ns != tape->nstages || nlocal != tape->nlocal) {
    PetscCall(TapeFreeStages(tape));
    tape->nstages = ns;
    tape->nlocal  = nlocal;
  }
  if (nsteps <= tape->capacity) PetscFunctionReturn(0);
  capacity = PetscMax(nsteps, ts->max_steps < PETSC_MAX_INT ? ts->max_steps : 2 * tape->capacity);
  PetscCall(PetscMalloc1(capacity * ns, &stage));
  if (tape->capacity) PetscCall(PetscArraycpy(stage, tape->stage, tape->capacity * ns));
  for (PetscInt i = tape->capacity * ns; i < capacity * ns; i++) PetscCall(VecDuplicate(Y, &stage[i]));
  PetscCall(PetscFree(tape->stage));
  tape->stage    = stage;
  tape->capacity = capacity;
  PetscFunctionReturn(0);
}

static PetscErrorCode TSTrajectorySet_WLMTape(TSTrajectory tj, TS ts, PetscInt stepnum, PetscReal time, Vec X)
{
  TJ_WLMTape *tape = (TJ_WLMTape *)tj->data;
  WLMDynamics dyn;
  PetscInt    ns;
  Vec        *Y;

  PetscFunctionBeginUser;
  /* step 0 starts a new solve and rewinds the tape */
  PetscCheck(stepnum <= tape->nstored + 1, PetscObjectComm((PetscObject)tj), PETSC_ERR_ARG_OUTOFRANGE, "Trajectory %s got step %" PetscInt_FMT " after step %" PetscInt_FMT "; steps must be stored in order from 0", TSTRAJECTORYWLMTAPE, stepnum, tape->nstored);
  PetscCall(TapeReserveTime(tape, stepnum));
  tape->time[stepnum] = time;
  tape->nstored       = stepnum;
  if (stepnum == 0) PetscFunctionReturn(0);
  PetscCall(WLMDynamicsGetFromTS(ts, &dyn));
  if (dyn->in_rollout && !dyn->record) PetscFunctionReturn(0); /* WLMDynamicsRolloutForward(): no adjoint will read the stages */
  PetscCall(TSGetStages(ts, &ns, &Y));
  PetscCall(TapeReserveStages(tape, ts, stepnum, ns, ns ? Y[0] : X));
  for (PetscInt s = 0; s < ns; s++) PetscCall(VecCopy(Y[s], tape->stage[(stepnum - 1) * ns + s]));
  PetscFunctionReturn(0);
}

static PetscErrorCode TSTrajectoryGet_WLMTape(TSTrajectory tj, TS ts, PetscInt stepnum, PetscReal *t)
{
  TJ_WLMTape *tape = (TJ_WLMTape *)tj->data;
  PetscInt    ns;
  Vec        *Y;

  PetscFunctionBeginUser;
  PetscCheck(stepnum >= 0 && stepnum <= tape->nstored, PetscObjectComm((PetscObject)tj), PETSC_ERR_ARG_OUTOFRANGE, "Trajectory %s holds steps 0 to %" PetscInt_FMT ", not step %" PetscInt_FMT, TSTRAJECTORYWLMTAPE, tape->nstored, stepnum);
  *t = tape->time[stepnum];
  if (stepnum == 0) PetscFunctionReturn(0);
  PetscCall(TSGetStages(ts, &ns, &Y));
  PetscCheck(ns == tape->nstages, PetscObjectComm((PetscObject)tj), PETSC_ERR_ARG_WRONGSTATE, "The TS has %" PetscInt_FMT " stages but the trajectory stored %" PetscInt_FMT "; rerun the rollout after changing the TS type", ns, tape->nstages);
  for (PetscInt s = 0; s < ns; s++) PetscCall(VecCopy(tape->stage[(stepnum - 1) * ns + s], Y[s]));
  PetscCall(TSSetTimeStep(ts, tape->time[stepnum - 1] - tape->time[stepnum]));
  PetscFunctionReturn(0);
}

static PetscErrorCode TSTrajectorySetUp_WLMTape(TSTrajectory tj, TS ts)
{
  PetscFunctionBeginUser;
  PetscCheck(!tj->solution_only, PetscObjectComm((PetscObject)tj), PETSC_ERR_SUP, "Trajectory %s stores the stages of every step; remove -ts_trajectory_solution_only", TSTRAJECTORYWLMTAPE);
  PetscFunctionReturn(0);
}

/* Rewinds the tape; the storage is kept for the next solve. */
static PetscErrorCode TSTrajectoryReset_WLMTape(TSTrajectory tj)
{
  PetscFunctionBeginUser;
  ((TJ_WLMTape *)tj->data)->nstored = -1;
  PetscFunctionReturn(0);
}

static PetscErrorCode TSTrajectoryDestroy_WLMTape(TSTrajectory tj)
{
  TJ_WLMTape *tape = (TJ_WLMTape *)tj->data;

  PetscFunctionBeginUser;
  PetscCall(TapeFreeStages(tape));
  PetscCall(PetscFree(tape->time));
  PetscCall(PetscFree(tj->data));
  PetscFunctionReturn(0);
}

static PetscErrorCode TSTrajectoryView_WLMTape(TSTrajectory tj, PetscViewer viewer)
{
  TJ_WLMTape *tape = (TJ_WLMTape *)tj->data;
  PetscBool   isascii;

  PetscFunctionBeginUser;
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &isascii));
  if (!isascii) PetscFunctionReturn(0);
  PetscCall(PetscViewerASCIIPrintf(viewer, "%" PetscInt_FMT " steps stored, room for %" PetscInt_FMT ", %" PetscInt_FMT " stage vectors of local size %" PetscInt_FMT " per step\n", PetscMax(tape->nstored, 0), tape->capacity, tape->nstages, tape->nlocal));
  PetscFunctionReturn(0);
}

/*MC
  TSTRAJECTORYWLMTAPE - "wlmtape": in-memory trajectory that keeps the stage vectors of every step for the adjoint of a rollout.

  Notes:
  Memory: per step, the stage vectors of the TS type (each a state vector)
  and one time.  The storage is kept and reused across solves.

  Level: intermediate

.seealso: TSWLMVERLET, WLMDynamicsRollout()
M*/
PetscErrorCode TSTrajectoryCreate_WLMTape(TSTrajectory tj, TS ts)
{
  TJ_WLMTape *tape;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&tape));
  tape->nstored    = -1;
  tj->data         = tape;
  tj->ops->set     = TSTrajectorySet_WLMTape;
  tj->ops->get     = TSTrajectoryGet_WLMTape;
  tj->ops->setup   = TSTrajectorySetUp_WLMTape;
  tj->ops->reset   = TSTrajectoryReset_WLMTape;
  tj->ops->destroy = TSTrajectoryDestroy_WLMTape;
  tj->ops->view    = TSTrajectoryView_WLMTape;
  PetscFunctionReturn(0);
}
