/*
   Elementwise kernels of the dense layers, parameter initialization and the
   HDF5 attributes that describe layer sizes.

   LayerNorm of a row x of width D, with r = 1/sqrt(var(x) + 1e-5) and
   normalized n = (x - mean x) r, output y = n g + beta:

     tangent          dn = r (dx - mean(dx) - n mean(n dx)),  dr = -r^2 mean(n dx)
     reverse          nbar = ybar g,  xbar = r (nbar - mean(nbar) - n mean(nbar n))
     reverse tangent  dxbar = dr B + r (dnbar - mean(dnbar) - dn A - n dA), with
                      B = nbar - mean(nbar) - n A, A = mean(nbar n), dA = mean(dnbar n + nbar dn)

   Activations s and their derivatives s', s'' (sigma(z) = 1 / (1 + e^-z)):

     silu      z sigma(z);  s' = sigma (1 + z (1 - sigma));  s'' = sigma (1 - sigma) (2 + z (1 - 2 sigma))
     tanh      T = tanh z;  s' = 1 - T^2;  s'' = -2 T s'
     softplus  log(1 + e^z);  s' = sigma;  s'' = sigma (1 - sigma)
     gelu      tanh form z/2 (1 + T), T = tanh(u), u = c (z + 0.044715 z^3), c = sqrt(2/pi):
               s' = (1 + T)/2 + z/2 (1 - T^2) u',  s'' = (1 - T^2) (u' + z/2 (u'' - 2 T u'^2))
*/
#include <wlm/private/dense.h>
#include <wlm/private/h5util.h>
#include <string.h>
#include <cblas.h>

const char *const WLMActivations[] = {"silu", "tanh", "softplus", "gelu", "WLMActivation", "WLM_ACTIVATION_", NULL};
const char *const WLMPairInputs[]  = {"distance2", "difference", "WLMPairInput", "WLM_PAIR_INPUT_", NULL};

/* Logistic function 1 / (1 + e^-z); never overflows because WLMExpInline() clamps. */
static inline PetscReal Sigmoid(PetscReal z)
{
  return 1.0 / (1.0 + WLMExpInline(-z));
}

/* tanh(z) = 1 - 2 / (e^{2z} + 1); accurate to a few ulp of 1 (absolute), which is all the layers need. */
static inline PetscReal TanhKernel(PetscReal z)
{
  return 1.0 - 2.0 / (WLMExpInline(2.0 * z) + 1.0);
}

/*@
  WLMDenseExp - Computes y_i = exp(x_i) for n values with a vectorizable kernel; x and y may be the same array.
@*/
WLM_VECTOR_CLONES void WLMDenseExp(PetscInt n, const PetscReal x[], PetscReal y[])
{
  for (PetscInt i = 0; i < n; i++) y[i] = WLMExpInline(x[i]);
}

WLM_VECTOR_CLONES static void ActivateSilu(PetscInt n, PetscReal *z, PetscReal *d1, PetscReal *d2)
{
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal x = z[i], s = Sigmoid(x);

    z[i]  = x * s;
    d1[i] = s * (1.0 + x * (1.0 - s));
    if (d2) d2[i] = s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s));
  }
}

WLM_VECTOR_CLONES static void ActivateTanh(PetscInt n, PetscReal *z, PetscReal *d1, PetscReal *d2)
{
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal T = TanhKernel(z[i]), dT = 1.0 - T * T;

    z[i]  = T;
    d1[i] = dT;
    if (d2) d2[i] = -2.0 * T * dT;
  }
}

/* softplus needs log1p, which has no vector form here; the loop stays scalar. */
static void ActivateSoftplus(PetscInt n, PetscReal *z, PetscReal *d1, PetscReal *d2)
{
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal x = z[i], s = Sigmoid(x);

    z[i]  = PetscMax(x, 0.0) + log1p(WLMExpInline(-PetscAbsReal(x)));
    d1[i] = s;
    if (d2) d2[i] = s * (1.0 - s);
  }
}

