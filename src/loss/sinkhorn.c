/*
   sinkhorn: the debiased Sinkhorn divergence between weighted clouds
   (x_i, a_i), i < N, and (y_j, b_j), j < M, with masses of total 1,

     C(x, y) = |x - y|^p / p,  p = 1 or 2,   eps = blur^p,
     OT_eps(a, b) = max_{f,g} <a,f> + <b,g> - eps <a (x) b, exp((f (+) g - C)/eps) - 1>,
     S_eps(a, b)  = OT_eps(a, b) - OT_eps(a, a)/2 - OT_eps(b, b)/2.

   Dual potentials.  f, g solve OT_eps(a, b); fa and gb the symmetric problems
   OT_eps(a, a) and OT_eps(b, b).  One step at a given eps computes the
   soft c-transforms of all four from the current values:

     fn_i  = -eps log sum_j b_j exp((g_j  - C(x_i, y_j))/eps)
     gn_j  = -eps log sum_i a_i exp((f_i  - C(x_i, y_j))/eps)
     fan_i = -eps log sum_k a_k exp((fa_k - C(x_i, x_k))/eps)
     gbn_j = -eps log sum_l b_l exp((gb_l - C(y_j, y_l))/eps)

   (fn and gn both from the old f and g: symmetric rather than alternating
   updates).  With the shift fn_i = f_i - eps log sum_j b_j exp(F_i + G_j -
   C/eps), F = f/eps, G = g/eps, one pass over the pairs (i, j) gives both fn
   (row sums) and gn (column sums), and one pass over the pairs k > i of each
   cloud gives fan and gbn; see pairs.c.

   Annealing (eps-scaling).  With D the diagonal of the bounding box of both
   clouds and s the scaling:
     1. start from f = g = fa = gb = 0 and take one step at eps = D^p;
     2. take averaged steps (each potential becomes the mean of its old value
        and its c-transform) at eps = D^p, then at eps_k = exp(p log D + k p log s)
        for k = 0 .. K-1, K = ceil(log(blur / D) / log(s)) (none when D <= blur),
        then at eps = blur^p.  This is the list of epsilon_schedule() in
        GeomLoss's sinkhorn_divergence.py, so values can be compared with
        GeomLoss at the same blur and scaling;
     3. optionally take more averaged steps at blur^p until no potential moves
        by more than tol * eps (-wlm_loss_sinkhorn_max_it, off by default);
     4. take one last plain step at eps = blur^p (the extrapolation), and use
        its potentials:

     S = <a, f - fa> + <b, g - gb>.

   Gradient (envelope theorem: at the optimum the potentials are stationary,
   so only the explicit dependence of the last step on x_i counts):

     dS/dx_i = a_i sum_j P_ij grad_x C(x_i, y_j) - a_i sum_k Q_ik grad_x C(x_i, x_k),

   with P_ij = b_j exp((g_j - C(x_i, y_j))/eps) / sum_l (same over l), the
   softmax weights of the last step's fn_i (Q likewise for fan_i), and
   grad_x C(x, y) = x - y (p = 2) or (x - y)/|x - y| (p = 1, 0 where x = y).
   The gradient is exact for converged potentials.  With the plain annealing
   it carries the error of the annealing, as GeomLoss's gradient does.
*/
#include <wlm/private/lossimpl.h>

typedef struct {
  PetscReal  tol;    /* extra steps stop when no potential moves by more than tol * eps */
  PetscInt   max_it; /* largest number of extra steps at the final eps */
  PetscInt   nsteps; /* steps of the last call, including the first and last */
  PetscReal *f, *g, *fa, *gb;     /* potentials of OT(a,b), OT(a,a), OT(b,b) */
  PetscReal *fn, *gn, *fan, *gbn; /* their c-transforms after one step */
  PetscReal *F, *G, *FA, *GB;     /* potentials divided by eps */
  PetscInt   capx, capy;
  PetscReal *norm;                /* normalized gradient sums of one row, 2 (dim + 1) */
  PetscInt   capnorm;
} Sinkhorn;

