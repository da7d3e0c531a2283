/*
   harmonic: a damped harmonic population with known parameters, for
   end-to-end tests that check recovered parameters.

   With uniform masses the model of the "harmonic" potential type
   (U = k/2 sum_i w_i |x_i|^2 + c/4 sum_ij w_i w_j |x_i - x_j|^2, w_i = 1/N) and
   friction gamma gives

     dx_i/dt = v_i,   dv_i/dt = -k x_i - c (x_i - m) - gamma v_i,   m = mean_j x_j.

   The mean m obeys m'' = -k m - gamma m' and each deviation y_i = x_i - m
   obeys y_i'' = -(k + c) y_i - gamma y_i', so both are damped oscillators
   z'' + gamma z' + omega^2 z = 0 (omega^2 = k for the mean, k + c for the
   deviations) and every snapshot is computed exactly from the initial state
   with WLMDampedOscillatorPropagator(); there is no time-stepping error.

   Initial state: x_i ~ N(shift e_1, I), v_i ~ N(0, s_v^2 I).  The mean of the
   initial state is summed in global index order over the gathered particles,
   so the output does not depend on the rank count.
*/
#include "generateimpl.h"

typedef struct {
  PetscReal k, c, gamma;     /* the model */
  PetscReal shift;           /* initial offset of the cloud along the first axis */
  PetscReal velocity_std;    /* s_v */
  PetscReal *x0, *v0, *x, *v; /* this rank's particles [n][dim] */
} Harmonic;

/*@
  WLMDampedOscillatorPropagator - Returns the exact flow of z'' + gamma z' + omega2 z = 0 over a time t.

  Not Collective

  Input Parameters:
+ omega2 - omega^2 (any sign)
. gamma  - friction
- t      - elapsed time

  Output Parameter:
. A - the matrix with z(t) = A[0] z(0) + A[1] z'(0) and z'(t) = A[2] z(0) + A[3] z'(0)

  Notes:
  With beta = gamma/2 and D = beta^2 - omega2, z(t) = e^{-beta t} ((C + beta S) z0 + S v0)
  and z'(t) = e^{-beta t} (-omega2 S z0 + (C - beta S) v0), where C = cosh(sqrt(D) t)
  and S = sinh(sqrt(D) t) / sqrt(D) (cos and sin / sqrt(-D) when D < 0).  Near
  D = 0 (critical damping) C and S come from their Taylor series in D t^2,
  which avoids the cancellation of the closed forms.
@*/
PetscErrorCode WLMDampedOscillatorPropagator(PetscReal omega2, PetscReal gamma, PetscReal t, PetscReal A[4])
{
  const PetscReal beta = 0.5 * gamma, D = beta * beta - omega2, q = D * t * t;
  PetscReal       EC, ES; /* e^{-beta t} C and e^{-beta t} S */

  PetscFunctionBeginUser;
  if (PetscAbsReal(q) < 1e-4) {
    /* series truncated after q^3: relative error below q^4 / 8! < 3e-21 */
    const PetscReal E = PetscExpReal(-beta * t);

    EC = E * (1 + q / 2 * (1 + q / 12 * (1 + q / 30)));
    ES = E * t * (1 + q / 6 * (1 + q / 20 * (1 + q / 42)));
  } else if (D < 0) {
    const PetscReal nu = PetscSqrtReal(-D), E = PetscExpReal(-beta * t);

    EC = E * PetscCosReal(nu * t);
    ES = E * PetscSinReal(nu * t) / nu;
  } else {
    /* e^{-beta t} cosh(nu t) written with two exponentials that cannot overflow when nu <= beta */
    const PetscReal nu = PetscSqrtReal(D), ep = PetscExpReal((nu - beta) * t), em = PetscExpReal(-(nu + beta) * t);

    EC = 0.5 * (ep + em);
    ES = 0.5 * (ep - em) / nu;
  }
  A[0] = EC + beta * ES;
  A[1] = ES;
  A[2] = -omega2 * ES;
  A[3] = EC - beta * ES;
  PetscFunctionReturn(0);
}

/* Initial positions and velocities of the local particles, one stream per global index. */
static void HarmonicDrawInitial(WLMGenerator gen, Harmonic *h)
{
  for (PetscInt i = 0; i < gen->n; i++) {
    WLMRandom r;

    WLMRandomSeed(&r, (uint64_t)gen->seed, (uint64_t)(gen->start + i));
    for (PetscInt k = 0; k < gen->dim; k++) h->x0[i * gen->dim + k] = WLMRandomNormal(&r) + (k == 0 ? h->shift : 0);
    for (PetscInt k = 0; k < gen->dim; k++) h->v0[i * gen->dim + k] = h->velocity_std * WLMRandomNormal(&r);
  }
}

