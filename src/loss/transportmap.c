/*
   Barycentric projection of an entropic transport plan.

   With the dual potentials f, g of OT_eps(a, b) for the cost |x - y|^2 / 2,
   the plan is P_ij = a_i b_j exp((f_i + g_j - |x_i - y_j|^2 / 2) / eps), and
   each x_i is mapped to the P-weighted mean of the y_j it is sent to:

     T(x_i) = sum_j P_ij y_j / sum_j P_ij.

   Velocity estimates use it: (T(x_i) - x_i) / (t' - t) is the velocity that
   carries x_i to its partners in the next snapshot.
*/
#include <wlm/private/lossimpl.h>

PETSC_EXTERN PetscErrorCode WLMLossSinkhornGetPotentials(WLMLoss, const PetscReal **, const PetscReal **);

/*@
  WLMLossSinkhornTransportMap - Maps each particle of x to the barycenter of its partners in y under the entropic OT plan.

  Collective

  Input Parameters:
+ loss - a loss of type sinkhorn with exponent 2 and a blur (the entropic scale)
. n, x, a - this rank's rows of the source cloud [n][dim] and masses (NULL: uniform)
- m, y, b - this rank's rows of the target cloud [m][dim] and masses (NULL: uniform)

  Output Parameter:
. Tx - T(x_i) for this rank's rows [n][dim]
@*/
PetscErrorCode WLMLossSinkhornTransportMap(WLMLoss loss, PetscInt n, const PetscReal x[], const PetscReal a[], PetscInt m, const PetscReal y[], const PetscReal b[], PetscReal Tx[])
{
  const WLMLossClouds *cl = &loss->clouds;
  const PetscReal     *f, *g;
  PetscReal           *F, *G, *norm, value, eps, logsum;
  WLMLossPairPass      pass;
  PetscInt             dim;
  WLMLossExchange      exchange;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(loss, WLMLOSS_CLASSID, 1);
  PetscCheck(loss->p == 2, PetscObjectComm((PetscObject)loss), PETSC_ERR_ARG_WRONG, "The transport map needs the squared cost; set the exponent to 2, not %" PetscInt_FMT, loss->p);
  /* the map uses the potentials of all particles, which only the gathered path keeps */
  exchange       = loss->exchange;
  loss->exchange = WLM_LOSS_EXCHANGE_GATHER;
  PetscCall(WLMLossCompute(loss, n, x, a, m, y, b, &value, NULL));
  loss->exchange = exchange;
  PetscCall(WLMLossSinkhornGetPotentials(loss, &f, &g));
  dim = cl->dim;
  eps = loss->blur_used * loss->blur_used;

  /* one pass over the pairs with the final potentials gives the row sums and the P-weighted sums of y */
  PetscCall(PetscMalloc3(cl->N, &F, cl->M, &G, dim + 1, &norm));
  for (PetscInt i = 0; i < cl->N; i++) F[i] = f[i] / eps;
  for (PetscInt j = 0; j < cl->M; j++) G[j] = g[j] / eps;
  PetscCall(PetscMemzero(&pass, sizeof(pass)));
  pass.kernel   = WLM_PAIR_SINKHORN_P2;
  pass.scale    = -0.5 / eps;
  pass.gradient = PETSC_TRUE;
  pass.nrow     = cl->N;
  pass.ncol     = cl->M;
  pass.rowt     = cl->xt;
  pass.colt     = cl->yt;
  pass.rowpot   = F;
  pass.colpot   = G;
  pass.roww     = cl->a;
  pass.colw     = cl->b;
  PetscCall(WLMLossPairSums(loss, 1, &pass));

  for (PetscInt i = 0; i < n; i++) {
    const PetscInt gi = cl->xstart + i;

    if (WLMLossSumIsSafe(pass.rowsum[gi])) {
      for (PetscInt k = 0; k <= dim; k++) norm[k] = pass.grad[k * pass.nrow + gi] / pass.rowsum[gi];
    } else WLMLossPairLogSumExact(&pass, dim, PETSC_FALSE, gi, &logsum, norm);
    for (PetscInt k = 0; k < dim; k++) Tx[i * dim + k] = norm[1 + k] / norm[0];
  }
  PetscCall(PetscFree3(F, G, norm));
  PetscFunctionReturn(0);
}
