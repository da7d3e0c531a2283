/*
   Elementwise kernels of the dense layers, parameter initialization and the
   HDF5 attributes that describe layer sizes.

   exp(x) is computed here rather than by libm so that the loops vectorize:
   x = k ln 2 + r with k = round(x / ln 2) and |r| <= ln(2)/2, exp(r) by its
   Taylor polynomial of degree 13 (truncation below 5e-18 relative), and 2^k
   assembled in the exponent bits.  Arguments are clamped to [-708, 709], so
   results stay finite and normal.

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

const char *const WLMActivations[] = {"silu", "tanh", "softplus", "gelu", "WLMActivation", "WLM_ACTIVATION_", NULL};
const char *const WLMPairInputs[]  = {"distance2", "difference", "WLMPairInput", "WLM_PAIR_INPUT_", NULL};

static inline PetscReal ExpKernel(PetscReal x)
{
  const PetscReal log2e = 1.4426950408889634074, ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
  const PetscReal shifter = 0x1.8p52; /* adding it rounds to an integer held in the low mantissa bits */
  PetscReal       kd, k, r, p, scale;
  uint64_t        kbits, sbits, ebits;

  x  = x < -708.0 ? -708.0 : x;
  x  = x > 709.0 ? 709.0 : x;
  kd = x * log2e + shifter;
  k  = kd - shifter;
  r  = (x - k * ln2hi) - k * ln2lo;
  p  = 1.0 / 6227020800.0;
  p  = p * r + 1.0 / 479001600.0;
  p  = p * r + 1.0 / 39916800.0;
  p  = p * r + 1.0 / 3628800.0;
  p  = p * r + 1.0 / 362880.0;
  p  = p * r + 1.0 / 40320.0;
  p  = p * r + 1.0 / 5040.0;
  p  = p * r + 1.0 / 720.0;
  p  = p * r + 1.0 / 120.0;
  p  = p * r + 1.0 / 24.0;
  p  = p * r + 1.0 / 6.0;
  p  = p * r + 0.5;
  p  = p * r + 1.0;
  p  = p * r + 1.0;
  memcpy(&kbits, &kd, sizeof(kbits));
  memcpy(&sbits, &shifter, sizeof(sbits));
  ebits = (kbits - sbits + 1023) << 52; /* k + 1023 lies in [2, 2046]: a normal exponent */
  memcpy(&scale, &ebits, sizeof(scale));
  return p * scale;
}

/* Logistic function 1 / (1 + e^-z); never overflows because ExpKernel clamps. */
static inline PetscReal Sigmoid(PetscReal z)
{
  return 1.0 / (1.0 + ExpKernel(-z));
}

/* tanh(z) = 1 - 2 / (e^{2z} + 1); accurate to a few ulp of 1 (absolute), which is all the layers need. */
static inline PetscReal TanhKernel(PetscReal z)
{
  return 1.0 - 2.0 / (ExpKernel(2.0 * z) + 1.0);
}

/*@
  WLMDenseExp - Computes y_i = exp(x_i) for n values with a vectorizable kernel; x and y may be the same array.
@*/
WLM_VECTOR_CLONES void WLMDenseExp(PetscInt n, const PetscReal x[], PetscReal y[])
{
  for (PetscInt i = 0; i < n; i++) y[i] = ExpKernel(x[i]);
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

    z[i]  = PetscMax(x, 0.0) + log1p(ExpKernel(-PetscAbsReal(x)));
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
