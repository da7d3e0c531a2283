/*
   Dense layers shared by the learned potential types: elementwise kernels
   (exp, activations and their first two derivatives), parameter
   initialization, hyperparameter attributes, and a batched multilayer
   perceptron with the four passes that the products need.

   Multilayer perceptron on m input rows a_0 [m][nin] (row-major):

     z_l = a_{l-1} W_l + b_l,   a_l = s(z_l)       l = 1..L, W_l [w_{l-1}][w_l]
     y   = a_L w_o + b_o                          one output per row

   Passes, all batched over rows so that every layer is one cblas_dgemm:

     forward          a_l, y                        and s'(z_l) for the reverse pass
     tangent          da_0 given:  dz_l = da_{l-1} W_l,  da_l = s'(z_l) dz_l,  dy = da_L w_o
     reverse          seeds ybar: abar_L = ybar w_o^T,  zbar_l = s'(z_l) abar_l,
                      abar_{l-1} = zbar_l W_l^T,  grad W_l = a_{l-1}^T zbar_l
     reverse tangent  the tangent of the reverse pass (seed tangents dybar):
                      dzbar_l = s'(z_l) dabar_l + s''(z_l) dz_l abar_l,
                      dabar_{l-1} = dzbar_l W_l^T,
                      d(grad W_l) = da_{l-1}^T zbar_l + a_{l-1}^T dzbar_l

   Primal and tangent rows are stored stacked, [2m][width] (rows 0..m-1 primal,
   m..2m-1 tangent), so one GEMM moves both through a layer.  A reverse pass
   on primal rows alone accumulates the parameter gradient (grad_theta U);
   one with tangent rows accumulates only the tangent of the parameter
   gradient (the parameter product), because no caller needs both at once.
*/
#ifndef WLMDENSE_H
#define WLMDENSE_H

#include <wlm/private/potentialimpl.h>
#include <wlm/wlmsys.h>
#include <string.h>

#define WLM_MLP_MAX_LAYERS 8

/*
   Elementwise loops are compiled for several instruction sets, and the
   loader picks one (GCC function multiversioning).  Multiply-adds are
   contracted into FMA instructions where the clone has them, because ISO C
   mode turns contraction off and the AVX-512 exp runs about twice as fast
   with it.
*/
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
  #define WLM_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), optimize("fp-contract=fast")))
#else
  #define WLM_VECTOR_CLONES
#endif

/*
   exp(x) without libm, so that loops calling it vectorize: x = k ln 2 + r
   with k = round(x / ln 2) and |r| <= ln(2)/2, exp(r) by its Taylor
   polynomial of degree 13 (truncation below 5e-18 relative), and 2^k
   assembled in the exponent bits.  Arguments are clamped to [-708, 709], so
   results stay finite and normal.
*/
static inline PetscReal WLMExpInline(PetscReal x)
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