static PetscErrorCode SinkhornReserve(Sinkhorn *sk, PetscInt N, PetscInt M, PetscInt dim)
{
  PetscFunctionBeginUser;
  if (2 * (dim + 1) > sk->capnorm) {
    PetscCall(PetscFree(sk->norm));
    PetscCall(PetscMalloc1(2 * (dim + 1), &sk->norm));
    sk->capnorm = 2 * (dim + 1);
  }
  if (N > sk->capx) {
    PetscCall(PetscFree6(sk->f, sk->fa, sk->fn, sk->fan, sk->F, sk->FA));
    PetscCall(PetscMalloc6(N, &sk->f, N, &sk->fa, N, &sk->fn, N, &sk->fan, N, &sk->F, N, &sk->FA));
    sk->capx = N;
  }
  if (M > sk->capy) {
    PetscCall(PetscFree6(sk->g, sk->gb, sk->gn, sk->gbn, sk->G, sk->GB));
    PetscCall(PetscMalloc6(M, &sk->g, M, &sk->gb, M, &sk->gn, M, &sk->gbn, M, &sk->G, M, &sk->GB));
    sk->capy = M;
  }
  PetscFunctionReturn(0);
}

/*
   Logarithm of row sum i of a pass plus diag, the diagonal term of a self
   pass.  When norm is not NULL it also receives the row's gradient sums
   divided by the row sum.  Sums outside the safe range are recomputed with a
   maximum shift.
*/
static PetscReal RowLogSum(const WLMLossPairPass *pp, PetscInt dim, PetscInt i, PetscReal diag, PetscReal norm[], PetscInt *nexact)
{
  const PetscReal sum = pp->rowsum[i] + diag;
  PetscReal       logsum;

  if (WLMLossSumIsSafe(sum)) {
    if (norm) {
      for (PetscInt k = 0; k <= dim; k++) norm[k] = pp->grad[k * pp->nrow + i] / sum;
    }
    return PetscLogReal(sum);
  }
  WLMLossPairLogSumExact(pp, dim, PETSC_FALSE, i, &logsum, norm);
  (*nexact)++;
  return logsum;
}

static PetscReal ColumnLogSum(const WLMLossPairPass *pp, PetscInt dim, PetscInt j, PetscInt *nexact)
{
  PetscReal logsum;

  if (WLMLossSumIsSafe(pp->colsum[j])) return PetscLogReal(pp->colsum[j]);
  WLMLossPairLogSumExact(pp, dim, PETSC_TRUE, j, &logsum, NULL);
  (*nexact)++;
  return logsum;
}

/* Gradient of the last step for this rank's rows of x, from the cross pass and the self pass of x. */
static PetscErrorCode SinkhornGradient(WLMLoss loss, const WLMLossPairPass *cross, const WLMLossPairPass *selfx, PetscReal gradx[], PetscInt *nexact)
{
  Sinkhorn            *sk  = (Sinkhorn *)loss->data;
  const WLMLossClouds *cl  = &loss->clouds;
  const PetscInt       dim = cl->dim;
  PetscReal           *pn = sk->norm, *qn = sk->norm + dim + 1; /* normalized gradient sums of the cross and self pass */

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < cl->n; i++) {
    const PetscInt gi = cl->xstart + i;

    (void)RowLogSum(cross, dim, gi, 0, pn, nexact);
    (void)RowLogSum(selfx, dim, gi, cl->a[gi] * PetscExpReal(2 * sk->FA[gi]), qn, nexact);
    for (PetscInt k = 0; k < dim; k++) {
      const PetscReal xk = cl->xt[k * cl->N + gi];

      gradx[i * dim + k] = cl->a[gi] * ((xk * pn[0] - pn[1 + k]) - (xk * qn[0] - qn[1 + k]));
    }
  }
  PetscCall(PetscLogFlops(8.0 * dim * cl->n));
  PetscFunctionReturn(0);
}