WLM_VECTOR_CLONES static void ActivateGelu(PetscInt n, PetscReal *z, PetscReal *d1, PetscReal *d2)
{
  const PetscReal c = 0.79788456080286535588, a = 0.044715;

  for (PetscInt i = 0; i < n; i++) {
    const PetscReal x = z[i], x2 = x * x;
    const PetscReal u1 = c * (1.0 + 3.0 * a * x2), T = TanhKernel(c * x * (1.0 + a * x2)), dT = 1.0 - T * T;

    z[i]  = 0.5 * x * (1.0 + T);
    d1[i] = 0.5 * (1.0 + T) + 0.5 * x * dT * u1;
    if (d2) d2[i] = dT * (u1 + 0.5 * x * (6.0 * c * a * x - 2.0 * T * u1 * u1));
  }
}

/*@
  WLMDenseActivate - Applies an activation in place and returns its first and, optionally, second derivative.

  Input Parameters:
+ act - the activation
. n   - number of values
- z   - pre-activations [n]

  Output Parameters:
+ z  - overwritten with s(z)
. d1 - s'(z) [n]
- d2 - s''(z) [n], or NULL
@*/
PetscErrorCode WLMDenseActivate(WLMActivation act, PetscInt n, PetscReal z[], PetscReal d1[], PetscReal d2[])
{
  PetscFunctionBeginUser;
  switch (act) {
  case WLM_ACTIVATION_SILU:
    ActivateSilu(n, z, d1, d2);
    break;
  case WLM_ACTIVATION_TANH:
    ActivateTanh(n, z, d1, d2);
    break;
  case WLM_ACTIVATION_SOFTPLUS:
    ActivateSoftplus(n, z, d1, d2);
    break;
  case WLM_ACTIVATION_GELU:
    ActivateGelu(n, z, d1, d2);
    break;
  default:
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Activation %d is invalid; use silu, tanh, softplus or gelu", (int)act);
  }
  /* an exp costs about as much as 15 multiply-adds; count it as one flop and the arithmetic around it */
  PetscCall(PetscLogFlops((d2 ? 20.0 : 12.0) * n));
  PetscFunctionReturn(0);
}

WLM_VECTOR_CLONES static void TangentScaleKernel(PetscInt n, PetscReal *dz, const PetscReal *d1, PetscReal *d2)
{
  for (PetscInt i = 0; i < n; i++) {
    d2[i] *= dz[i];
    dz[i] *= d1[i];
  }
}

/*@
  WLMDenseTangentScale - Turns a pre-activation tangent dz into da = s'(z) dz, and s''(z) into s''(z) dz, in place.
@*/
PetscErrorCode WLMDenseTangentScale(PetscInt n, PetscReal dz[], const PetscReal d1[], PetscReal d2[])
{
  PetscFunctionBeginUser;
  TangentScaleKernel(n, dz, d1, d2);
  PetscCall(PetscLogFlops(2.0 * n));
  PetscFunctionReturn(0);
}

/*@
  WLMDenseUniform - Fills a[0..n-1] with independent uniform draws from (-bound, bound).

  Notes:
  Layers use bound = 1/sqrt(fan_in) for weights and biases, the default of
  PyTorch's nn.Linear, so activations keep unit scale at initialization.
@*/
void WLMDenseUniform(WLMRandom *rng, PetscInt n, PetscReal bound, PetscReal a[])
{
  for (PetscInt i = 0; i < n; i++) a[i] = bound * (2.0 * WLMRandomUniform(rng) - 1.0);
}

