/*
   mmd_gaussian and energy: squared maximum mean discrepancies between
   weighted clouds (x_i, a_i) and (y_j, b_j), masses of total 1, for a kernel k:

     MMD^2 = sum_ik a_i a_k k(x_i, x_k) + sum_jl b_j b_l k(y_j, y_l) - 2 sum_ij a_i b_j k(x_i, y_j)

     mmd_gaussian  k(x, y) = exp(-|x - y|^2 / (2 sigma^2)),  sigma = blur
     energy        k(x, y) = -|x - y|, which gives the energy distance
                   2 E|X - Y| - E|X - X'| - E|Y - Y'|

   (GeomLoss reports half of these values.)  Both are non-negative and vanish
   for equal clouds.  Gradient with respect to x_i:

     dMMD^2/dx_i = 2 a_i ( sum_k a_k grad_1 k(x_i, x_k) - sum_j b_j grad_1 k(x_i, y_j) ),
     grad_1 k = -k (x - y) / sigma^2 (Gaussian),  -(x - y) / |x - y| (energy, 0 where x = y).

   One pass over the pairs (i, j) and one over the pairs k > i of each cloud
   give all sums; see pairs.c.
*/
#include <wlm/private/lossimpl.h>

/* MMD^2 with the kernel of the loss type; Gaussian when gaussian is true, energy otherwise. */
static PetscErrorCode MMDCompute(WLMLoss loss, PetscBool gaussian, PetscReal *value, PetscReal gradx[], PetscReal massgrad[])
{
  const WLMLossClouds *cl  = &loss->clouds;
  const PetscInt       N = cl->N, M = cl->M, dim = cl->dim;
  const PetscReal      sigma2 = loss->blur_used * loss->blur_used;
  WLMLossPairPass      pass[3];
  PetscReal            kxy = 0, kxx = 0, kyy = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(pass, sizeof(pass)));
  for (PetscInt p = 0; p < 3; p++) {
    pass[p].kernel   = gaussian ? WLM_PAIR_GAUSSIAN : WLM_PAIR_DISTANCE;
    pass[p].scale    = gaussian ? -0.5 / sigma2 : 0;
    pass[p].self     = p > 0 ? PETSC_TRUE : PETSC_FALSE;
    pass[p].gradient = gradx && p < 2 ? PETSC_TRUE : PETSC_FALSE;
  }
  pass[0].nrow = N;
  pass[0].ncol = M;
  pass[0].rowt = cl->xt;
  pass[0].colt = cl->yt;
  pass[0].roww = cl->a;
  pass[0].colw = cl->b;
  pass[1].nrow = pass[1].ncol = N;
  pass[1].rowt = pass[1].colt = cl->xt;
  pass[1].roww = pass[1].colw = cl->a;
  pass[2].nrow = pass[2].ncol = M;
  pass[2].rowt = pass[2].colt = cl->yt;
  pass[2].roww = pass[2].colw = cl->b;
  PetscCall(WLMLossPairSums(loss, 3, pass));

  /* the diagonal pairs add k(0) = 1 for the Gaussian and 0 for the distance */
  for (PetscInt i = 0; i < N; i++) {
    kxy += cl->a[i] * pass[0].rowsum[i];
    kxx += cl->a[i] * (pass[1].rowsum[i] + (gaussian ? cl->a[i] : 0));
  }
  for (PetscInt j = 0; j < M; j++) kyy += cl->b[j] * (pass[2].rowsum[j] + (gaussian ? cl->b[j] : 0));
  /* the energy kernel is minus the distance that the pass sums */
  *value = gaussian ? kxx + kyy - 2 * kxy : 2 * kxy - kxx - kyy;
  /* dMMD^2/da_i = 2 sum_k a_k k(x_i, x_k) - 2 sum_j b_j k(x_i, y_j) */
  for (PetscInt i = 0; massgrad && i < N; i++) {
    const PetscReal self = pass[1].rowsum[i] + (gaussian ? cl->a[i] : 0);

    massgrad[i] = gaussian ? 2 * (self - pass[0].rowsum[i]) : 2 * (pass[0].rowsum[i] - self);
  }

  if (gradx) {
    /* sum_j b_j h_ij (x_i - y_j) = x_i grad[0][i] - grad[1 + k][i]; grad_1 k = -(x - y) h / sigma^2 or -(x - y) h */
    const PetscReal factor = gaussian ? -2.0 / sigma2 : -2.0;

    for (PetscInt i = 0; i < cl->n; i++) {
      const PetscInt gi = cl->xstart + i;

      for (PetscInt k = 0; k < dim; k++) {
        const PetscReal xk    = cl->xt[k * N + gi];
        const PetscReal cross = xk * pass[0].grad[gi] - pass[0].grad[(1 + k) * N + gi];
        const PetscReal self  = xk * pass[1].grad[gi] - pass[1].grad[(1 + k) * N + gi];

        gradx[i * dim + k] = factor * cl->a[gi] * (self - cross);
      }
    }
  }
  PetscCall(PetscLogFlops(4.0 * (N + M) + (gradx ? 8.0 * dim * cl->n : 0)));
  PetscFunctionReturn(0);
}