/*
   One step at eps: fn, gn, fan, gbn from f, g, fa, gb.  With gradx not NULL
   (the last step), also the gradient for this rank's rows of x.
*/
static PetscErrorCode SinkhornStep(WLMLoss loss, PetscReal eps, PetscReal gradx[])
{
  Sinkhorn            *sk = (Sinkhorn *)loss->data;
  const WLMLossClouds *cl = &loss->clouds;
  const PetscInt       N = cl->N, M = cl->M, dim = cl->dim;
  const PetscReal      inv = 1.0 / eps;
  WLMLossPairPass      pass[3];
  PetscInt             nexact = 0;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < N; i++) {
    sk->F[i]  = sk->f[i] * inv;
    sk->FA[i] = sk->fa[i] * inv;
  }
  for (PetscInt j = 0; j < M; j++) {
    sk->G[j]  = sk->g[j] * inv;
    sk->GB[j] = sk->gb[j] * inv;
  }
  PetscCall(PetscMemzero(pass, sizeof(pass)));
  for (PetscInt p = 0; p < 3; p++) {
    pass[p].kernel   = loss->p == 1 ? WLM_PAIR_SINKHORN_P1 : WLM_PAIR_SINKHORN_P2;
    pass[p].scale    = loss->p == 1 ? -inv : -0.5 * inv;
    pass[p].self     = p > 0 ? PETSC_TRUE : PETSC_FALSE;
    pass[p].columns  = PETSC_TRUE;
    pass[p].gradient = gradx && p < 2 ? PETSC_TRUE : PETSC_FALSE;
  }
  /* OT(a, b): rows x, columns y */
  pass[0].nrow   = N;
  pass[0].ncol   = M;
  pass[0].rowt   = cl->xt;
  pass[0].colt   = cl->yt;
  pass[0].rowpot = sk->F;
  pass[0].colpot = sk->G;
  pass[0].roww   = cl->a;
  pass[0].colw   = cl->b;
  /* OT(a, a) and OT(b, b) */
  pass[1].nrow = pass[1].ncol = N;
  pass[1].rowt = pass[1].colt = cl->xt;
  pass[1].rowpot = pass[1].colpot = sk->FA;
  pass[1].roww = pass[1].colw = cl->a;
  pass[2].nrow = pass[2].ncol = M;
  pass[2].rowt = pass[2].colt = cl->yt;
  pass[2].rowpot = pass[2].colpot = sk->GB;
  pass[2].roww = pass[2].colw = cl->b;
  PetscCall(WLMLossPairSums(loss, 3, pass));

  for (PetscInt i = 0; i < N; i++) {
    sk->fn[i]  = sk->f[i] - eps * RowLogSum(&pass[0], dim, i, 0, NULL, &nexact);
    sk->fan[i] = sk->fa[i] - eps * RowLogSum(&pass[1], dim, i, cl->a[i] * PetscExpReal(2 * sk->FA[i]), NULL, &nexact);
  }
  for (PetscInt j = 0; j < M; j++) {
    sk->gn[j]  = sk->g[j] - eps * ColumnLogSum(&pass[0], dim, j, &nexact);
    sk->gbn[j] = sk->gb[j] - eps * RowLogSum(&pass[2], dim, j, cl->b[j] * PetscExpReal(2 * sk->GB[j]), NULL, &nexact);
  }
  if (gradx) PetscCall(SinkhornGradient(loss, &pass[0], &pass[1], gradx, &nexact));
  if (nexact) PetscCall(PetscInfo(loss, "%" PetscInt_FMT " sums at eps %g recomputed with a maximum shift\n", nexact, (double)eps));
  PetscCall(PetscLogFlops(12.0 * (N + M)));
  sk->nsteps++;
  PetscFunctionReturn(0);
}

/* Replaces the potentials by their c-transforms (average = false) or by the mean of both; returns the largest change of the c-transform. */
static PetscReal SinkhornUpdate(Sinkhorn *sk, PetscInt N, PetscInt M, PetscBool average)
{
  const PetscReal w = average ? 0.5 : 1.0;
  PetscReal       change = 0;

  for (PetscInt i = 0; i < N; i++) {
    change = PetscMax(change, PetscMax(PetscAbsReal(sk->fn[i] - sk->f[i]), PetscAbsReal(sk->fan[i] - sk->fa[i])));
    sk->f[i] += w * (sk->fn[i] - sk->f[i]);
    sk->fa[i] += w * (sk->fan[i] - sk->fa[i]);
  }
  for (PetscInt j = 0; j < M; j++) {
    change = PetscMax(change, PetscMax(PetscAbsReal(sk->gn[j] - sk->g[j]), PetscAbsReal(sk->gbn[j] - sk->gb[j])));
    sk->g[j] += w * (sk->gn[j] - sk->g[j]);
    sk->gb[j] += w * (sk->gbn[j] - sk->gb[j]);
  }
  return change;
}

