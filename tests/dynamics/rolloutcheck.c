/*
   Rollout problem and gradient checks shared by the dynamics tests.

   Central differences with step h = 1e-5 have truncation error O(h^2) times
   the third derivative of the loss and rounding error O(eps L / h), both
   near 1e-10 relative for this O(1) problem, well below the 1e-6 bound.
*/
#include "rolloutcheck.h"
#include "potentialcheck.h"

static const PetscReal fd_step = 1e-5;

/*
   Creates the problem: N particles in dim dimensions, sharded in contiguous
   blocks over comm, a potential of type pottype, friction 0.7, random masses
   (or uniform ones when masses is false), outputs at 0.41, 0.76, 1.03 from
   t0 = 0.1 and the velocity term at the first output.
*/
PetscErrorCode WLMTestRolloutCreate(MPI_Comm comm, const char pottype[], PetscInt N, PetscInt dim, PetscBool masses, uint64_t seed, WLMTestRollout *p)
{
  PetscMPIInt size, rank;
  PetscInt    nd;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(p, sizeof(*p)));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  p->comm    = comm;
  p->N       = N;
  p->dim     = dim;
  p->start   = (N * rank) / size;
  p->n       = (N * (rank + 1)) / size - p->start;
  p->t0      = 0.1;
  p->nout    = 3;
  p->vel_out = 0;
  p->beta    = 0.4;
  p->times[0] = 0.41, p->times[1] = 0.76, p->times[2] = 1.03;
  p->alpha[0] = 1.0, p->alpha[1] = 0.7, p->alpha[2] = 1.3;

  PetscCall(PetscMalloc3(N * dim, &p->x0, N * dim, &p->v0, ROLLOUT_MAX_OUT * N * dim, &p->targets));
  PetscCall(PetscMalloc1(N, &p->w));
  PetscCall(WLMTestRandomArray(seed, N * dim, 1.0, p->x0));
  PetscCall(WLMTestRandomArray(seed + 1, N * dim, 0.5, p->v0));
  PetscCall(WLMTestRandomArray(seed + 2, N, 1.0, p->w));
  PetscCall(WLMTestRandomArray(seed + 3, ROLLOUT_MAX_OUT * N * dim, 0.5, p->targets));
  for (PetscInt i = 0; i < N; i++) p->w[i] = (0.5 + PetscAbsReal(p->w[i])) / N;
  if (!masses) PetscCall(PetscFree(p->w));

  nd = PetscMax(1, p->n * dim);
  for (PetscInt m = 0; m < ROLLOUT_MAX_OUT; m++) PetscCall(PetscMalloc4(nd, &p->X[m], nd, &p->V[m], nd, &p->gX[m], nd, &p->gV[m]));

  PetscCall(WLMPotentialCreate(comm, &p->pot));
  PetscCall(WLMPotentialSetType(p->pot, pottype));
  PetscCall(WLMPotentialSetDimension(p->pot, dim));
  PetscCall(WLMPotentialSetUp(p->pot));
  PetscCall(WLMDynamicsCreate(comm, &p->dyn));
  PetscCall(WLMDynamicsSetPotential(p->dyn, p->pot));
  PetscCall(WLMDynamicsSetFriction(p->dyn, 0.7));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMTestRolloutDestroy(WLMTestRollout *p)
{
  PetscFunctionBeginUser;
  for (PetscInt m = 0; m < ROLLOUT_MAX_OUT; m++) PetscCall(PetscFree4(p->X[m], p->V[m], p->gX[m], p->gV[m]));
  PetscCall(PetscFree3(p->x0, p->v0, p->targets));
  PetscCall(PetscFree(p->w));
  PetscCall(WLMDynamicsDestroy(&p->dyn));
  PetscCall(WLMPotentialDestroy(&p->pot));
  PetscFunctionReturn(0);
}