/* Mean of a [n][dim] field over all particles, summed in global index order. */
static PetscErrorCode HarmonicMean(WLMGenerator gen, const PetscReal local[], PetscReal mean[])
{
  PetscReal *all;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(gen->N * gen->dim, &all));
  PetscCall(WLMGeneratorGatherAll(gen, gen->dim, local, all));
  for (PetscInt k = 0; k < gen->dim; k++) mean[k] = 0;
  for (PetscInt j = 0; j < gen->N; j++) {
    for (PetscInt k = 0; k < gen->dim; k++) mean[k] += all[j * gen->dim + k];
  }
  for (PetscInt k = 0; k < gen->dim; k++) mean[k] /= gen->N;
  PetscCall(PetscFree(all));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorGenerate_Harmonic(WLMGenerator gen, WLMSnapshots snap)
{
  Harmonic      *h   = (Harmonic *)gen->data;
  const PetscInt dim = gen->dim;
  PetscReal     *m0, *u0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(dim, &m0, dim, &u0));
  HarmonicDrawInitial(gen, h);
  PetscCall(HarmonicMean(gen, h->x0, m0));
  PetscCall(HarmonicMean(gen, h->v0, u0));
  for (PetscInt s = 0; s < gen->T; s++) {
    const PetscReal t = s * gen->dt;
    PetscReal       M[4], Y[4]; /* propagators of the mean and of the deviations */

    PetscCall(PetscLogEventBegin(WLMGENERATOR_Step, gen, 0, 0, 0));
    PetscCall(WLMDampedOscillatorPropagator(h->k, h->gamma, t, M));
    PetscCall(WLMDampedOscillatorPropagator(h->k + h->c, h->gamma, t, Y));
    for (PetscInt i = 0; i < gen->n; i++) {
      for (PetscInt k = 0; k < dim; k++) {
        const PetscInt  a  = i * dim + k;
        const PetscReal y0 = h->x0[a] - m0[k], w0 = h->v0[a] - u0[k];
        const PetscReal m = M[0] * m0[k] + M[1] * u0[k], u = M[2] * m0[k] + M[3] * u0[k];

        h->x[a] = m + Y[0] * y0 + Y[1] * w0;
        h->v[a] = u + Y[2] * y0 + Y[3] * w0;
      }
    }
    PetscCall(PetscLogFlops(16.0 * gen->n * dim));
    PetscCall(PetscLogEventEnd(WLMGENERATOR_Step, gen, 0, 0, 0));
    PetscCall(WLMSnapshotsAddSnapshot(snap, t, gen->n, h->x, gen->velocities ? h->v : NULL, NULL, NULL));
  }
  PetscCall(PetscFree2(m0, u0));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorSetUp_Harmonic(WLMGenerator gen)
{
  Harmonic *h = (Harmonic *)gen->data;
  MPI_Comm  comm = PetscObjectComm((PetscObject)gen);

  PetscFunctionBeginUser;
  PetscCheck(h->gamma >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Friction gamma = %.6g is invalid; it must be non-negative", (double)h->gamma);
  PetscCheck(h->velocity_std >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Initial velocity standard deviation %.6g is invalid; it must be non-negative", (double)h->velocity_std);
  PetscCall(PetscFree4(h->x0, h->v0, h->x, h->v));
  PetscCall(PetscMalloc4(gen->n * gen->dim + 1, &h->x0, gen->n * gen->dim + 1, &h->v0, gen->n * gen->dim + 1, &h->x, gen->n * gen->dim + 1, &h->v));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorSetFromOptions_Harmonic(WLMGenerator gen, PetscOptionItems *PetscOptionsObject)
{
  Harmonic *h = (Harmonic *)gen->data;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Damped harmonic system options");
  PetscCall(PetscOptionsReal("-wlm_generate_harmonic_k", "Stiffness k of the pull to the origin", "WLMGeneratorHarmonicSetParameters", h->k, &h->k, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_harmonic_c", "Stiffness c of the pull to the population mean", "WLMGeneratorHarmonicSetParameters", h->c, &h->c, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_harmonic_gamma", "Friction gamma", "WLMGeneratorHarmonicSetParameters", h->gamma, &h->gamma, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_harmonic_shift", "Initial offset of the cloud along the first axis", "", h->shift, &h->shift, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_harmonic_velocity_std", "Standard deviation of the initial velocities", "", h->velocity_std, &h->velocity_std, NULL));
  PetscOptionsHeadEnd();
  gen->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorAttributes_Harmonic(WLMGenerator gen, WLMSnapshots snap)
{
  Harmonic *h = (Harmonic *)gen->data;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_harmonic_k", h->k));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_harmonic_c", h->c));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_harmonic_gamma", h->gamma));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_harmonic_shift", h->shift));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_harmonic_velocity_std", h->velocity_std));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorView_Harmonic(WLMGenerator gen, PetscViewer viewer)
{
  Harmonic *h = (Harmonic *)gen->data;

  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "k = %.6g, c = %.6g, gamma = %.6g; x_0 ~ N(%.6g e_1, I), v_0 ~ N(0, %.6g^2 I)\n", (double)h->k, (double)h->c, (double)h->gamma, (double)h->shift, (double)h->velocity_std));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorDestroy_Harmonic(WLMGenerator gen)
{
  Harmonic *h = (Harmonic *)gen->data;

  PetscFunctionBeginUser;
  PetscCall(PetscFree4(h->x0, h->v0, h->x, h->v));
  PetscCall(PetscObjectComposeFunction((PetscObject)gen, "WLMGeneratorHarmonicSetParameters_C", NULL));
  PetscCall(PetscFree(gen->data));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorHarmonicSetParameters_Harmonic(WLMGenerator gen, PetscReal k, PetscReal c, PetscReal gamma)
{
  Harmonic *h = (Harmonic *)gen->data;

  PetscFunctionBeginUser;
  PetscCheck(gamma >= 0, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_OUTOFRANGE, "Friction gamma = %.6g is invalid; it must be non-negative", (double)gamma);
  h->k     = k;
  h->c     = c;
  h->gamma = gamma;
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorHarmonicSetParameters - Sets the stiffnesses k (pull to the origin) and c (pull to the mean) and the friction gamma.

  Logically Collective

  Options Database Keys:
+ -wlm_generate_harmonic_k <1>       - k
. -wlm_generate_harmonic_c <0.5>     - c
- -wlm_generate_harmonic_gamma <0.2> - gamma
@*/
PetscErrorCode WLMGeneratorHarmonicSetParameters(WLMGenerator gen, PetscReal k, PetscReal c, PetscReal gamma)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscTryMethod(gen, "WLMGeneratorHarmonicSetParameters_C", (WLMGenerator, PetscReal, PetscReal, PetscReal), (gen, k, c, gamma));
  PetscFunctionReturn(0);
}

/*MC
  WLMGENERATORHARMONIC - "harmonic": dv_i/dt = -k x_i - c (x_i - mean) - gamma v_i, computed exactly.

  Options Database Keys:
+ -wlm_generate_harmonic_k <1>              - pull to the origin
. -wlm_generate_harmonic_c <0.5>            - pull to the population mean
. -wlm_generate_harmonic_gamma <0.2>        - friction
. -wlm_generate_harmonic_shift <2>          - initial offset of the cloud along the first axis
- -wlm_generate_harmonic_velocity_std <0.5> - spread of the initial velocities

  Defaults of the common options: 1000 particles, 21 snapshots 0.25 apart, velocities written.
M*/
PETSC_EXTERN PetscErrorCode WLMGeneratorCreate_Harmonic(WLMGenerator gen)
{
  Harmonic *h;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&h));
  h->k            = 1.0;
  h->c            = 0.5;
  h->gamma        = 0.2;
  h->shift        = 2.0;
  h->velocity_std = 0.5;
  gen->data       = h;
  WLMGeneratorSetTypeDefaults(gen, 1000, 21, 0.25, PETSC_TRUE);
  gen->ops->setfromoptions = WLMGeneratorSetFromOptions_Harmonic;
  gen->ops->setup          = WLMGeneratorSetUp_Harmonic;
  gen->ops->generate       = WLMGeneratorGenerate_Harmonic;
  gen->ops->attributes     = WLMGeneratorAttributes_Harmonic;
  gen->ops->view           = WLMGeneratorView_Harmonic;
  gen->ops->destroy        = WLMGeneratorDestroy_Harmonic;
  PetscCall(PetscObjectComposeFunction((PetscObject)gen, "WLMGeneratorHarmonicSetParameters_C", WLMGeneratorHarmonicSetParameters_Harmonic));
  PetscFunctionReturn(0);
}