static PetscErrorCode WLMLossCompute_Sinkhorn(WLMLoss loss, PetscReal *value, PetscReal gradx[], PetscReal massgrad[])
{
  Sinkhorn            *sk = (Sinkhorn *)loss->data;
  const WLMLossClouds *cl = &loss->clouds;
  const PetscInt       N = cl->N, M = cl->M, p = loss->p;
  const PetscReal      D = cl->diameter, blur = loss->blur_used, eps_final = PetscPowRealInt(blur, p);
  const PetscReal      start = p * PetscLogReal(D), step = p * PetscLogReal(loss->scaling);
  PetscReal            S = 0;
  PetscInt             K;

  PetscFunctionBeginUser;
  sk->nsteps = 0;
  if (D == 0) {
    /* every particle of both clouds sits at one point: S = 0 and the gradient vanishes */
    *value = 0;
    if (gradx) PetscCall(PetscArrayzero(gradx, cl->n * cl->dim));
    if (massgrad) PetscCall(PetscArrayzero(massgrad, N));
    PetscFunctionReturn(0);
  }
  PetscCall(SinkhornReserve(sk, N, M, cl->dim));
  PetscCall(PetscArrayzero(sk->f, N));
  PetscCall(PetscArrayzero(sk->fa, N));
  PetscCall(PetscArrayzero(sk->g, M));
  PetscCall(PetscArrayzero(sk->gb, M));

  PetscCall(SinkhornStep(loss, PetscPowRealInt(D, p), NULL));
  (void)SinkhornUpdate(sk, N, M, PETSC_FALSE);
  PetscCall(SinkhornStep(loss, PetscPowRealInt(D, p), NULL));
  (void)SinkhornUpdate(sk, N, M, PETSC_TRUE);
  K = PetscMax(0, (PetscInt)PetscCeilReal((p * PetscLogReal(blur) - start) / step));
  for (PetscInt k = 0; k < K; k++) {
    PetscCall(SinkhornStep(loss, PetscExpReal(start + k * step), NULL));
    (void)SinkhornUpdate(sk, N, M, PETSC_TRUE);
  }
  PetscCall(SinkhornStep(loss, eps_final, NULL));
  (void)SinkhornUpdate(sk, N, M, PETSC_TRUE);
  for (PetscInt it = 0; it < sk->max_it; it++) {
    PetscReal change;

    PetscCall(SinkhornStep(loss, eps_final, NULL));
    change = SinkhornUpdate(sk, N, M, PETSC_TRUE);
    if (change <= sk->tol * eps_final) break;
  }
  PetscCall(SinkhornStep(loss, eps_final, gradx));
  (void)SinkhornUpdate(sk, N, M, PETSC_FALSE);

  for (PetscInt i = 0; i < N; i++) S += cl->a[i] * (sk->f[i] - sk->fa[i]);
  for (PetscInt j = 0; j < M; j++) S += cl->b[j] * (sk->g[j] - sk->gb[j]);
  *value = S;
  /* dS/da_i = f_i - fa_i: the dual objective is linear in a, and its exponential term contributes nothing at the optimum */
  for (PetscInt i = 0; massgrad && i < N; i++) massgrad[i] = sk->f[i] - sk->fa[i];
  PetscCall(PetscLogFlops(3.0 * (N + M)));
  PetscFunctionReturn(0);
}

