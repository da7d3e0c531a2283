/*
   Batched multilayer perceptron with one output per row: forward, tangent,
   reverse and reverse-tangent passes (equations in wlm/private/dense.h).

   Parameter layout inside the model's theta, starting at the MLP's offset:
   for each hidden layer l, W_l [w_{l-1}][w_l] row-major then b_l [w_l]; then
   the output weights w_o [w_L] and the output bias b_o.
*/
#include <wlm/private/dense.h>
#include <cblas.h>

/*@
  WLMMLPSetSizes - Sets the shape of an MLP and computes its parameter count.

  Input Parameters:
+ mlp        - the MLP (its workspace is freed)
. nin        - input features
. nlayers    - hidden layers
. width      - hidden widths [nlayers]
- activation - activation of the hidden layers
@*/
PetscErrorCode WLMMLPSetSizes(WLMMLP *mlp, PetscInt nin, PetscInt nlayers, const PetscInt width[], WLMActivation activation)
{
  PetscInt win = nin;

  PetscFunctionBeginUser;
  PetscCall(WLMDenseCheckWidths("hidden layers", nlayers, width));
  PetscCall(WLMMLPFreeWorkspace(mlp));
  mlp->nin        = nin;
  mlp->nlayers    = nlayers;
  mlp->activation = activation;
  mlp->nparam     = 0;
  mlp->maxwidth   = nin;
  for (PetscInt l = 0; l < nlayers; l++) {
    mlp->width[l] = width[l];
    mlp->nparam += (win + 1) * width[l];
    mlp->maxwidth = PetscMax(mlp->maxwidth, width[l]);
    win           = width[l];
  }
  mlp->nparam += win + 1;
  PetscFunctionReturn(0);
}

/*@
  WLMMLPInitialize - Draws the parameters of an MLP: every weight and bias of a layer with fan-in k uniform in (-1/sqrt(k), 1/sqrt(k)).

  Input Parameters:
+ mlp    - the MLP
. theta  - its parameters [nparam]
. seed   - user seed
- stream - random stream number, distinct for each MLP of a model
@*/
PetscErrorCode WLMMLPInitialize(WLMMLP *mlp, PetscReal theta[], uint64_t seed, uint64_t stream)
{
  WLMRandom rng;
  PetscInt  win = mlp->nin;

  PetscFunctionBeginUser;
  WLMRandomSeed(&rng, seed, stream);
  for (PetscInt l = 0; l < mlp->nlayers; l++) {
    const PetscInt w = mlp->width[l];

    WLMDenseUniform(&rng, (win + 1) * w, 1.0 / PetscSqrtReal((PetscReal)win), theta);
    theta += (win + 1) * w;
    win = w;
  }
  WLMDenseUniform(&rng, win + 1, 1.0 / PetscSqrtReal((PetscReal)win), theta);
  PetscFunctionReturn(0);
}

/*@
  WLMMLPFreeWorkspace - Frees the workspace of an MLP; the sizes are kept.
@*/
PetscErrorCode WLMMLPFreeWorkspace(WLMMLP *mlp)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(mlp->input));
  PetscCall(PetscFree(mlp->barin));
  PetscCall(PetscFree(mlp->output));
  PetscCall(PetscFree2(mlp->bar[0], mlp->bar[1]));
  for (PetscInt l = 0; l < WLM_MLP_MAX_LAYERS; l++) {
    PetscCall(PetscFree(mlp->act[l]));
    PetscCall(PetscFree2(mlp->deriv1[l], mlp->deriv2dz[l]));
  }
  mlp->capacity = 0;
  PetscFunctionReturn(0);
}

/*@
  WLMMLPReserve - Makes the workspace hold at least m rows; it only grows, so steady-state calls do not allocate.
@*/
PetscErrorCode WLMMLPReserve(WLMMLP *mlp, PetscInt m)
{
  PetscFunctionBeginUser;
  if (m <= mlp->capacity) PetscFunctionReturn(0);
  PetscCall(WLMMLPFreeWorkspace(mlp));
  PetscCall(PetscMalloc1(2 * m * mlp->nin, &mlp->input));
  PetscCall(PetscMalloc1(2 * m * mlp->nin, &mlp->barin));
  PetscCall(PetscMalloc1(2 * m, &mlp->output));
  PetscCall(PetscMalloc2(2 * m * mlp->maxwidth, &mlp->bar[0], 2 * m * mlp->maxwidth, &mlp->bar[1]));
  for (PetscInt l = 0; l < mlp->nlayers; l++) {
    PetscCall(PetscMalloc1(2 * m * mlp->width[l], &mlp->act[l]));
    PetscCall(PetscMalloc2(m * mlp->width[l], &mlp->deriv1[l], m * mlp->width[l], &mlp->deriv2dz[l]));
  }
  mlp->capacity = m;
  PetscFunctionReturn(0);
}

