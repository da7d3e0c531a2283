/*
   Rollouts and their adjoints on the TS of a WLMDynamics.

   Step plan: for outputs t0 < t_1 < ... < t_k, interval m is split into S
   equal steps, or, with a fixed step dt, into ceil((t_m - t_{m-1}) / dt)
   steps whose last one ends on t_m.  One TSSolve() runs the whole plan; the
   post-step function sets the next step size and copies the state at each
   output time.

   Adjoint: with the cotangent lambda of the state set to dL/dU(t_k), the
   adjoint runs back to t_{k-1} (TSAdjointSetSteps()), dL/dU(t_{k-1}) is added
   to lambda, and so on down to t0.  The parameter cotangent mu has local size
   nparam + 1 on every rank.  It accumulates this rank's share of
   (dL/dtheta, dL/dlog gamma) over all steps and is never reduced here.
*/
#include <wlm/private/dynamicsimpl.h>
#include <petsc/private/tsimpl.h>

/* Frees everything sized by the particle count and resets the TS, which then sets itself up again on the next solve. */
PetscErrorCode WLMDynamicsResetParticles(WLMDynamics dyn)
{
  PetscFunctionBeginUser;
  if (dyn->n < 0) PetscFunctionReturn(0);
  PetscCall(TSAdjointReset(dyn->ts));
  PetscCall(TSReset(dyn->ts));
  PetscCall(VecDestroy(&dyn->U));
  PetscCall(VecDestroy(&dyn->lambda));
  PetscCall(VecDestroy(&dyn->mu));
  PetscCall(VecDestroy(&dyn->jac_point));
  PetscCall(MatDestroy(&dyn->J));
  PetscCall(MatDestroy(&dyn->Jp));
  PetscCall(PetscFree6(dyn->mass, dyn->invmass, dyn->work_lambda, dyn->work_force, dyn->cache_gradx, dyn->cache_gradtheta));
  dyn->n             = -1;
  dyn->adjoint_ready = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* Creates the state, cotangents, shells and workspaces for n particles on this rank and attaches them to the TS. */
static PetscErrorCode SetUpParticles(WLMDynamics dyn, PetscInt n)
{
  MPI_Comm comm = PetscObjectComm((PetscObject)dyn);
  PetscInt nd   = n * dyn->dim;

  PetscFunctionBeginUser;
  if (n == dyn->n) PetscFunctionReturn(0);
  PetscCall(WLMDynamicsResetParticles(dyn));
  dyn->n = n;
  PetscCall(VecCreate(comm, &dyn->U));
  PetscCall(VecSetSizes(dyn->U, 2 * nd, PETSC_DECIDE));
  PetscCall(VecSetType(dyn->U, VECSTANDARD));
  PetscCall(VecDuplicate(dyn->U, &dyn->lambda));
  PetscCall(VecDuplicate(dyn->U, &dyn->jac_point));
  PetscCall(VecCreate(comm, &dyn->mu));
  PetscCall(VecSetSizes(dyn->mu, dyn->nparam + 1, PETSC_DECIDE));
  PetscCall(VecSetType(dyn->mu, VECSTANDARD));
  PetscCall(PetscMalloc6(n, &dyn->mass, n, &dyn->invmass, nd, &dyn->work_lambda, nd, &dyn->work_force, nd, &dyn->cache_gradx, dyn->nparam, &dyn->cache_gradtheta));
  PetscCall(WLMDynamicsCreateShellJacobians(dyn));

  PetscCall(TSSetSolution(dyn->ts, dyn->U));
  PetscCall(TSSetRHSJacobian(dyn->ts, dyn->J, dyn->J, WLMDynamicsRHSJacobian, dyn));
  PetscCall(TSSetRHSJacobianP(dyn->ts, dyn->Jp, WLMDynamicsRHSJacobianP, dyn));
  PetscCall(TSSetCostGradients(dyn->ts, 1, &dyn->lambda, &dyn->mu));
  PetscFunctionReturn(0);
}

/* Copies the masses, or sets 1/N over the communicator when w is NULL. */
static PetscErrorCode SetMasses(WLMDynamics dyn, const PetscReal w[])
{
  PetscInt N;

  PetscFunctionBeginUser;
  dyn->uniform = w ? PETSC_FALSE : PETSC_TRUE;
  if (w) {
    for (PetscInt i = 0; i < dyn->n; i++) {
      PetscCheck(w[i] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Mass of local particle %" PetscInt_FMT " is %g; masses must be positive", i, (double)w[i]);
      dyn->mass[i]    = w[i];
      dyn->invmass[i] = 1.0 / w[i];
    }
    PetscFunctionReturn(0);
  }
  PetscCall(MPIU_Allreduce(&dyn->n, &N, 1, MPIU_INT, MPI_SUM, PetscObjectComm((PetscObject)dyn)));
  PetscCheck(N > 0, PetscObjectComm((PetscObject)dyn), PETSC_ERR_ARG_OUTOFRANGE, "The ensemble has no particles");
  for (PetscInt i = 0; i < dyn->n; i++) {
    dyn->mass[i]    = 1.0 / (PetscReal)N;
    dyn->invmass[i] = (PetscReal)N;
  }
  PetscFunctionReturn(0);
}

/*
   Number of steps for an output interval of length len: the substeps, or
   ceil(len / dt) for a fixed step.  A last step shorter than 1e-9 dt comes
   from rounding of an interval that is a multiple of dt and is merged.
*/
static PetscInt IntervalSteps(WLMDynamics dyn, PetscReal len)
{
  if (dyn->dt <= 0) return dyn->substeps;
  return PetscMax(1, (PetscInt)PetscCeilReal(len / dyn->dt - 1e-9));
}

/* Validates the output times and fills plantime and outstep; the arrays grow only when a rollout needs more room. */
static PetscErrorCode PlanSteps(WLMDynamics dyn, PetscReal t0, PetscInt nout, const PetscReal times[])
{
  MPI_Comm comm = PetscObjectComm((PetscObject)dyn);
  PetscInt nsteps = 0, j = 0;

  PetscFunctionBeginUser;
  PetscCheck(nout >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "A rollout needs at least 1 output time, got %" PetscInt_FMT, nout);
  PetscCheck(times[0] > t0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Output time t_1 = %g must be later than the start time t0 = %g", (double)times[0], (double)t0);
  for (PetscInt m = 1; m < nout; m++) PetscCheck(times[m] > times[m - 1], comm, PETSC_ERR_ARG_OUTOFRANGE, "Output times must increase: t_%" PetscInt_FMT " = %g follows t_%" PetscInt_FMT " = %g", m + 1, (double)times[m], m, (double)times[m - 1]);

  for (PetscInt m = 0; m < nout; m++) nsteps += IntervalSteps(dyn, times[m] - (m ? times[m - 1] : t0));
  if (nsteps + 1 > dyn->nsteps_alloc) {
    PetscCall(PetscFree(dyn->plantime));
    PetscCall(PetscMalloc1(nsteps + 1, &dyn->plantime));
    dyn->nsteps_alloc = nsteps + 1;
  }
  if (nout + 1 > dyn->nout_alloc) {
    PetscCall(PetscFree(dyn->outstep));
    PetscCall(PetscMalloc1(nout + 1, &dyn->outstep));
    dyn->nout_alloc = nout + 1;
  }

  dyn->plantime[0] = t0;
  dyn->outstep[0]  = 0;
  for (PetscInt m = 0; m < nout; m++) {
    const PetscReal ta = m ? times[m - 1] : t0, tb = times[m];
    const PetscInt  steps = IntervalSteps(dyn, tb - ta);

    for (PetscInt s = 1; s < steps; s++) dyn->plantime[j + s] = dyn->dt > 0 ? ta + s * dyn->dt : ta + (tb - ta) * ((PetscReal)s / (PetscReal)steps);
    j += steps;
    dyn->plantime[j]    = tb;
    dyn->outstep[m + 1] = j;
  }
  dyn->nsteps = nsteps;
  dyn->nout   = nout;
  PetscFunctionReturn(0);
}

/*
   Rejects integrators, adaptors and trajectory types whose gradients are
   missing or wrong.  When the integrator differs from the one the TS last
   ran, the TS is reset, because PETSc keeps the adjoint workspaces of the
   old type otherwise.
*/
static PetscErrorCode CheckTS(WLMDynamics dyn)
{
  static const char *const good_rk[] = {TSRK1FE, TSRK2A, TSRK3, TSRK3BS, TSRK4};
  MPI_Comm                 comm      = PetscObjectComm((PetscObject)dyn);
  TSType                   type;
  TSAdapt                  adapt;
  TSAdaptType              adapttype;
  TSTrajectory             tj;
  TSTrajectoryType         tjtype;
  PetscBool                isverlet, isrk, good = PETSC_FALSE, same;
  char                     integrator[64];

  PetscFunctionBeginUser;
  PetscCall(TSGetType(dyn->ts, &type));
  PetscCall(PetscObjectTypeCompare((PetscObject)dyn->ts, TSWLMVERLET, &isverlet));
  PetscCall(PetscObjectTypeCompare((PetscObject)dyn->ts, TSRK, &isrk));
  PetscCheck(isverlet || isrk, comm, PETSC_ERR_SUP, "TS type %s has no discrete adjoint that WLMDynamics supports; use -ts_type %s (the default) or -ts_type %s", type, TSWLMVERLET, TSRK);
  if (isrk) {
    TSRKType rktype;

    PetscCall(TSRKGetType(dyn->ts, &rktype));
    for (size_t i = 0; i < PETSC_STATIC_ARRAY_LENGTH(good_rk); i++) {
      PetscCall(PetscStrcmp(rktype, good_rk[i], &same));
      good = (PetscBool)(good || same);
    }
    PetscCheck(good, comm, PETSC_ERR_SUP, "TSRK type %s gives a wrong parameter gradient in PETSc 3.18; use -ts_rk_type 1fe, 2a, 3, 3bs or 4", rktype);
    PetscCall(PetscSNPrintf(integrator, sizeof(integrator), "%s %s", type, rktype));
  } else PetscCall(PetscStrncpy(integrator, type, sizeof(integrator)));
  PetscCall(TSGetAdapt(dyn->ts, &adapt));
  PetscCall(TSAdaptGetType(adapt, &adapttype));
  PetscCall(PetscStrcmp(adapttype, TSADAPTNONE, &same));
  PetscCheck(same, comm, PETSC_ERR_SUP, "Rollouts take fixed steps, but the TS adaptor is %s; remove -ts_adapt_type or set it to none", adapttype);
  PetscCall(TSGetTrajectory(dyn->ts, &tj));
  PetscCall(TSTrajectoryGetType(tj, dyn->ts, &tjtype));
  PetscCall(PetscStrcmp(tjtype, TSTRAJECTORYWLMTAPE, &same));
  PetscCheck(same, comm, PETSC_ERR_SUP, "Rollouts store their steps with the trajectory type %s; -ts_trajectory_type %s is not supported", TSTRAJECTORYWLMTAPE, tjtype);
  PetscCall(TSTrajectoryGetSolutionOnly(tj, &same));
  PetscCheck(!same, comm, PETSC_ERR_SUP, "Rollouts store the stages of every step; remove -ts_trajectory_solution_only");

  PetscCall(PetscStrcmp(integrator, dyn->integrator, &same));
  if (!same) PetscCall(WLMDynamicsResetParticles(dyn));
  PetscCall(PetscStrncpy(dyn->integrator, integrator, sizeof(dyn->integrator)));
  PetscFunctionReturn(0);
}

/* TS post-step function: records the state at output times and sets the size of the next planned step. */
PetscErrorCode WLMDynamicsPostStep(TS ts)
{
  WLMDynamics        dyn;
  PetscInt           step, nd;
  PetscReal          t;
  const PetscScalar *u;

  PetscFunctionBeginUser;
  PetscCall(TSGetApplicationContext(ts, &dyn));
  if (!dyn || !dyn->in_rollout) PetscFunctionReturn(0);
  PetscCall(TSGetStepNumber(ts, &step));
  PetscCall(TSGetTime(ts, &t));
  nd = dyn->n * dyn->dim;
  if (dyn->nextout <= dyn->nout && step == dyn->outstep[dyn->nextout]) {
    const PetscInt m = dyn->nextout - 1;

    PetscCall(VecGetArrayRead(dyn->U, &u));
    PetscCall(PetscArraycpy(dyn->Xout[m], u, nd));
    if (dyn->Vout && dyn->Vout[m]) PetscCall(PetscArraycpy(dyn->Vout[m], u + nd, nd));
    PetscCall(VecRestoreArrayRead(dyn->U, &u));
    dyn->nextout++;
  }
  if (step < dyn->nsteps) PetscCall(TSSetTimeStep(ts, dyn->plantime[step + 1] - t));
  PetscFunctionReturn(0);
}

/* Runs a rollout (WLMDynamicsRollout()); with record false the tape keeps only the step times, and the rollout has no adjoint. */
static PetscErrorCode Rollout(WLMDynamics dyn, PetscBool record, PetscInt n, const PetscReal w[], PetscReal t0, const PetscReal x0[], const PetscReal v0[], PetscInt nout, const PetscReal times[], PetscReal *const X[], PetscReal *const V[])
{
  MPI_Comm           comm = PetscObjectComm((PetscObject)dyn);
  PetscInt           nd, step;
  PetscScalar       *u;
  TSConvergedReason  reason;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  dyn->adjoint_ready = PETSC_FALSE;
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Particle count %" PetscInt_FMT " is negative", n);
  PetscCheck(n == 0 || x0, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Start positions x0 are NULL for %" PetscInt_FMT " particles", n);
  PetscCheck(nout < 1 || (times && X), PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Output times and the position arrays X are required");
  PetscCall(WLMDynamicsSetUp(dyn));
  PetscCall(CheckTS(dyn));
  PetscCall(PlanSteps(dyn, t0, nout, times));
  for (PetscInt m = 0; m < nout; m++) PetscCheck(n == 0 || X[m], PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Position array X[%" PetscInt_FMT "] for output time %g is NULL", m, (double)times[m]);
  PetscCall(SetUpParticles(dyn, n));
  PetscCall(SetMasses(dyn, w));
  nd = n * dyn->dim;

  PetscCall(PetscLogEventBegin(WLMDYNAMICS_Rollout, dyn, 0, 0, 0));
  PetscCall(VecGetArray(dyn->U, &u));
  PetscCall(PetscArraycpy(u, x0, nd));
  if (v0) PetscCall(PetscArraycpy(u + nd, v0, nd));
  else PetscCall(PetscArrayzero(u + nd, nd));
  PetscCall(VecRestoreArray(dyn->U, &u));

  /* the same TS runs every rollout: rewind it (storing step 0 also rewinds the trajectory) */
  PetscCall(TSWLMVerletRestart(dyn->ts));
  PetscCall(TSSetTime(dyn->ts, t0));
  PetscCall(TSSetStepNumber(dyn->ts, 0));
  PetscCall(TSSetMaxSteps(dyn->ts, dyn->nsteps));
  PetscCall(TSSetMaxTime(dyn->ts, PETSC_MAX_REAL));
  PetscCall(TSSetTimeStep(dyn->ts, dyn->plantime[1] - t0));
  dyn->Xout       = X;
  dyn->Vout       = V;
  dyn->nextout    = 1;
  dyn->record     = record;
  dyn->in_rollout = PETSC_TRUE;
  PetscCall(TSSolve(dyn->ts, dyn->U));
  dyn->in_rollout = PETSC_FALSE;
  PetscCall(PetscLogEventEnd(WLMDYNAMICS_Rollout, dyn, 0, 0, 0));

  PetscCall(TSGetStepNumber(dyn->ts, &step));
  PetscCall(TSGetConvergedReason(dyn->ts, &reason));
  PetscCheck(step == dyn->nsteps && dyn->nextout == nout + 1, comm, PETSC_ERR_PLIB, "Rollout stopped after %" PetscInt_FMT " of %" PetscInt_FMT " steps (TS reason %s)", step, dyn->nsteps, TSConvergedReasons[reason]);
  dyn->adjoint_ready = record;
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsRollout - Integrates the particles from (t0, X0, V0) and records their state at the output times.

  Collective

  Input Parameters:
+ dyn   - the object, with a potential set
. n     - particles on this rank (the sharded ensemble is the union over the ranks)
. w     - masses [n], or NULL for uniform masses 1/N with N the total count
. t0    - start time
. x0    - start positions [n][dim]
. v0    - start velocities [n][dim], or NULL for zero velocities
. nout  - number of output times k >= 1
- times - output times t0 < t_1 < ... < t_k [k]

  Output Parameters:
+ X - X[m] receives the positions at t_{m+1} [n][dim], m = 0..k-1
- V - V[m] receives the velocities at t_{m+1}, or V (or any V[m]) may be NULL

  Notes:
  The step plan is described in WLMDynamicsSetSubsteps() and
  WLMDynamicsSetTimeStep().  The rollout stores what its adjoint needs;
  call WLMDynamicsRolloutAdjoint() before the next rollout to differentiate
  it.  The first rollout with a given n sizes the workspaces, and later
  ones reuse them.  A rollout with more steps than any before extends the
  trajectory storage once.

  Level: beginner

.seealso: WLMDynamicsRolloutAdjoint(), WLMDynamicsGetRolloutSteps()
@*/
PetscErrorCode WLMDynamicsRollout(WLMDynamics dyn, PetscInt n, const PetscReal w[], PetscReal t0, const PetscReal x0[], const PetscReal v0[], PetscInt nout, const PetscReal times[], PetscReal *const X[], PetscReal *const V[])
{
  PetscFunctionBeginUser;
  PetscCall(Rollout(dyn, PETSC_TRUE, n, w, t0, x0, v0, nout, times, X, V));
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsRolloutForward - Integrates the particles like WLMDynamicsRollout() but stores nothing for an adjoint.

  Collective

  Input and output arguments are those of WLMDynamicsRollout().

  Notes:
  The outputs equal those of WLMDynamicsRollout() bit for bit.  The
  trajectory keeps its storage but copies no stages, so a rollout with more
  steps than any before allocates no trajectory memory.  A recorded rollout
  keeps the stage vectors of every step, 3 state vectors per step for
  TSWLMVERLET.  The forward rollout cannot be differentiated.

  Level: intermediate

.seealso: WLMDynamicsRollout()
@*/
PetscErrorCode WLMDynamicsRolloutForward(WLMDynamics dyn, PetscInt n, const PetscReal w[], PetscReal t0, const PetscReal x0[], const PetscReal v0[], PetscInt nout, const PetscReal times[], PetscReal *const X[], PetscReal *const V[])
{
  PetscFunctionBeginUser;
  PetscCall(Rollout(dyn, PETSC_FALSE, n, w, t0, x0, v0, nout, times, X, V));
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsRolloutAdjoint - Back-propagates a loss of the recorded states through the last rollout.

  Collective

  Input Parameters:
+ dyn  - the object, after WLMDynamicsRollout()
. dLdX - dLdX[m] = dL/dX(t_{m+1}) [n][dim] for m = 0..k-1; an entry may be NULL (no loss term)
- dLdV - dL/dV at the output times in the same layout, or NULL (neither may be needed)

  Output Parameters (each may be NULL):
+ gradtheta - this rank's share of dL/dtheta [nparam]
. dloggamma - this rank's share of dL/dlog(gamma)
. dx0       - dL/dX0 [n][dim]
- dv0       - dL/dV0 [n][dim]

  Notes:
  The parameter gradients are shares: their sum over the ranks of the
  communicator is the gradient, so a trainer sums them in its one gradient
  allreduce.  With one rank per ensemble the share is the gradient.  The
  result is the exact derivative of the discrete rollout (to rounding).
  A rollout can be differentiated once.

  Level: beginner

.seealso: WLMDynamicsRollout()
@*/
PetscErrorCode WLMDynamicsRolloutAdjoint(WLMDynamics dyn, const PetscReal *const dLdX[], const PetscReal *const dLdV[], PetscReal gradtheta[], PetscReal *dloggamma, PetscReal dx0[], PetscReal dv0[])
{
  PetscInt           nd;
  PetscScalar       *l;
  const PetscScalar *mu;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  PetscCheck(dyn->adjoint_ready, PetscObjectComm((PetscObject)dyn), PETSC_ERR_ARG_WRONGSTATE, "No rollout to differentiate; call WLMDynamicsRollout() before each WLMDynamicsRolloutAdjoint()");
  PetscCall(PetscLogEventBegin(WLMDYNAMICS_Adjoint, dyn, 0, 0, 0));
  nd = dyn->n * dyn->dim;
  PetscCall(VecZeroEntries(dyn->lambda));
  PetscCall(VecZeroEntries(dyn->mu));
  for (PetscInt m = dyn->nout; m >= 1; m--) {
    PetscCall(VecGetArray(dyn->lambda, &l));
    if (dLdX && dLdX[m - 1]) {
      for (PetscInt i = 0; i < nd; i++) l[i] += dLdX[m - 1][i];
    }
    if (dLdV && dLdV[m - 1]) {
      for (PetscInt i = 0; i < nd; i++) l[nd + i] += dLdV[m - 1][i];
    }
    PetscCall(VecRestoreArray(dyn->lambda, &l));
    PetscCall(TSAdjointSetSteps(dyn->ts, dyn->outstep[m] - dyn->outstep[m - 1]));
    PetscCall(TSAdjointSolve(dyn->ts));
  }
  dyn->adjoint_ready = PETSC_FALSE;

  PetscCall(VecGetArrayRead(dyn->lambda, (const PetscScalar **)&l));
  if (dx0) PetscCall(PetscArraycpy(dx0, l, nd));
  if (dv0) PetscCall(PetscArraycpy(dv0, l + nd, nd));
  PetscCall(VecRestoreArrayRead(dyn->lambda, (const PetscScalar **)&l));
  PetscCall(VecGetArrayRead(dyn->mu, &mu));
  if (gradtheta) PetscCall(PetscArraycpy(gradtheta, mu, dyn->nparam));
  if (dloggamma) *dloggamma = mu[dyn->nparam];
  PetscCall(VecRestoreArrayRead(dyn->mu, &mu));
  PetscCall(PetscLogEventEnd(WLMDYNAMICS_Adjoint, dyn, 0, 0, 0));
  PetscFunctionReturn(0);
}

/*@
  WLMDynamicsGetRolloutSteps - Returns the step count of the last rollout and the step index of each output time.

  Not Collective

  Output Parameters:
+ nsteps  - number of steps, or NULL
- outstep - outstep[m] is the step after which the state at t_m was recorded, outstep[0] = 0 [k + 1]; owned by dyn, or NULL
@*/
PetscErrorCode WLMDynamicsGetRolloutSteps(WLMDynamics dyn, PetscInt *nsteps, const PetscInt *outstep[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(dyn, WLMDYNAMICS_CLASSID, 1);
  if (nsteps) *nsteps = dyn->nsteps;
  if (outstep) *outstep = dyn->outstep;
  PetscFunctionReturn(0);
}