/*@
  WLMDenseCheckWidths - Checks a list of layer widths, as given by an option such as -wlm_potential_hidden 64,64.

  Input Parameters:
+ what   - name of the option or setter, for messages
. n      - number of widths
- widths - the widths
@*/
PetscErrorCode WLMDenseCheckWidths(const char what[], PetscInt n, const PetscInt widths[])
{
  PetscFunctionBeginUser;
  PetscCheck(n >= 1 && n <= WLM_MLP_MAX_LAYERS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s has %" PetscInt_FMT " layers; give 1 to %d widths", what, n, WLM_MLP_MAX_LAYERS);
  for (PetscInt l = 0; l < n; l++) PetscCheck(widths[l] >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s: width %" PetscInt_FMT " of layer %" PetscInt_FMT " is invalid; widths must be at least 1", what, widths[l], l);
  PetscFunctionReturn(0);
}

/* Writes an integer array attribute with n entries. */
PetscErrorCode WLMDenseWriteWidths(hid_t group, const char name[], PetscInt n, const PetscInt widths[])
{
  hsize_t   dims[1] = {(hsize_t)n};
  hid_t     space, attr;
  long long values[WLM_MLP_MAX_LAYERS];

  PetscFunctionBeginUser;
  PetscCheck(n >= 1 && n <= WLM_MLP_MAX_LAYERS, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Attribute %s: %" PetscInt_FMT " widths, expected 1 to %d", name, n, WLM_MLP_MAX_LAYERS);
  for (PetscInt l = 0; l < n; l++) values[l] = widths[l];
  WLMCallHDF5Return(space, name, H5Screate_simple, (1, dims, NULL));
  WLMCallHDF5Return(attr, name, H5Acreate2, (group, name, H5T_NATIVE_LLONG, space, H5P_DEFAULT, H5P_DEFAULT));
  WLMCallHDF5(name, H5Awrite, (attr, H5T_NATIVE_LLONG, values));
  WLMCallHDF5(name, H5Aclose, (attr));
  WLMCallHDF5(name, H5Sclose, (space));
  PetscFunctionReturn(0);
}

/* Reads an integer array attribute written by WLMDenseWriteWidths(); at most maxn entries. */
PetscErrorCode WLMDenseReadWidths(hid_t group, const char name[], PetscInt maxn, PetscInt *n, PetscInt widths[])
{
  hid_t     attr, space;
  hssize_t  npoints;
  long long values[WLM_MLP_MAX_LAYERS];

  PetscFunctionBeginUser;
  WLMCallHDF5Return(attr, name, H5Aopen, (group, name, H5P_DEFAULT));
  WLMCallHDF5Return(space, name, H5Aget_space, (attr));
  npoints = H5Sget_simple_extent_npoints(space);
  PetscCheck(npoints >= 1 && npoints <= maxn && npoints <= WLM_MLP_MAX_LAYERS, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Attribute %s has %lld entries; expected 1 to %" PetscInt_FMT, name, (long long)npoints, PetscMin(maxn, WLM_MLP_MAX_LAYERS));
  WLMCallHDF5(name, H5Aread, (attr, H5T_NATIVE_LLONG, values));
  WLMCallHDF5(name, H5Sclose, (space));
  WLMCallHDF5(name, H5Aclose, (attr));
  *n = (PetscInt)npoints;
  for (PetscInt l = 0; l < *n; l++) widths[l] = (PetscInt)values[l];
  PetscFunctionReturn(0);
}

/* Writes an enumerated value by its name, so that files stay readable if the enumeration grows. */
PetscErrorCode WLMDenseWriteEnum(hid_t group, const char name[], const char *const names[], PetscInt value)
{
  PetscFunctionBeginUser;
  PetscCall(WLMH5WriteAttributeString(group, name, names[value]));
  PetscFunctionReturn(0);
}

/* Reads an enumerated value written by WLMDenseWriteEnum(); names is a PETSc enum list (names, type, prefix, NULL). */
PetscErrorCode WLMDenseReadEnum(hid_t group, const char name[], const char *const names[], PetscInt *value)
{
  char     *text;
  PetscInt  n = 0;
  PetscBool found = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(WLMH5ReadAttributeString(group, name, &text));
  while (names[n]) n++;
  for (PetscInt i = 0; i < n - 2 && !found; i++) {
    PetscCall(PetscStrcmp(text, names[i], &found));
    if (found) *value = i;
  }
  PetscCheck(found, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Attribute %s has the unknown value \"%s\"", name, text);
  PetscCall(PetscFree(text));
  PetscFunctionReturn(0);
}

/* Prints "label: hidden widths w1,w2,..., activation name" on one line. */
PetscErrorCode WLMDenseViewWidths(PetscViewer viewer, const char label[], PetscInt n, const PetscInt widths[], WLMActivation act)
{
  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "%s: hidden widths", label));
  PetscCall(PetscViewerASCIIUseTabs(viewer, PETSC_FALSE));
  for (PetscInt l = 0; l < n; l++) PetscCall(PetscViewerASCIIPrintf(viewer, "%s%" PetscInt_FMT, l ? "," : " ", widths[l]));
  PetscCall(PetscViewerASCIIPrintf(viewer, ", activation %s\n", WLMActivations[act]));
  PetscCall(PetscViewerASCIIUseTabs(viewer, PETSC_TRUE));
  PetscFunctionReturn(0);
}

/*@
  WLMDenseLinearForward - Computes Y = beta Y + X W on n rows (2n with tangent rows) and adds the bias b to the primal rows.

  Input Parameters:
+ n       - primal rows
. tangent - the tangent rows follow the primal rows; they get no bias
. nin     - input width
. nout    - output width
. X       - inputs [rows][nin]
. W       - weights [nin][nout]
. b       - bias [nout], or NULL
- beta    - 0 to overwrite Y, 1 to add to it (a residual connection)

  Output Parameter:
. Y - outputs [rows][nout]
@*/
PetscErrorCode WLMDenseLinearForward(PetscInt n, PetscBool tangent, PetscInt nin, PetscInt nout, const PetscReal X[], const PetscReal W[], const PetscReal b[], PetscReal beta, PetscReal Y[])
{
  const PetscInt rows = tangent ? 2 * n : n;

  PetscFunctionBeginUser;
  if (n == 0) PetscFunctionReturn(0);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, nout, nin, 1.0, X, nin, W, nout, beta, Y, nout);
  if (b) {
    for (PetscInt i = 0; i < n; i++) {
      for (PetscInt k = 0; k < nout; k++) Y[i * nout + k] += b[k];
    }
  }
  PetscCall(PetscLogFlops(2.0 * rows * nin * nout + (b ? n * nout : 0)));
  PetscFunctionReturn(0);
}

/*@
  WLMDenseLinearReverse - Computes Xbar = beta Xbar + Ybar W^T on n rows (2n with tangent rows).
@*/
PetscErrorCode WLMDenseLinearReverse(PetscInt n, PetscBool tangent, PetscInt nin, PetscInt nout, const PetscReal Ybar[], const PetscReal W[], PetscReal beta, PetscReal Xbar[])
{
  const PetscInt rows = tangent ? 2 * n : n;

  PetscFunctionBeginUser;
  if (n == 0) PetscFunctionReturn(0);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, nin, nout, 1.0, Ybar, nout, W, nout, beta, Xbar, nin);
  PetscCall(PetscLogFlops(2.0 * rows * nin * nout));
  PetscFunctionReturn(0);
}