/* Selects the integrator and step rule and sets the friction. */
PetscErrorCode WLMTestRolloutConfigure(WLMTestRollout *p, const WLMTestIntegrator *integ, PetscReal gamma)
{
  TS ts;

  PetscFunctionBeginUser;
  PetscCall(WLMDynamicsGetTS(p->dyn, &ts));
  PetscCall(TSSetType(ts, integ->tstype));
  if (integ->rktype) PetscCall(TSRKSetType(ts, integ->rktype));
  PetscCall(WLMDynamicsSetFrictionVariant(p->dyn, integ->variant));
  PetscCall(WLMDynamicsSetTimeStep(p->dyn, integ->dt));
  PetscCall(WLMDynamicsSetSubsteps(p->dyn, integ->substeps));
  PetscCall(WLMDynamicsSetFriction(p->dyn, gamma));
  PetscFunctionReturn(0);
}

/* Runs the rollout and evaluates L over all ranks; fills p->gX, p->gV with dL/dX, dL/dV. */
static PetscErrorCode RolloutAndLoss(WLMTestRollout *p, PetscReal *L)
{
  const PetscInt nd = p->n * p->dim;
  PetscReal      local = 0;

  PetscFunctionBeginUser;
  PetscCall(WLMDynamicsRollout(p->dyn, p->n, p->w ? p->w + p->start : NULL, p->t0, p->x0 + p->start * p->dim, p->v0 + p->start * p->dim, p->nout, p->times, p->X, p->V));
  for (PetscInt m = 0; m < p->nout; m++) {
    const PetscReal *y = p->targets + m * p->N * p->dim + p->start * p->dim;

    for (PetscInt i = 0; i < nd; i++) {
      const PetscReal e = p->X[m][i] - y[i];

      local += 0.5 * p->alpha[m] * e * e;
      p->gX[m][i] = p->alpha[m] * e;
      p->gV[m][i] = 0;
      if (m == p->vel_out) {
        local += 0.5 * p->beta * p->V[m][i] * p->V[m][i];
        p->gV[m][i] = p->beta * p->V[m][i];
      }
    }
  }
  PetscCall(MPIU_Allreduce(&local, L, 1, MPIU_REAL, MPIU_SUM, p->comm));
  PetscFunctionReturn(0);
}

/* L summed over the ranks. */
PetscErrorCode WLMTestRolloutLoss(WLMTestRollout *p, PetscReal *L)
{
  PetscFunctionBeginUser;
  PetscCall(RolloutAndLoss(p, L));
  PetscFunctionReturn(0);
}

/* L, dL/dtheta and dL/dlog(gamma) summed over the ranks, and the local blocks of dL/dX0 and dL/dV0. */
PetscErrorCode WLMTestRolloutGradient(WLMTestRollout *p, PetscReal *L, PetscReal gradtheta[], PetscReal *dloggamma, PetscReal dx0[], PetscReal dv0[])
{
  PetscInt nparam;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialGetNumParameters(p->pot, &nparam));
  PetscCall(RolloutAndLoss(p, L));
  PetscCall(WLMDynamicsRolloutAdjoint(p->dyn, (const PetscReal *const *)p->gX, (const PetscReal *const *)p->gV, gradtheta, dloggamma, dx0, dv0));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, gradtheta, nparam, MPIU_REAL, MPIU_SUM, p->comm));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, dloggamma, 1, MPIU_REAL, MPIU_SUM, p->comm));
  PetscFunctionReturn(0);
}

static PetscReal RelErr(PetscReal a, PetscReal b)
{
  return PetscAbsReal(a - b) / PetscMax(PetscMax(PetscAbsReal(a), PetscAbsReal(b)), 1e-10);
}

/* Sum over the ranks of the local dot product of a local block with the matching block of a global array. */
static PetscErrorCode GlobalDot(WLMTestRollout *p, const PetscReal local[], const PetscReal global[], PetscReal *dot)
{
  PetscReal s = 0;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < p->n * p->dim; i++) s += local[i] * global[p->start * p->dim + i];
  PetscCall(MPIU_Allreduce(&s, dot, 1, MPIU_REAL, MPIU_SUM, p->comm));
  PetscFunctionReturn(0);
}

