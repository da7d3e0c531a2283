/*
   boids: a flock of N particles moving at unit speed.

   Initial state: x_i ~ N(0, I); v_i = (g_i - gbar) / |g_i - gbar| with
   g_i ~ N(0, I) and gbar their mean over the flock, so the directions are
   isotropic and their pre-normalisation mean is exactly zero.

   One step of length h (h = dt / substeps), for every particle at once from
   the state at the start of the step.  With O_i the other particles closer
   than r_out and I_i those closer than r_in (r_in < r_out, so I_i is a
   subset of O_i):

     a_i = c_coh mean_{j in O_i} (x_j - x_i)        cohesion (0 when O_i is empty)
         - c_sep sum_{j in I_i} (x_j - x_i)         separation
         + c_ali mean_{j in O_i} (v_j - v_i)        alignment (0 when O_i is empty)
         - c_bnd sign(x_ik) e_k for each k with |x_ik| > L    boundary
     v_i <- (v_i + h a_i) / |v_i + h a_i|
     x_i <- x_i + h v_i + sigma sqrt(h) xi_i,   xi_i ~ N(0, I)  (sigma = 0 by default)

   Defaults: r_out = 1, r_in = 0.3, c_coh = 0.005, c_sep = 0.1, c_ali = 0.3,
   c_bnd = 0.5, L = 5.  The stored velocity is v_i after the last update (the
   direction of the last drift), at t = 0 the initial one.

   Parallel layout: each rank updates its own particles and gathers every
   position and velocity once per step.  The neighbour sums run over the
   gathered arrays in global index order, so results do not depend on the
   rank count.
*/
#include "generateimpl.h"

typedef struct {
  PetscReal r_out, r_in;           /* neighbour radii */
  PetscReal c_coh, c_sep, c_ali;   /* cohesion, separation and alignment coefficients */
  PetscReal c_bnd, bound;          /* boundary push and the half-width L of the box where it starts */
  PetscReal noise;                 /* sigma of the position noise */
  PetscInt  substeps;              /* steps between snapshots */
  PetscReal *x, *v;                /* this rank's particles [n][dim] */
  PetscReal *X, *V;                /* every particle, gathered [N][dim] */
  WLMRandom *streams;              /* one stream per local particle */
} Boids;

/* Initial positions and unit velocities; the gathered draws give the flock mean in global order. */
static PetscErrorCode BoidsInitialize(WLMGenerator gen, Boids *b)
{
  const PetscInt dim = gen->dim;
  PetscReal     *g, *G, mean[64];

  PetscFunctionBeginUser;
  PetscCheck(dim <= 64, PetscObjectComm((PetscObject)gen), PETSC_ERR_SUP, "Boids support up to 64 dimensions, not %" PetscInt_FMT, dim);
  PetscCall(PetscMalloc2(gen->n * dim + 1, &g, gen->N * dim, &G));
  for (PetscInt i = 0; i < gen->n; i++) {
    WLMRandomSeed(&b->streams[i], (uint64_t)gen->seed, (uint64_t)(gen->start + i));
    for (PetscInt k = 0; k < dim; k++) b->x[i * dim + k] = WLMRandomNormal(&b->streams[i]);
    for (PetscInt k = 0; k < dim; k++) g[i * dim + k] = WLMRandomNormal(&b->streams[i]);
  }
  PetscCall(WLMGeneratorGatherAll(gen, dim, g, G));
  for (PetscInt k = 0; k < dim; k++) mean[k] = 0;
  for (PetscInt j = 0; j < gen->N; j++) {
    for (PetscInt k = 0; k < dim; k++) mean[k] += G[j * dim + k];
  }
  for (PetscInt k = 0; k < dim; k++) mean[k] /= gen->N;
  for (PetscInt i = 0; i < gen->n; i++) {
    PetscReal norm = 0, *vi = &b->v[i * dim];

    for (PetscInt k = 0; k < dim; k++) {
      vi[k] = g[i * dim + k] - mean[k];
      norm += vi[k] * vi[k];
    }
    norm = PetscSqrtReal(norm);
    for (PetscInt k = 0; k < dim; k++) vi[k] = norm > 0 ? vi[k] / norm : (k == 0);
  }
  PetscCall(PetscFree2(g, G));
  PetscFunctionReturn(0);
}