/*@
  WLMDenseLinearParameterGradient - Accumulates the weight and bias gradients of Y = X W + b on n primal rows.

  Input Parameters:
+ n     - rows
. nin   - input width
. nout  - output width
. X     - inputs [n][nin]
. Ybar  - output gradients [n][nout]
- alpha - scale

  Output Parameters:
+ gW - incremented by alpha X^T Ybar [nin][nout]
- gb - incremented by alpha colsum(Ybar) [nout], or NULL
@*/
PetscErrorCode WLMDenseLinearParameterGradient(PetscInt n, PetscInt nin, PetscInt nout, const PetscReal X[], const PetscReal Ybar[], PetscReal alpha, PetscReal gW[], PetscReal gb[])
{
  PetscFunctionBeginUser;
  if (n == 0) PetscFunctionReturn(0);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nin, nout, n, alpha, X, nin, Ybar, nout, 1.0, gW, nout);
  if (gb) {
    for (PetscInt i = 0; i < n; i++) {
      for (PetscInt k = 0; k < nout; k++) gb[k] += alpha * Ybar[i * nout + k];
    }
  }
  PetscCall(PetscLogFlops(2.0 * n * nin * nout + (gb ? 2.0 * n * nout : 0)));
  PetscFunctionReturn(0);
}