/*
   Ring exchange (ring.c): the same steps with both clouds sharded.  Each rank
   keeps the potentials of its own particles; the row sums of the self passes
   include the diagonal, so no diagonal term is added.  One flag per step,
   reduced over the ranks, reports a sum outside the safe range.  The caller
   then repeats the call with gathered clouds, because only they allow the
   exact recomputation of a single sum.
*/
static PetscErrorCode SinkhornRingStep(WLMLoss loss, PetscReal eps, PetscReal gradx[], PetscBool *unsafe)
{
  Sinkhorn          *sk = (Sinkhorn *)loss->data;
  const WLMLossRing *rg = &loss->ring;
  const PetscInt     n = rg->n, m = rg->m, dim = rg->dim;
  const PetscReal    inv = 1.0 / eps;
  PetscBool          bad = PETSC_FALSE;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < n; i++) {
    sk->F[i]  = sk->f[i] * inv;
    sk->FA[i] = sk->fa[i] * inv;
  }
  for (PetscInt j = 0; j < m; j++) {
    sk->G[j]  = sk->g[j] * inv;
    sk->GB[j] = sk->gb[j] * inv;
  }
  PetscCall(WLMLossRingPasses(loss, loss->p == 1 ? WLM_PAIR_SINKHORN_P1 : WLM_PAIR_SINKHORN_P2, loss->p == 1 ? -inv : -0.5 * inv, sk->F, sk->FA, sk->G, sk->GB));
  for (PetscInt i = 0; i < n; i++) {
    if (!WLMLossSumIsSafe(rg->rowxy[i]) || !WLMLossSumIsSafe(rg->rowxx[i])) bad = PETSC_TRUE;
    sk->fn[i]  = sk->f[i] - eps * PetscLogReal(rg->rowxy[i]);
    sk->fan[i] = sk->fa[i] - eps * PetscLogReal(rg->rowxx[i]);
  }
  for (PetscInt j = 0; j < m; j++) {
    if (!WLMLossSumIsSafe(rg->colacc[j]) || !WLMLossSumIsSafe(rg->rowyy[j])) bad = PETSC_TRUE;
    sk->gn[j]  = sk->g[j] - eps * PetscLogReal(rg->colacc[j]);
    sk->gbn[j] = sk->gb[j] - eps * PetscLogReal(rg->rowyy[j]);
  }
  for (PetscInt i = 0; gradx && i < n; i++) {
    const PetscReal sxy = rg->rowxy[i], sxx = rg->rowxx[i];

    for (PetscInt k = 0; k < dim; k++) {
      const PetscReal xk    = rg->xt[k * n + i];
      const PetscReal cross = xk * rg->gradxy[i] / sxy - rg->gradxy[(1 + k) * n + i] / sxy;
      const PetscReal self  = xk * rg->gradxx[i] / sxx - rg->gradxx[(1 + k) * n + i] / sxx;

      gradx[i * dim + k] = rg->a[i] * (cross - self);
    }
  }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &bad, 1, MPIU_BOOL, MPI_LOR, PetscObjectComm((PetscObject)loss)));
  *unsafe = bad;
  PetscCall(PetscLogFlops(12.0 * (n + m) + (gradx ? 8.0 * dim * n : 0)));
  sk->nsteps++;
  PetscFunctionReturn(0);
}

/* Largest change over the ranks of a step's update. */
static PetscErrorCode SinkhornRingUpdate(WLMLoss loss, PetscBool average, PetscReal *change)
{
  Sinkhorn *sk = (Sinkhorn *)loss->data;

  PetscFunctionBeginUser;
  *change = SinkhornUpdate(sk, loss->ring.n, loss->ring.m, average);
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, change, 1, MPIU_REAL, MPIU_MAX, PetscObjectComm((PetscObject)loss)));
  PetscFunctionReturn(0);
}

/* One ring step followed by its update; stops the schedule when a sum is unsafe. */
#define RingStepOrFallback(eps, grad, average) \
  do { \
    PetscCall(SinkhornRingStep(loss, (eps), (grad), fallback)); \
    if (*fallback) { \
      PetscCall(PetscInfo(loss, "A sum at eps %g left the safe range; repeating the call with gathered clouds\n", (double)(eps))); \
      PetscFunctionReturn(0); \
    } \
    PetscCall(SinkhornRingUpdate(loss, (average), &change)); \
  } while (0)

static PetscErrorCode WLMLossComputeRing_Sinkhorn(WLMLoss loss, PetscReal *value, PetscReal gradx[], PetscBool *fallback)
{
  Sinkhorn          *sk = (Sinkhorn *)loss->data;
  const WLMLossRing *rg = &loss->ring;
  const PetscInt     n = rg->n, m = rg->m, p = loss->p;
  const PetscReal    D = rg->diameter, blur = loss->blur_used, eps_final = PetscPowRealInt(blur, p);
  const PetscReal    start = p * PetscLogReal(D), step = p * PetscLogReal(loss->scaling);
  PetscReal          S = 0, change = 0;
  PetscInt           K;

  PetscFunctionBeginUser;
  *fallback  = PETSC_FALSE;
  sk->nsteps = 0;
  if (D == 0) {
    *value = 0;
    if (gradx) PetscCall(PetscArrayzero(gradx, n * rg->dim));
    PetscFunctionReturn(0);
  }
  PetscCall(SinkhornReserve(sk, n, m, rg->dim));
  PetscCall(PetscArrayzero(sk->f, n));
  PetscCall(PetscArrayzero(sk->fa, n));
  PetscCall(PetscArrayzero(sk->g, m));
  PetscCall(PetscArrayzero(sk->gb, m));

  /* the schedule of WLMLossCompute_Sinkhorn() */
  RingStepOrFallback(PetscPowRealInt(D, p), NULL, PETSC_FALSE);
  RingStepOrFallback(PetscPowRealInt(D, p), NULL, PETSC_TRUE);
  K = PetscMax(0, (PetscInt)PetscCeilReal((p * PetscLogReal(blur) - start) / step));
  for (PetscInt k = 0; k < K; k++) RingStepOrFallback(PetscExpReal(start + k * step), NULL, PETSC_TRUE);
  RingStepOrFallback(eps_final, NULL, PETSC_TRUE);
  for (PetscInt it = 0; it < sk->max_it; it++) {
    RingStepOrFallback(eps_final, NULL, PETSC_TRUE);
    if (change <= sk->tol * eps_final) break;
  }
  RingStepOrFallback(eps_final, gradx, PETSC_FALSE);

  for (PetscInt i = 0; i < n; i++) S += rg->a[i] * (sk->f[i] - sk->fa[i]);
  for (PetscInt j = 0; j < m; j++) S += rg->b[j] * (sk->g[j] - sk->gb[j]);
  PetscCall(MPIU_Allreduce(&S, value, 1, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)loss)));
  PetscCall(PetscLogFlops(3.0 * (n + m)));
  PetscFunctionReturn(0);
}