PETSC_EXTERN void           WLMDenseExp(PetscInt, const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDenseActivate(WLMActivation, PetscInt, PetscReal[], PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDenseTangentScale(PetscInt, PetscReal[], const PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDenseActivationReverse(PetscInt, PetscBool, const PetscReal[], const PetscReal[], PetscReal[]);
PETSC_EXTERN void           WLMDenseUniform(WLMRandom *, PetscInt, PetscReal, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDenseCheckWidths(const char[], PetscInt, const PetscInt[]);
PETSC_EXTERN PetscErrorCode WLMDenseWriteWidths(hid_t, const char[], PetscInt, const PetscInt[]);
PETSC_EXTERN PetscErrorCode WLMDenseReadWidths(hid_t, const char[], PetscInt, PetscInt *, PetscInt[]);
PETSC_EXTERN PetscErrorCode WLMDenseWriteEnum(hid_t, const char[], const char *const[], PetscInt);
PETSC_EXTERN PetscErrorCode WLMDenseReadEnum(hid_t, const char[], const char *const[], PetscInt *);
PETSC_EXTERN PetscErrorCode WLMDenseViewWidths(PetscViewer, const char[], PetscInt, const PetscInt[], WLMActivation);

/*
   Linear layers and LayerNorm on n rows, stacked with n tangent rows when
   tangent is true (rows 0..n-1 primal, n..2n-1 tangent), row-major with the
   layer width as leading dimension.  Reverse passes take the row gradients
   stacked the same way.  Their parameter parts, scaled by alpha, accumulate
   the parameter gradient in a pass without tangent rows and only its
   tangent in a pass with them.
*/
PETSC_EXTERN PetscErrorCode WLMDenseLinearForward(PetscInt, PetscBool, PetscInt, PetscInt, const PetscReal[], const PetscReal[], const PetscReal[], PetscReal, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDenseLinearReverse(PetscInt, PetscBool, PetscInt, PetscInt, const PetscReal[], const PetscReal[], PetscReal, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDenseLinearParameterGradient(PetscInt, PetscInt, PetscInt, const PetscReal[], const PetscReal[], PetscReal, PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDenseLinearParameterTangent(PetscInt, PetscInt, PetscInt, const PetscReal[], const PetscReal[], PetscReal, PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDenseLayerNormForward(PetscInt, PetscBool, PetscInt, const PetscReal[], const PetscReal[], const PetscReal[], PetscReal[], PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMDenseLayerNormReverse(PetscInt, PetscBool, PetscInt, const PetscReal[], const PetscReal[], const PetscReal[], const PetscReal[], PetscReal[], PetscReal, PetscReal[], PetscReal[]);

/* A multilayer perceptron with one output and its workspace. */
typedef struct {
  PetscInt      nin;                          /* input features */
  PetscInt      nlayers;                      /* hidden layers L, at least 1 */
  PetscInt      width[WLM_MLP_MAX_LAYERS];    /* widths w_1..w_L */
  WLMActivation activation;
  PetscInt      nparam;                       /* sum_l (w_{l-1} + 1) w_l + w_L + 1 */
  PetscInt      capacity;                     /* rows allocated in the workspace */
  PetscInt      maxwidth;                     /* max(nin, w_1..w_L) */
  PetscReal    *input;                        /* a_0 and da_0 stacked [2 capacity][nin]; filled by the caller */
  PetscReal    *act[WLM_MLP_MAX_LAYERS];      /* a_l and da_l stacked [2 capacity][w_l] */
  PetscReal    *deriv1[WLM_MLP_MAX_LAYERS];   /* s'(z_l) [capacity][w_l] */
  PetscReal    *deriv2dz[WLM_MLP_MAX_LAYERS]; /* s''(z_l) dz_l [capacity][w_l] */
  PetscReal    *bar[2];                       /* abar and dabar stacked [2 capacity][maxwidth], two buffers used in turn */
  PetscReal    *barin;                        /* result of the reverse pass: abar_0 and dabar_0 stacked [2 capacity][nin] */
  PetscReal    *output;                       /* y and dy stacked [2 capacity] */
} WLMMLP;

PETSC_EXTERN PetscErrorCode WLMMLPSetSizes(WLMMLP *, PetscInt, PetscInt, const PetscInt[], WLMActivation);
PETSC_EXTERN PetscErrorCode WLMMLPInitialize(WLMMLP *, PetscReal[], uint64_t, uint64_t);
PETSC_EXTERN PetscErrorCode WLMMLPReserve(WLMMLP *, PetscInt);
PETSC_EXTERN PetscErrorCode WLMMLPFreeWorkspace(WLMMLP *);
PETSC_EXTERN PetscErrorCode WLMMLPForward(WLMMLP *, const PetscReal[], PetscInt, PetscBool);
PETSC_EXTERN PetscErrorCode WLMMLPReverse(WLMMLP *, const PetscReal[], PetscInt, const PetscReal[], const PetscReal[], PetscBool, PetscReal, PetscReal[]);

/*
   The external field sum_i w_i V(x_i [, t]) with V an MLP of the position
   (and the time), shared by the external and meanfield types.  Every call
   handles this rank's particles only and returns this rank's share of U.
*/
typedef struct {
  PetscInt      dim;                       /* spatial dimension d */
  PetscBool     time_input;                /* t is the last input feature */
  PetscInt      nlayers;                   /* hidden layers of V */
  PetscInt      width[WLM_MLP_MAX_LAYERS]; /* hidden widths of V */
  WLMActivation activation;
  WLMMLP        mlp;
  PetscReal    *seeds;                     /* per-particle seeds w_i [mlp.capacity] */
  PetscInt      seeds_capacity;            /* entries allocated in seeds */
} WLMExternalPart;

PETSC_EXTERN PetscErrorCode WLMExternalPartSetUp(WLMExternalPart *, PetscInt, PetscBool);
PETSC_EXTERN PetscErrorCode WLMExternalPartDestroy(WLMExternalPart *);
PETSC_EXTERN PetscErrorCode WLMExternalPartReserve(WLMExternalPart *, PetscInt);
PETSC_EXTERN PetscErrorCode WLMExternalPartEvaluate(WLMExternalPart *, const PetscReal[], PetscReal, PetscInt, const PetscReal[], const PetscReal[], PetscReal, PetscReal *, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMExternalPartProducts(WLMExternalPart *, const PetscReal[], PetscReal, PetscInt, const PetscReal[], const PetscReal[], PetscReal, const PetscReal[], PetscReal *, PetscReal[], PetscReal[], PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMExternalPartParameterGradient(WLMExternalPart *, const PetscReal[], PetscReal, PetscInt, const PetscReal[], const PetscReal[], PetscReal, PetscReal *, PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMExternalPartSetFromOptions(WLMExternalPart *, PetscOptionItems *);
PETSC_EXTERN PetscErrorCode WLMExternalPartSave(WLMExternalPart *, hid_t);
PETSC_EXTERN PetscErrorCode WLMExternalPartLoad(WLMExternalPart *, hid_t);

#endif