/*@
  WLMDenseLinearParameterTangent - Accumulates the tangent of the weight and bias gradients of Y = X W + b.

  Input Parameters:
+ n     - primal rows
. nin   - input width
. nout  - output width
. X     - inputs and their tangents, stacked [2n][nin]
. Ybar  - output gradients and their tangents, stacked [2n][nout]
- alpha - scale

  Output Parameters:
+ gW - incremented by alpha (dX^T Ybar + X^T dYbar) [nin][nout]
- gb - incremented by alpha colsum(dYbar) [nout], or NULL
@*/
PetscErrorCode WLMDenseLinearParameterTangent(PetscInt n, PetscInt nin, PetscInt nout, const PetscReal X[], const PetscReal Ybar[], PetscReal alpha, PetscReal gW[], PetscReal gb[])
{
  PetscFunctionBeginUser;
  if (n == 0) PetscFunctionReturn(0);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nin, nout, n, alpha, X + n * nin, nin, Ybar, nout, 1.0, gW, nout);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nin, nout, n, alpha, X, nin, Ybar + n * nout, nout, 1.0, gW, nout);
  if (gb) {
    for (PetscInt i = 0; i < n; i++) {
      for (PetscInt k = 0; k < nout; k++) gb[k] += alpha * Ybar[(n + i) * nout + k];
    }
  }
  PetscCall(PetscLogFlops(4.0 * n * nin * nout + 2.0 * n * nout));
  PetscFunctionReturn(0);
}

/*@
  WLMDenseLayerNormForward - Normalizes each of n rows of width D (and propagates tangent rows).

  Input Parameters:
+ n       - primal rows
. tangent - tangent rows follow the primal rows
. D       - width
. x       - inputs [rows][D]
. g       - gain [D]
- beta    - shift [D]

  Output Parameters:
+ nrm  - normalized rows n and their tangents dn [rows][D]
. rstd - r of each row [n], then dr [n] when tangent is true
- y    - outputs n g + beta and tangents dn g [rows][D]
@*/
PetscErrorCode WLMDenseLayerNormForward(PetscInt n, PetscBool tangent, PetscInt D, const PetscReal x[], const PetscReal g[], const PetscReal beta[], PetscReal nrm[], PetscReal rstd[], PetscReal y[])
{
  const PetscReal eps = 1e-5, invD = 1.0 / D;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal *xi = x + i * D;
    PetscReal       *ni = nrm + i * D, *yi = y + i * D, mean = 0, var = 0, r;

    for (PetscInt k = 0; k < D; k++) mean += xi[k];
    mean *= invD;
    for (PetscInt k = 0; k < D; k++) var += (xi[k] - mean) * (xi[k] - mean);
    r       = 1.0 / PetscSqrtReal(var * invD + eps);
    rstd[i] = r;
    for (PetscInt k = 0; k < D; k++) {
      ni[k] = (xi[k] - mean) * r;
      yi[k] = ni[k] * g[k] + beta[k];
    }
    if (tangent) {
      const PetscReal *dxi = x + (n + i) * D;
      PetscReal       *dni = nrm + (n + i) * D, *dyi = y + (n + i) * D, dmean = 0, ndx = 0;

      for (PetscInt k = 0; k < D; k++) {
        dmean += dxi[k];
        ndx += ni[k] * dxi[k];
      }
      dmean *= invD;
      ndx *= invD;
      rstd[n + i] = -r * r * ndx;
      for (PetscInt k = 0; k < D; k++) {
        dni[k] = r * (dxi[k] - dmean - ni[k] * ndx);
        dyi[k] = dni[k] * g[k];
      }
    }
  }
  PetscCall(PetscLogFlops((tangent ? 16.0 : 8.0) * n * D));
  PetscFunctionReturn(0);
}