/*@
  WLMLossSinkhornSetTolerances - Adds symmetric steps at the final blur until the dual potentials settle.

  Logically Collective

  Input Parameters:
+ loss   - a loss of type sinkhorn
. tol    - stop when no potential changes by more than tol * eps in one step (tol * eps bounds the relative error of the marginals, to first order)
- max_it - largest number of extra steps; 0 (the default) keeps the plain annealing

  Options Database Keys:
+ -wlm_loss_sinkhorn_tol <1e-10> - tol
- -wlm_loss_sinkhorn_max_it <0>  - max_it

  Notes:
  The plain annealing gives the same value as GeomLoss at the same blur and
  scaling.  Extra steps make the value the entropic divergence at the final
  eps to the given tolerance, and the gradient its exact gradient.
@*/
PetscErrorCode WLMLossSinkhornSetTolerances(WLMLoss loss, PetscReal tol, PetscInt max_it)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscCheck(tol >= 0, PetscObjectComm((PetscObject)loss), PETSC_ERR_ARG_OUTOFRANGE, "Tolerance %g is invalid; it must be non-negative", (double)tol);
  PetscCheck(max_it >= 0, PetscObjectComm((PetscObject)loss), PETSC_ERR_ARG_OUTOFRANGE, "Step limit %" PetscInt_FMT " is invalid; it must be non-negative", max_it);
  PetscTryMethod(loss, "WLMLossSinkhornSetTolerances_C", (WLMLoss, PetscReal, PetscInt), (loss, tol, max_it));
  PetscFunctionReturn(0);
}