/*@
  WLMMLPForward - Evaluates the MLP on m rows, and its tangent when asked.

  Input Parameters:
+ mlp     - the MLP; the caller has filled mlp->input: primal rows [m][nin], then tangent rows [m][nin] when tangent is true
. theta   - parameters of the MLP
. m       - number of rows, at most the reserved capacity
- tangent - also propagate the tangent rows

  Notes:
  Outputs go to mlp->output: y [m], then dy [m] when tangent is true.  The
  pass keeps what the reverse pass needs, so WLMMLPReverse() must follow
  before the next forward pass.
@*/
PetscErrorCode WLMMLPForward(WLMMLP *mlp, const PetscReal theta[], PetscInt m, PetscBool tangent)
{
  const PetscInt   rows = tangent ? 2 * m : m;
  const PetscReal *in   = mlp->input;
  PetscInt         win  = mlp->nin;
  PetscLogDouble   flops = 0;

  PetscFunctionBeginUser;
  PetscCheck(m <= mlp->capacity, PETSC_COMM_SELF, PETSC_ERR_PLIB, "MLP workspace holds %" PetscInt_FMT " rows, %" PetscInt_FMT " requested", mlp->capacity, m);
  if (m == 0) PetscFunctionReturn(0);
  for (PetscInt l = 0; l < mlp->nlayers; l++) {
    const PetscInt   w = mlp->width[l];
    const PetscReal *W = theta, *b = theta + win * w;
    PetscReal       *z = mlp->act[l];

    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, w, win, 1.0, in, win, W, w, 0.0, z, w);
    for (PetscInt i = 0; i < m; i++) {
      for (PetscInt k = 0; k < w; k++) z[i * w + k] += b[k];
    }
    PetscCall(WLMDenseActivate(mlp->activation, m * w, z, mlp->deriv1[l], tangent ? mlp->deriv2dz[l] : NULL));
    if (tangent) PetscCall(WLMDenseTangentScale(m * w, z + m * w, mlp->deriv1[l], mlp->deriv2dz[l]));
    flops += 2.0 * rows * w * win + m * w;
    theta += (win + 1) * w;
    in  = z;
    win = w;
  }
  cblas_dgemv(CblasRowMajor, CblasNoTrans, rows, win, 1.0, in, win, theta, 1, 0.0, mlp->output, 1);
  for (PetscInt i = 0; i < m; i++) mlp->output[i] += theta[win];
  flops += 2.0 * rows * win + m;
  PetscCall(PetscLogFlops(flops));
  PetscFunctionReturn(0);
}