/* Acceleration a of the particle with global index self, from the gathered state. */
static void BoidsAcceleration(const Boids *b, PetscInt N, PetscInt dim, PetscInt self, PetscReal a[])
{
  const PetscReal *xi = &b->X[self * dim], *vi = &b->V[self * dim];
  const PetscReal  rout2 = b->r_out * b->r_out, rin2 = b->r_in * b->r_in;
  PetscReal        coh[64], sep[64], ali[64];
  PetscInt         nout = 0;

  for (PetscInt k = 0; k < dim; k++) coh[k] = sep[k] = ali[k] = 0;
  for (PetscInt j = 0; j < N; j++) {
    const PetscReal *xj = &b->X[j * dim];
    PetscReal        r2 = 0;

    if (j == self) continue;
    for (PetscInt k = 0; k < dim; k++) r2 += (xj[k] - xi[k]) * (xj[k] - xi[k]);
    if (r2 >= rout2) continue;
    nout++;
    for (PetscInt k = 0; k < dim; k++) {
      coh[k] += xj[k] - xi[k];
      ali[k] += b->V[j * dim + k] - vi[k];
      if (r2 < rin2) sep[k] += xj[k] - xi[k];
    }
  }
  for (PetscInt k = 0; k < dim; k++) {
    a[k] = -b->c_sep * sep[k];
    if (nout > 0) a[k] += (b->c_coh * coh[k] + b->c_ali * ali[k]) / nout;
    if (PetscAbsReal(xi[k]) > b->bound) a[k] -= b->c_bnd * (xi[k] > 0 ? 1.0 : -1.0);
  }
}