/*@
  WLMLossSinkhornGetStepCount - Returns the number of Sinkhorn steps (passes over all pairs) of the last WLMLossCompute(), including the first and the last step.

  Not Collective
@*/
PetscErrorCode WLMLossSinkhornGetStepCount(WLMLoss loss, PetscInt *nsteps)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  *nsteps = 0;
  PetscTryMethod(loss, "WLMLossSinkhornGetStepCount_C", (WLMLoss, PetscInt *), (loss, nsteps));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossSinkhornSetTolerances_Sinkhorn(WLMLoss loss, PetscReal tol, PetscInt max_it)
{
  Sinkhorn *sk = (Sinkhorn *)loss->data;

  PetscFunctionBeginUser;
  sk->tol    = tol;
  sk->max_it = max_it;
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossSinkhornGetStepCount_Sinkhorn(WLMLoss loss, PetscInt *nsteps)
{
  PetscFunctionBeginUser;
  *nsteps = ((Sinkhorn *)loss->data)->nsteps;
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossSetFromOptions_Sinkhorn(WLMLoss loss, PetscOptionItems *PetscOptionsObject)
{
  Sinkhorn *sk  = (Sinkhorn *)loss->data;
  PetscReal tol = sk->tol;
  PetscInt  max_it = sk->max_it;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Sinkhorn divergence options");
  PetscCall(PetscOptionsReal("-wlm_loss_sinkhorn_tol", "Extra steps stop when no dual potential moves by more than tol * eps", "WLMLossSinkhornSetTolerances", tol, &tol, NULL));
  PetscCall(PetscOptionsInt("-wlm_loss_sinkhorn_max_it", "Largest number of extra steps at the final blur (0: plain annealing)", "WLMLossSinkhornSetTolerances", max_it, &max_it, NULL));
  PetscCall(WLMLossSinkhornSetTolerances(loss, tol, max_it));
  PetscOptionsHeadEnd();
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossView_Sinkhorn(WLMLoss loss, PetscViewer viewer)
{
  Sinkhorn *sk = (Sinkhorn *)loss->data;

  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "cost |x - y|^%" PetscInt_FMT " / %" PetscInt_FMT ", scaling %g, extra steps at most %" PetscInt_FMT " (tolerance %g)\n", loss->p, loss->p, (double)loss->scaling, sk->max_it, (double)sk->tol));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossDestroy_Sinkhorn(WLMLoss loss)
{
  Sinkhorn *sk = (Sinkhorn *)loss->data;

  PetscFunctionBeginUser;
  PetscCall(PetscFree6(sk->f, sk->fa, sk->fn, sk->fan, sk->F, sk->FA));
  PetscCall(PetscFree6(sk->g, sk->gb, sk->gn, sk->gbn, sk->G, sk->GB));
  PetscCall(PetscFree(sk->norm));
  PetscCall(PetscFree(loss->data));
  PetscCall(PetscObjectComposeFunction((PetscObject)loss, "WLMLossSinkhornSetTolerances_C", NULL));
  PetscCall(PetscObjectComposeFunction((PetscObject)loss, "WLMLossSinkhornGetStepCount_C", NULL));
  PetscFunctionReturn(0);
}

/*MC
  WLMLOSSSINKHORN - "sinkhorn": the debiased Sinkhorn divergence with cost |x - y|^p / p and eps = blur^p.

  Options Database Keys:
+ -wlm_loss_p <2>                 - exponent of the cost, 1 or 2
. -wlm_loss_blur <blur>           - eps = blur^p
. -wlm_loss_scaling <0.9>         - blur ratio between annealing steps
. -wlm_loss_sinkhorn_tol <1e-10>  - tolerance of the extra steps
- -wlm_loss_sinkhorn_max_it <0>   - largest number of extra steps at the final blur
M*/
PETSC_EXTERN PetscErrorCode WLMLossCreate_Sinkhorn(WLMLoss loss)
{
  Sinkhorn *sk;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&sk));
  sk->tol                    = 1e-10;
  sk->max_it                 = 0;
  loss->data                 = sk;
  loss->ops->setfromoptions  = WLMLossSetFromOptions_Sinkhorn;
  loss->ops->view            = WLMLossView_Sinkhorn;
  loss->ops->destroy         = WLMLossDestroy_Sinkhorn;
  loss->ops->compute         = WLMLossCompute_Sinkhorn;
  loss->ops->computering     = WLMLossComputeRing_Sinkhorn;
  PetscCall(PetscObjectComposeFunction((PetscObject)loss, "WLMLossSinkhornSetTolerances_C", WLMLossSinkhornSetTolerances_Sinkhorn));
  PetscCall(PetscObjectComposeFunction((PetscObject)loss, "WLMLossSinkhornGetStepCount_C", WLMLossSinkhornGetStepCount_Sinkhorn));
  PetscFunctionReturn(0);
}

/*@
  WLMLossSinkhornGetPotentials - Gives the dual potentials f and g of OT_eps(a, b) from the last WLMLossCompute() of a sinkhorn loss.

  Not Collective

  Output Parameters:
+ f - potential on the predicted cloud x [N], in global particle order; owned by the loss
- g - potential on the observed cloud y [M], in global particle order; owned by the loss

  Notes:
  The potentials are those of the final plain step at eps = blur^p, so
  P_ij = a_i b_j exp((f_i + g_j - C(x_i, y_j))/eps) is the entropic plan.
  After a call that used the ring exchange they cover only this rank's
  particles, so callers that need all of them set the exchange to gather.
@*/
PetscErrorCode WLMLossSinkhornGetPotentials(WLMLoss loss, const PetscReal **f, const PetscReal **g)
{
  PetscBool issinkhorn;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscCall(PetscObjectTypeCompare((PetscObject)loss, WLMLOSSSINKHORN, &issinkhorn));
  PetscCheck(issinkhorn, PetscObjectComm((PetscObject)loss), PETSC_ERR_ARG_WRONG, "Dual potentials need a loss of type sinkhorn");
  *f = ((Sinkhorn *)loss->data)->f;
  *g = ((Sinkhorn *)loss->data)->g;
  PetscFunctionReturn(0);
}