/*@
  WLMDenseLayerNormReverse - Adds the input gradient of LayerNorm to xbar, and its tangent.

  Input Parameters:
+ n, tangent, D - as for WLMDenseLayerNormForward()
. g     - gain [D]
. nrm   - normalized rows from the forward pass [rows][D]
. rstd  - r (and dr) from the forward pass
. ybar  - output gradients and their tangents [rows][D]
- alpha - scale of the parameter parts

  Output Parameters:
+ xbar - incremented by the input gradients (and their tangents) [rows][D]
. gg   - gain gradient, or NULL: without tangent incremented by alpha colsum(ybar n), with tangent by its tangent alpha colsum(dybar n + ybar dn) [D]
- gb   - shift gradient, used when gg is not NULL: incremented by alpha colsum(ybar), or with tangent by alpha colsum(dybar) [D]
@*/
PetscErrorCode WLMDenseLayerNormReverse(PetscInt n, PetscBool tangent, PetscInt D, const PetscReal g[], const PetscReal nrm[], const PetscReal rstd[], const PetscReal ybar[], PetscReal xbar[], PetscReal alpha, PetscReal gg[], PetscReal gb[])
{
  const PetscReal invD = 1.0 / D;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal *ni = nrm + i * D, *yb = ybar + i * D, r = rstd[i];
    PetscReal       *xb = xbar + i * D, mnb = 0, A = 0;

    for (PetscInt k = 0; k < D; k++) {
      const PetscReal nb = yb[k] * g[k];

      mnb += nb;
      A += nb * ni[k];
    }
    mnb *= invD;
    A *= invD;
    if (gg && !tangent) {
      for (PetscInt k = 0; k < D; k++) {
        gg[k] += alpha * yb[k] * ni[k];
        gb[k] += alpha * yb[k];
      }
    }
    if (tangent) {
      const PetscReal *dni = nrm + (n + i) * D, *dyb = ybar + (n + i) * D, dr = rstd[n + i];
      PetscReal       *dxb = xbar + (n + i) * D, mdnb = 0, dA = 0;

      for (PetscInt k = 0; k < D; k++) {
        const PetscReal nb = yb[k] * g[k], dnb = dyb[k] * g[k];

        mdnb += dnb;
        dA += dnb * ni[k] + nb * dni[k];
      }
      if (gg) {
        for (PetscInt k = 0; k < D; k++) {
          gg[k] += alpha * (dyb[k] * ni[k] + yb[k] * dni[k]);
          gb[k] += alpha * dyb[k];
        }
      }
      mdnb *= invD;
      dA *= invD;
      for (PetscInt k = 0; k < D; k++) {
        const PetscReal nb = yb[k] * g[k], dnb = dyb[k] * g[k];

        dxb[k] += dr * (nb - mnb - ni[k] * A) + r * (dnb - mdnb - dni[k] * A - ni[k] * dA);
      }
    }
    for (PetscInt k = 0; k < D; k++) xb[k] += r * (yb[k] * g[k] - mnb - ni[k] * A);
  }
  PetscCall(PetscLogFlops((tangent ? 30.0 : 8.0) * n * D + (gg && !tangent ? 4.0 * n * D : 0)));
  PetscFunctionReturn(0);
}

WLM_VECTOR_CLONES static void ActivationReverseKernel(PetscInt n, PetscBool tangent, const PetscReal *d1, const PetscReal *d2dz, PetscReal *abar)
{
  if (tangent) {
    for (PetscInt e = 0; e < n; e++) abar[n + e] = d1[e] * abar[n + e] + d2dz[e] * abar[e];
  }
  for (PetscInt e = 0; e < n; e++) abar[e] *= d1[e];
}

/*@
  WLMDenseActivationReverse - Turns output gradients of an activation into input gradients, in place, with their tangents.

  Input Parameters:
+ n       - number of values in the primal rows (rows times width)
. tangent - the tangent values follow at offset n
. d1      - s'(z) [n]
. d2dz    - s''(z) dz [n], used when tangent is true
- abar    - gradients dE/da, then their tangents

  Output Parameter:
. abar - dE/dz = s'(z) abar, then its tangent s'(z) dabar + s''(z) dz abar
@*/
PetscErrorCode WLMDenseActivationReverse(PetscInt n, PetscBool tangent, const PetscReal d1[], const PetscReal d2dz[], PetscReal abar[])
{
  PetscFunctionBeginUser;
  ActivationReverseKernel(n, tangent, d1, d2dz, abar);
  PetscCall(PetscLogFlops((tangent ? 4.0 : 1.0) * n));
  PetscFunctionReturn(0);
}