/* One step of every local particle from the gathered state at the start of the step. */
static PetscErrorCode BoidsStep(WLMGenerator gen, Boids *b, PetscReal h)
{
  const PetscInt dim = gen->dim;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(WLMGENERATOR_Step, gen, 0, 0, 0));
  PetscCall(WLMGeneratorGatherAll(gen, dim, b->x, b->X));
  PetscCall(WLMGeneratorGatherAll(gen, dim, b->v, b->V));
  for (PetscInt i = 0; i < gen->n; i++) {
    PetscReal a[64], w[64], norm = 0, *vi = &b->v[i * dim], *xi = &b->x[i * dim];

    BoidsAcceleration(b, gen->N, dim, gen->start + i, a);
    for (PetscInt k = 0; k < dim; k++) {
      w[k] = vi[k] + h * a[k];
      norm += w[k] * w[k];
    }
    norm = PetscSqrtReal(norm);
    if (norm > 0) {
      for (PetscInt k = 0; k < dim; k++) vi[k] = w[k] / norm;
    }
    for (PetscInt k = 0; k < dim; k++) xi[k] += h * vi[k];
    if (b->noise > 0) {
      for (PetscInt k = 0; k < dim; k++) xi[k] += b->noise * PetscSqrtReal(h) * WLMRandomNormal(&b->streams[i]);
    }
  }
  /* upper bound: every pair counted as neighbours (distance 3 dim, sums 4 dim), plus normalisation and update */
  PetscCall(PetscLogFlops((PetscLogDouble)gen->n * ((gen->N - 1) * (3.0 * dim + 4.0 * dim) + 8.0 * dim + 2)));
  PetscCall(PetscLogEventEnd(WLMGENERATOR_Step, gen, 0, 0, 0));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorGenerate_Boids(WLMGenerator gen, WLMSnapshots snap)
{
  Boids    *b = (Boids *)gen->data;
  PetscReal h = gen->dt / b->substeps;

  PetscFunctionBeginUser;
  PetscCall(BoidsInitialize(gen, b));
  PetscCall(WLMSnapshotsAddSnapshot(snap, 0.0, gen->n, b->x, gen->velocities ? b->v : NULL, NULL, NULL));
  for (PetscInt k = 1; k < gen->T; k++) {
    for (PetscInt s = 0; s < b->substeps; s++) PetscCall(BoidsStep(gen, b, h));
    PetscCall(WLMSnapshotsAddSnapshot(snap, k * gen->dt, gen->n, b->x, gen->velocities ? b->v : NULL, NULL, NULL));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorSetUp_Boids(WLMGenerator gen)
{
  Boids   *b    = (Boids *)gen->data;
  MPI_Comm comm = PetscObjectComm((PetscObject)gen);

  PetscFunctionBeginUser;
  PetscCheck(gen->dim <= 64, comm, PETSC_ERR_SUP, "Boids support up to 64 dimensions, not %" PetscInt_FMT, gen->dim);
  PetscCheck(b->r_in > 0 && b->r_in < b->r_out, comm, PETSC_ERR_ARG_OUTOFRANGE, "Boid radii r_in = %.6g and r_out = %.6g are invalid; need 0 < r_in < r_out", (double)b->r_in, (double)b->r_out);
  PetscCheck(b->substeps >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "Boid substeps %" PetscInt_FMT " is invalid; use at least 1 step between snapshots", b->substeps);
  PetscCheck(b->noise >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Boid noise %.6g is invalid; it must be non-negative", (double)b->noise);
  PetscCall(PetscFree3(b->x, b->v, b->streams));
  PetscCall(PetscFree2(b->X, b->V));
  PetscCall(PetscMalloc3(gen->n * gen->dim + 1, &b->x, gen->n * gen->dim + 1, &b->v, gen->n + 1, &b->streams));
  PetscCall(PetscMalloc2(gen->N * gen->dim, &b->X, gen->N * gen->dim, &b->V));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorSetFromOptions_Boids(WLMGenerator gen, PetscOptionItems *PetscOptionsObject)
{
  Boids *b = (Boids *)gen->data;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Boids options");
  PetscCall(PetscOptionsInt("-wlm_generate_boids_substeps", "Steps between snapshots (step length dt / substeps)", "", b->substeps, &b->substeps, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_boids_noise", "Standard deviation sigma of the position noise per unit time", "WLMGeneratorBoidsSetNoise", b->noise, &b->noise, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_boids_outer_radius", "Radius r_out of cohesion and alignment", "", b->r_out, &b->r_out, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_boids_inner_radius", "Radius r_in of separation", "", b->r_in, &b->r_in, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_boids_cohesion", "Cohesion coefficient c_coh", "", b->c_coh, &b->c_coh, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_boids_separation", "Separation coefficient c_sep", "", b->c_sep, &b->c_sep, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_boids_alignment", "Alignment coefficient c_ali", "", b->c_ali, &b->c_ali, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_boids_boundary", "Half-width L of the box beyond which the boundary pushes back", "", b->bound, &b->bound, NULL));
  PetscCall(PetscOptionsReal("-wlm_generate_boids_boundary_strength", "Boundary push c_bnd", "", b->c_bnd, &b->c_bnd, NULL));
  PetscOptionsHeadEnd();
  gen->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorAttributes_Boids(WLMGenerator gen, WLMSnapshots snap)
{
  Boids *b = (Boids *)gen->data;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsSetAttributeInt(snap, "generate_boids_substeps", b->substeps));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_boids_noise", b->noise));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_boids_outer_radius", b->r_out));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_boids_inner_radius", b->r_in));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_boids_cohesion", b->c_coh));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_boids_separation", b->c_sep));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_boids_alignment", b->c_ali));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_boids_boundary", b->bound));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_boids_boundary_strength", b->c_bnd));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorView_Boids(WLMGenerator gen, PetscViewer viewer)
{
  Boids *b = (Boids *)gen->data;

  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "radii %.6g (outer) and %.6g (inner); cohesion %.6g, separation %.6g, alignment %.6g; boundary %.6g beyond |x| > %.6g; noise %.6g; %" PetscInt_FMT " steps between snapshots\n", (double)b->r_out, (double)b->r_in, (double)b->c_coh, (double)b->c_sep, (double)b->c_ali, (double)b->c_bnd, (double)b->bound, (double)b->noise, b->substeps));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorDestroy_Boids(WLMGenerator gen)
{
  Boids *b = (Boids *)gen->data;

  PetscFunctionBeginUser;
  PetscCall(PetscFree3(b->x, b->v, b->streams));
  PetscCall(PetscFree2(b->X, b->V));
  PetscCall(PetscObjectComposeFunction((PetscObject)gen, "WLMGeneratorBoidsSetNoise_C", NULL));
  PetscCall(PetscFree(gen->data));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMGeneratorBoidsSetNoise_Boids(WLMGenerator gen, PetscReal sigma)
{
  PetscFunctionBeginUser;
  PetscCheck(sigma >= 0, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_OUTOFRANGE, "Boid noise %.6g is invalid; it must be non-negative", (double)sigma);
  ((Boids *)gen->data)->noise = sigma;
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorBoidsSetNoise - Sets the standard deviation sigma of the position noise per unit time (default 0: deterministic flight).

  Logically Collective

  Options Database Key:
. -wlm_generate_boids_noise <sigma> - the noise level
@*/
PetscErrorCode WLMGeneratorBoidsSetNoise(WLMGenerator gen, PetscReal sigma)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscTryMethod(gen, "WLMGeneratorBoidsSetNoise_C", (WLMGenerator, PetscReal), (gen, sigma));
  PetscFunctionReturn(0);
}

/*MC
  WLMGENERATORBOIDS - "boids": a flock with unit speed, cohesion, separation, alignment and a soft box.

  Options Database Keys:
+ -wlm_generate_boids_substeps <1>            - steps between snapshots
. -wlm_generate_boids_noise <0>               - position noise sigma per unit time
. -wlm_generate_boids_outer_radius <1>        - radius of cohesion and alignment
. -wlm_generate_boids_inner_radius <0.3>      - radius of separation
. -wlm_generate_boids_cohesion <0.005>        - cohesion coefficient
. -wlm_generate_boids_separation <0.1>        - separation coefficient
. -wlm_generate_boids_alignment <0.3>         - alignment coefficient
. -wlm_generate_boids_boundary <5>            - half-width of the box
- -wlm_generate_boids_boundary_strength <0.5> - push back beyond the box

  Defaults of the common options: 1000 particles, 101 snapshots 0.5 apart, velocities written.
M*/
PETSC_EXTERN PetscErrorCode WLMGeneratorCreate_Boids(WLMGenerator gen)
{
  Boids *b;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&b));
  b->r_out    = 1.0;
  b->r_in     = 0.3;
  b->c_coh    = 0.005;
  b->c_sep    = 0.1;
  b->c_ali    = 0.3;
  b->c_bnd    = 0.5;
  b->bound    = 5.0;
  b->noise    = 0.0;
  b->substeps = 1;
  gen->data   = b;
  WLMGeneratorSetTypeDefaults(gen, 1000, 101, 0.5, PETSC_TRUE);
  gen->ops->setfromoptions = WLMGeneratorSetFromOptions_Boids;
  gen->ops->setup          = WLMGeneratorSetUp_Boids;
  gen->ops->generate       = WLMGeneratorGenerate_Boids;
  gen->ops->attributes     = WLMGeneratorAttributes_Boids;
  gen->ops->view           = WLMGeneratorView_Boids;
  gen->ops->destroy        = WLMGeneratorDestroy_Boids;
  PetscCall(PetscObjectComposeFunction((PetscObject)gen, "WLMGeneratorBoidsSetNoise_C", WLMGeneratorBoidsSetNoise_Boids));
  PetscFunctionReturn(0);
}