/* Central difference of L along a direction of a global start array (positions or velocities). */
static PetscErrorCode DifferenceStart(WLMTestRollout *p, PetscReal start[], const PetscReal dir[], PetscReal *fd)
{
  const PetscInt Nd = p->N * p->dim;
  PetscReal      Lp, Lm;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < Nd; i++) start[i] += fd_step * dir[i];
  PetscCall(RolloutAndLoss(p, &Lp));
  for (PetscInt i = 0; i < Nd; i++) start[i] -= 2 * fd_step * dir[i];
  PetscCall(RolloutAndLoss(p, &Lm));
  for (PetscInt i = 0; i < Nd; i++) start[i] += fd_step * dir[i];
  *fd = (Lp - Lm) / (2 * fd_step);
  PetscFunctionReturn(0);
}

/*
   Compares the adjoint gradient with central differences of L along a random
   parameter direction, log(gamma), and random directions of X0 and V0.
*/
PetscErrorCode WLMTestRolloutCheckGradient(WLMTestRollout *p, uint64_t seed, WLMTestGradientErrors *err)
{
  const PetscInt Nd = p->N * p->dim;
  PetscInt       nparam;
  PetscReal     *gtheta, *theta, *eta, *dx0, *dv0, *dir, L, dlg, gamma, Lp, Lm, an, fd;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialGetNumParameters(p->pot, &nparam));
  PetscCall(PetscMalloc6(nparam, &gtheta, nparam, &theta, nparam, &eta, PetscMax(1, p->n * p->dim), &dx0, PetscMax(1, p->n * p->dim), &dv0, Nd, &dir));
  PetscCall(WLMTestRolloutGradient(p, &L, gtheta, &dlg, dx0, dv0));

  /* theta along eta */
  PetscCall(WLMTestRandomArray(seed, nparam, 1.0, eta));
  PetscCall(WLMPotentialGetParameters(p->pot, theta));
  for (PetscInt k = 0; k < nparam; k++) theta[k] += fd_step * eta[k];
  PetscCall(WLMPotentialSetParameters(p->pot, theta));
  PetscCall(RolloutAndLoss(p, &Lp));
  for (PetscInt k = 0; k < nparam; k++) theta[k] -= 2 * fd_step * eta[k];
  PetscCall(WLMPotentialSetParameters(p->pot, theta));
  PetscCall(RolloutAndLoss(p, &Lm));
  for (PetscInt k = 0; k < nparam; k++) theta[k] += fd_step * eta[k];
  PetscCall(WLMPotentialSetParameters(p->pot, theta));
  an = 0;
  for (PetscInt k = 0; k < nparam; k++) an += gtheta[k] * eta[k];
  err->theta = RelErr(an, (Lp - Lm) / (2 * fd_step));

  /* log(gamma) */
  PetscCall(WLMDynamicsGetFriction(p->dyn, &gamma));
  PetscCall(WLMDynamicsSetFriction(p->dyn, gamma * PetscExpReal(fd_step)));
  PetscCall(RolloutAndLoss(p, &Lp));
  PetscCall(WLMDynamicsSetFriction(p->dyn, gamma * PetscExpReal(-fd_step)));
  PetscCall(RolloutAndLoss(p, &Lm));
  PetscCall(WLMDynamicsSetFriction(p->dyn, gamma));
  err->loggamma = RelErr(dlg, (Lp - Lm) / (2 * fd_step));

  /* start positions and velocities along random directions */
  PetscCall(WLMTestRandomArray(seed + 1, Nd, 1.0, dir));
  PetscCall(DifferenceStart(p, p->x0, dir, &fd));
  PetscCall(GlobalDot(p, dx0, dir, &an));
  err->x0 = RelErr(an, fd);
  PetscCall(WLMTestRandomArray(seed + 2, Nd, 1.0, dir));
  PetscCall(DifferenceStart(p, p->v0, dir, &fd));
  PetscCall(GlobalDot(p, dv0, dir, &an));
  err->v0 = RelErr(an, fd);
  PetscCall(PetscFree6(gtheta, theta, eta, dx0, dv0, dir));
  PetscFunctionReturn(0);
}