/*
   The same value and gradient with both clouds sharded (ring.c).  The ring's
   self sums include the diagonal, k(0) = 1 for the Gaussian and 0 for the
   distance, so nothing is added for it here.
*/
static PetscErrorCode MMDComputeRing(WLMLoss loss, PetscBool gaussian, PetscReal *value, PetscReal gradx[])
{
  const WLMLossRing *rg  = &loss->ring;
  const PetscInt     n = rg->n, m = rg->m, dim = rg->dim;
  const PetscReal    sigma2 = loss->blur_used * loss->blur_used;
  PetscReal          k3[3] = {0, 0, 0}; /* kxy, kxx, kyy */

  PetscFunctionBeginUser;
  PetscCall(WLMLossRingPasses(loss, gaussian ? WLM_PAIR_GAUSSIAN : WLM_PAIR_DISTANCE, gaussian ? -0.5 / sigma2 : 0, NULL, NULL, NULL, NULL));
  for (PetscInt i = 0; i < n; i++) {
    k3[0] += rg->a[i] * rg->rowxy[i];
    k3[1] += rg->a[i] * rg->rowxx[i];
  }
  for (PetscInt j = 0; j < m; j++) k3[2] += rg->b[j] * rg->rowyy[j];
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, k3, 3, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)loss)));
  *value = gaussian ? k3[1] + k3[2] - 2 * k3[0] : 2 * k3[0] - k3[1] - k3[2];

  if (gradx) {
    const PetscReal factor = gaussian ? -2.0 / sigma2 : -2.0;

    for (PetscInt i = 0; i < n; i++) {
      for (PetscInt k = 0; k < dim; k++) {
        const PetscReal xk    = rg->xt[k * n + i];
        const PetscReal cross = xk * rg->gradxy[i] - rg->gradxy[(1 + k) * n + i];
        const PetscReal self  = xk * rg->gradxx[i] - rg->gradxx[(1 + k) * n + i];

        gradx[i * dim + k] = factor * rg->a[i] * (self - cross);
      }
    }
  }
  PetscCall(PetscLogFlops(4.0 * (n + m) + (gradx ? 8.0 * dim * n : 0)));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossComputeRing_MMDGaussian(WLMLoss loss, PetscReal *value, PetscReal gradx[], PetscBool *fallback)
{
  PetscFunctionBeginUser;
  *fallback = PETSC_FALSE;
  PetscCall(MMDComputeRing(loss, PETSC_TRUE, value, gradx));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossComputeRing_Energy(WLMLoss loss, PetscReal *value, PetscReal gradx[], PetscBool *fallback)
{
  PetscFunctionBeginUser;
  *fallback = PETSC_FALSE;
  PetscCall(MMDComputeRing(loss, PETSC_FALSE, value, gradx));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossCompute_MMDGaussian(WLMLoss loss, PetscReal *value, PetscReal gradx[], PetscReal massgrad[])
{
  PetscFunctionBeginUser;
  PetscCall(MMDCompute(loss, PETSC_TRUE, value, gradx, massgrad));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossCompute_Energy(WLMLoss loss, PetscReal *value, PetscReal gradx[], PetscReal massgrad[])
{
  PetscFunctionBeginUser;
  PetscCall(MMDCompute(loss, PETSC_FALSE, value, gradx, massgrad));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossView_MMDGaussian(WLMLoss loss, PetscViewer viewer)
{
  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "kernel exp(-|x - y|^2 / (2 blur^2))\n"));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMLossView_Energy(WLMLoss loss, PetscViewer viewer)
{
  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "kernel -|x - y| (energy distance; the blur is not used)\n"));
  PetscFunctionReturn(0);
}

/*MC
  WLMLOSSMMDGAUSSIAN - "mmd_gaussian": squared maximum mean discrepancy with the Gaussian kernel exp(-|x - y|^2 / (2 blur^2)).

  Options Database Key:
. -wlm_loss_blur <blur> - kernel width
M*/
PETSC_EXTERN PetscErrorCode WLMLossCreate_MMDGaussian(WLMLoss loss)
{
  PetscFunctionBeginUser;
  loss->ops->compute     = WLMLossCompute_MMDGaussian;
  loss->ops->computering = WLMLossComputeRing_MMDGaussian;
  loss->ops->view    = WLMLossView_MMDGaussian;
  PetscFunctionReturn(0);
}

/*MC
  WLMLOSSENERGY - "energy": the energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'|, the squared MMD of the kernel -|x - y|.
M*/
PETSC_EXTERN PetscErrorCode WLMLossCreate_Energy(WLMLoss loss)
{
  PetscFunctionBeginUser;
  loss->ops->compute     = WLMLossCompute_Energy;
  loss->ops->computering = WLMLossComputeRing_Energy;
  loss->ops->view    = WLMLossView_Energy;
  loss->needs_blur   = PETSC_FALSE;
  PetscFunctionReturn(0);
}