/*@
  WLMMLPReverse - Back-propagates output seeds through the MLP, and the tangent of that pass when asked.

  Input Parameters:
+ mlp     - the MLP after WLMMLPForward() with the same m and tangent
. theta   - parameters of the MLP
. m       - number of rows
. ybar    - seeds dE/dy [m]
. dybar   - tangents of the seeds [m], or NULL for constant seeds
. tangent - also run the reverse-tangent pass
. alpha   - scale of the parameter part
- dgrad   - incremented by alpha times dE/dtheta without tangent, or by alpha times its tangent with tangent [nparam]; or NULL

  Notes:
  Results go to mlp->barin: dE/da_0 [m][nin], then its tangent [m][nin].
@*/
PetscErrorCode WLMMLPReverse(WLMMLP *mlp, const PetscReal theta[], PetscInt m, const PetscReal ybar[], const PetscReal dybar[], PetscBool tangent, PetscReal alpha, PetscReal dgrad[])
{
  const PetscInt   rows = tangent ? 2 * m : m, L = mlp->nlayers;
  const PetscReal *Wl[WLM_MLP_MAX_LAYERS], *wo = NULL;
  PetscReal       *gl[WLM_MLP_MAX_LAYERS], *go = NULL, *abar = mlp->bar[0];
  PetscInt         win = mlp->nin, w, cur = 0;
  PetscLogDouble   flops = 0;

  PetscFunctionBeginUser;
  if (m == 0) PetscFunctionReturn(0);
  for (PetscInt l = 0, off = 0; l < L; l++) {
    Wl[l] = theta + off;
    gl[l] = dgrad ? dgrad + off : NULL;
    off += (win + 1) * mlp->width[l];
    win = mlp->width[l];
    if (l == L - 1) {
      wo = theta + off;
      go = dgrad ? dgrad + off : NULL;
    }
  }

  /* output layer: abar_L = ybar w_o^T (and dybar w_o^T); grad w_o = a_L^T ybar, d(grad w_o) = da_L^T ybar + a_L^T dybar */
  w = mlp->width[L - 1];
  for (PetscInt i = 0; i < m; i++) {
    for (PetscInt k = 0; k < w; k++) abar[i * w + k] = ybar[i] * wo[k];
  }
  if (tangent) {
    for (PetscInt i = 0; i < m; i++) {
      for (PetscInt k = 0; k < w; k++) abar[(m + i) * w + k] = dybar ? dybar[i] * wo[k] : 0.0;
    }
  }
  if (go && !tangent) {
    PetscReal s = 0;

    cblas_dgemv(CblasRowMajor, CblasTrans, m, w, alpha, mlp->act[L - 1], w, ybar, 1, 1.0, go, 1);
    for (PetscInt i = 0; i < m; i++) s += ybar[i];
    go[w] += alpha * s;
    flops += 2.0 * m * w + m;
  }
  if (go && tangent) {
    cblas_dgemv(CblasRowMajor, CblasTrans, m, w, alpha, mlp->act[L - 1] + m * w, w, ybar, 1, 1.0, go, 1);
    flops += 2.0 * m * w;
    if (dybar) {
      PetscReal s = 0;

      cblas_dgemv(CblasRowMajor, CblasTrans, m, w, alpha, mlp->act[L - 1], w, dybar, 1, 1.0, go, 1);
      for (PetscInt i = 0; i < m; i++) s += dybar[i];
      go[w] += alpha * s;
      flops += 2.0 * m * w + m;
    }
  }
  flops += (PetscLogDouble)rows * w;

  for (PetscInt l = L - 1; l >= 0; l--) {
    const PetscReal *ain = l ? mlp->act[l - 1] : mlp->input, *d1 = mlp->deriv1[l], *d2dz = mlp->deriv2dz[l];
    PetscReal       *next;

    w   = mlp->width[l];
    win = l ? mlp->width[l - 1] : mlp->nin;

    /* zbar = s'(z) abar; dzbar = s'(z) dabar + s''(z) dz abar */
    PetscCall(WLMDenseActivationReverse(m * w, tangent, d1, d2dz, abar));

    if (gl[l] && !tangent) {
      PetscReal *gb = gl[l] + win * w;

      /* grad W_l = a_{l-1}^T zbar_l, grad b_l = colsum(zbar_l) */
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, win, w, m, alpha, ain, win, abar, w, 1.0, gl[l], w);
      for (PetscInt i = 0; i < m; i++) {
        for (PetscInt k = 0; k < w; k++) gb[k] += alpha * abar[i * w + k];
      }
      flops += 2.0 * m * w * win + 2.0 * m * w;
    }
    if (gl[l] && tangent) {
      PetscReal *gb = gl[l] + win * w;

      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, win, w, m, alpha, ain + m * win, win, abar, w, 1.0, gl[l], w);
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, win, w, m, alpha, ain, win, abar + m * w, w, 1.0, gl[l], w);
      for (PetscInt i = 0; i < m; i++) {
        for (PetscInt k = 0; k < w; k++) gb[k] += alpha * abar[(m + i) * w + k];
      }
      flops += 4.0 * m * w * win + 2.0 * m * w;
    }

    next = l ? mlp->bar[1 - cur] : mlp->barin;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, win, w, 1.0, abar, w, Wl[l], w, 0.0, next, win);
    flops += 2.0 * rows * win * w;
    abar = next;
    cur  = 1 - cur;
  }
  PetscCall(PetscLogFlops(flops));
  PetscFunctionReturn(0);
}
