/*
   attention potential with the ring exchange of key-value blocks
   (attentionring.c), on 2 to 4 ranks.  The ring gives the gather's energy,
   forces, products and parameter gradient up to summation order.  The
   cases cover uneven shares (one rank with a single particle, one with
   several query tiles, an empty one), masses, time input, several heads
   and blocks.  The
   derivatives of the ring agree with central differences of the sharded
   model.
*/
#include "wlmtest.h"
#include "potentialcheck.h"
#include <wlm/wlmpotential.h>
#include <wlm/wlmsys.h>

/* One comparison: population, model sizes and how the particles are shared. */
typedef struct {
  PetscInt  N, dim, hidden, heads, layers, ffn;
  PetscBool time_input, masses;
  PetscInt  single; /* the rank with 1 particle (-1: none); rank q of the others gets a share in proportion to q + 1 */
} RingCase;

/* Contiguous share [start, start + n) of this rank. */
static void Share(const RingCase *c, PetscInt *start, PetscInt *n)
{
  const PetscMPIInt R = wlm_test_size;
  const PetscInt    total = c->single >= 0 ? c->N - 1 : c->N;
  PetscInt          weight = 0, acc = 0, s = 0;

  for (PetscMPIInt q = 0; q < R; q++) weight += q == c->single ? 0 : q + 1;
  for (PetscMPIInt q = 0; q < R; q++) {
    const PetscInt m = q == c->single ? 1 : (total * (acc + q + 1)) / weight - (total * acc) / weight;

    if (q != c->single) acc += q + 1;
    if (q == wlm_test_rank) {
      *start = s;
      *n     = m;
    }
    s += m;
  }
}

static PetscErrorCode CreateSharded(const RingCase *c, WLMPotentialExchange exchange, WLMPotential *pot)
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate(PETSC_COMM_WORLD, pot));
  PetscCall(WLMPotentialSetType(*pot, WLMPOTENTIALATTENTION));
  PetscCall(WLMPotentialSetDimension(*pot, c->dim));
  PetscCall(WLMPotentialSetTimeInput(*pot, c->time_input));
  PetscCall(WLMPotentialAttentionSetSizes(*pot, c->hidden, c->heads, c->layers, c->ffn, 3));
  PetscCall(WLMPotentialSetExchange(*pot, exchange, PETSC_DEFAULT));
  PetscCall(WLMPotentialSetUp(*pot));
  PetscCall(WLMPotentialInitializeParameters(*pot, 17));
  PetscFunctionReturn(0);
}

/* Every output of one potential for this rank's share: U, F, state and parameter products, grad_theta U (summed), and the combined call. */
typedef struct {
  PetscReal  U, Ug, Uc;
  PetscReal *F, *G, *T, *P, *Fc, *Gc, *Tc;
} RingOutputs;

static PetscErrorCode Evaluate(WLMPotential pot, PetscReal t, PetscInt n, PetscInt dim, PetscInt np, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, RingOutputs *o)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc4(n * dim + 1, &o->F, n * dim + 1, &o->G, n * dim + 1, &o->Fc, n * dim + 1, &o->Gc));
  PetscCall(PetscCalloc3(np, &o->T, np, &o->P, np, &o->Tc));
  PetscCall(WLMPotentialComputeEnergy(pot, t, n, x, w, &o->U));
  PetscCall(WLMPotentialComputeForces(pot, t, n, x, w, NULL, o->F));
  PetscCall(WLMPotentialComputeProducts(pot, t, n, x, w, lambda, o->G, o->T));
  PetscCall(WLMPotentialComputeParameterGradient(pot, t, n, x, w, &o->Ug, o->P));
  PetscCall(WLMPotentialComputeForcesAndProducts(pot, t, n, x, w, lambda, &o->Uc, o->Fc, o->Gc, o->Tc));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, o->T, np, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, o->P, np, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, o->Tc, np, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(0);
}

static PetscErrorCode FreeOutputs(RingOutputs *o)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree4(o->F, o->G, o->Fc, o->Gc));
  PetscCall(PetscFree3(o->T, o->P, o->Tc));
  PetscFunctionReturn(0);
}

/* max_i |a_i - b_i| / max_i |a_i| over all ranks */
static PetscErrorCode ScaledDifference(PetscInt len, const PetscReal *a, const PetscReal *b, PetscReal *diff)
{
  PetscReal v[2] = {0, PETSC_SMALL};

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < len; i++) {
    v[0] = PetscMax(v[0], PetscAbsReal(a[i] - b[i]));
    v[1] = PetscMax(v[1], PetscAbsReal(a[i]));
  }
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, v, 2, MPIU_REAL, MPIU_MAX, PETSC_COMM_WORLD));
  *diff = v[0] / v[1];
  PetscFunctionReturn(0);
}

/* Largest relative difference between the outputs of the gather (a) and of the ring (b). */
static PetscErrorCode OutputsDifference(PetscInt nx, PetscInt np, const RingOutputs *a, const RingOutputs *b, PetscReal *diff)
{
  const PetscReal *va[7] = {a->F, a->G, a->T, a->P, a->Fc, a->Gc, a->Tc}, *vb[7] = {b->F, b->G, b->T, b->P, b->Fc, b->Gc, b->Tc};
  const PetscInt   len[7] = {nx, nx, np, np, nx, nx, np};
  PetscReal        d = 0;

  PetscFunctionBeginUser;
  *diff = PetscMax(WLMTestRelativeError(a->U, b->U, 1e-300), WLMTestRelativeError(a->Ug, b->Ug, 1e-300));
  *diff = PetscMax(*diff, WLMTestRelativeError(a->Uc, b->Uc, 1e-300));
  for (PetscInt k = 0; k < 7; k++) {
    PetscCall(ScaledDifference(len[k], va[k], vb[k], &d));
    *diff = PetscMax(*diff, d);
  }
  PetscFunctionReturn(0);
}

START_TEST(test_attention_ring_equals_gather)
{
  /* with N 430 one rank has 429 particles on 2 ranks (258 on 3), so its queries run in several tiles of 32768 / M rows */
  /* the last case leaves rank 0 without particles on 3 and 4 ranks */
  const RingCase cases[6] = {
    {13, 2, 8, 2, 2, 12, PETSC_TRUE, PETSC_TRUE, 0},
    {13, 3, 6, 3, 1, 5, PETSC_FALSE, PETSC_TRUE, 1},
    {9, 1, 4, 1, 3, 6, PETSC_TRUE, PETSC_FALSE, 0},
    {430, 2, 4, 2, 1, 6, PETSC_TRUE, PETSC_TRUE, 0},
    {25, 2, 8, 4, 2, 7, PETSC_FALSE, PETSC_FALSE, -1},
    {4, 2, 4, 2, 1, 5, PETSC_TRUE, PETSC_TRUE, -1},
  };

  for (PetscInt k = 0; k < 6; k++) {
    const RingCase *c = &cases[k];
    PetscInt        start = 0, n = 0, np;
    PetscReal      *x, *w, *lambda, diff;
    WLMPotential    gather, ring;
    RingOutputs     og, orr;

    Share(c, &start, &n);
    WLMTestCall(PetscMalloc3(c->N * c->dim, &x, c->N, &w, c->N * c->dim, &lambda));
    WLMTestCall(WLMTestRandomArray(500 + k, c->N * c->dim, 1.0, x));
    WLMTestCall(WLMTestRandomArray(510 + k, c->N * c->dim, 1.0, lambda));
    for (PetscInt i = 0; i < c->N; i++) w[i] = (1.0 + (i * 7) % 5) / c->N;
    WLMTestCall(CreateSharded(c, WLM_POTENTIAL_EXCHANGE_GATHER, &gather));
    WLMTestCall(CreateSharded(c, WLM_POTENTIAL_EXCHANGE_RING, &ring));
    WLMTestCall(WLMPotentialGetNumParameters(ring, &np));
    WLMTestCall(Evaluate(gather, 0.3, n, c->dim, np, x + start * c->dim, c->masses ? w + start : NULL, lambda + start * c->dim, &og));
    WLMTestCall(Evaluate(ring, 0.3, n, c->dim, np, x + start * c->dim, c->masses ? w + start : NULL, lambda + start * c->dim, &orr));
    WLMTestCall(OutputsDifference(n * c->dim, np, &og, &orr, &diff));
    ck_assert_msg(diff < 1e-11, "case %d (N %d, single-particle rank %d): ring and gather differ by %g", (int)k, (int)c->N, (int)c->single, (double)diff);
    WLMTestCall(FreeOutputs(&og));
    WLMTestCall(FreeOutputs(&orr));
    WLMTestCall(WLMPotentialDestroy(&gather));
    WLMTestCall(WLMPotentialDestroy(&ring));
    WLMTestCall(PetscFree3(x, w, lambda));
  }
}
END_TEST

static PetscReal GlobalDot(PetscInt n, const PetscReal *a, const PetscReal *b)
{
  PetscReal s = 0;

  for (PetscInt i = 0; i < n; i++) s += a[i] * b[i];
  ck_assert_int_eq(MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD), MPI_SUCCESS);
  return s;
}

static PetscErrorCode SumOverRanks(PetscInt n, PetscReal *a)
{
  PetscFunctionBeginUser;
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, a, n, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(0);
}

/* Central differences with step 1e-5 of U along delta, of F along lambda, and of U and lambda . F along eta, on the sharded model. */
START_TEST(test_attention_ring_derivatives)
{
  const RingCase c = {11, 2, 6, 2, 2, 8, PETSC_TRUE, PETSC_TRUE, 1};
  const PetscReal h = 1e-5, t = 0.7;
  PetscInt        start = 0, n = 0, np, nx;
  PetscReal      *x, *w, *delta, *lambda, *xs, *F, *Fp, *Fm, *G, *T, *P, *theta, *eta, *ths;
  PetscReal       Up, Um, an, fd, num = 0, den = 0;
  WLMPotential    pot;

  Share(&c, &start, &n);
  nx = n * c.dim;
  WLMTestCall(CreateSharded(&c, WLM_POTENTIAL_EXCHANGE_RING, &pot));
  WLMTestCall(WLMPotentialGetNumParameters(pot, &np));
  WLMTestCall(PetscMalloc6(c.N * c.dim, &x, c.N, &w, c.N * c.dim, &delta, c.N * c.dim, &lambda, nx + 1, &xs, nx + 1, &F));
  WLMTestCall(PetscMalloc3(nx + 1, &Fp, nx + 1, &Fm, nx + 1, &G));
  WLMTestCall(PetscCalloc5(np, &T, np, &P, np, &theta, np, &eta, np, &ths));
  WLMTestCall(WLMTestRandomArray(601, c.N * c.dim, 1.0, x));
  WLMTestCall(WLMTestRandomArray(602, c.N * c.dim, 1.0, delta));
  WLMTestCall(WLMTestRandomArray(603, c.N * c.dim, 1.0, lambda));
  WLMTestCall(WLMTestRandomArray(604, np, 1.0, eta));
  for (PetscInt i = 0; i < c.N; i++) w[i] = 0.3 + 0.1 * (i % 4);
  x += start * c.dim, w += start, delta += start * c.dim, lambda += start * c.dim;

  /* forces against the energy along delta */
  WLMTestCall(WLMPotentialComputeForces(pot, t, n, x, w, NULL, F));
  for (PetscInt i = 0; i < nx; i++) xs[i] = x[i] + h * delta[i];
  WLMTestCall(WLMPotentialComputeEnergy(pot, t, n, xs, w, &Up));
  for (PetscInt i = 0; i < nx; i++) xs[i] = x[i] - h * delta[i];
  WLMTestCall(WLMPotentialComputeEnergy(pot, t, n, xs, w, &Um));
  an = GlobalDot(nx, F, delta);
  fd = -(Up - Um) / (2 * h);
  ck_assert_msg(PetscAbsReal(an - fd) < 1e-6 * PetscSqrtReal(GlobalDot(nx, F, F) * GlobalDot(nx, delta, delta)), "force error: %g against %g", (double)an, (double)fd);

  /* state product against differences of the forces along lambda */
  WLMTestCall(WLMPotentialComputeProducts(pot, t, n, x, w, lambda, G, T));
  for (PetscInt i = 0; i < nx; i++) xs[i] = x[i] + h * lambda[i];
  WLMTestCall(WLMPotentialComputeForces(pot, t, n, xs, w, NULL, Fp));
  for (PetscInt i = 0; i < nx; i++) xs[i] = x[i] - h * lambda[i];
  WLMTestCall(WLMPotentialComputeForces(pot, t, n, xs, w, NULL, Fm));
  for (PetscInt i = 0; i < nx; i++) Fp[i] = (Fp[i] - Fm[i]) / (2 * h) - G[i];
  num = GlobalDot(nx, Fp, Fp);
  den = GlobalDot(nx, G, G);
  ck_assert_msg(PetscSqrtReal(num / den) < 1e-6, "state product error %g", (double)PetscSqrtReal(num / den));

  /* parameter product and parameter gradient against differences along eta */
  WLMTestCall(WLMPotentialComputeParameterGradient(pot, t, n, x, w, NULL, P));
  WLMTestCall(SumOverRanks(np, T));
  WLMTestCall(SumOverRanks(np, P));
  WLMTestCall(WLMPotentialGetParameters(pot, theta));
  for (PetscInt s = 0; s < 2; s++) {
    for (PetscInt k = 0; k < np; k++) ths[k] = theta[k] + (s ? -h : h) * eta[k];
    WLMTestCall(WLMPotentialSetParameters(pot, ths));
    WLMTestCall(WLMPotentialComputeForces(pot, t, n, x, w, s ? &Um : &Up, s ? Fm : Fp));
  }
  WLMTestCall(WLMPotentialSetParameters(pot, theta));
  an = 0;
  for (PetscInt k = 0; k < np; k++) an += T[k] * eta[k];
  fd = (GlobalDot(nx, lambda, Fp) - GlobalDot(nx, lambda, Fm)) / (2 * h);
  ck_assert_msg(PetscAbsReal(an - fd) < 1e-6 * PetscMax(PetscAbsReal(an), 1e-3), "parameter product %g against %g", (double)an, (double)fd);
  an = 0;
  for (PetscInt k = 0; k < np; k++) an += P[k] * eta[k];
  fd = (Up - Um) / (2 * h);
  ck_assert_msg(PetscAbsReal(an - fd) < 1e-6 * PetscMax(PetscAbsReal(an), 1e-3), "parameter gradient %g against %g", (double)an, (double)fd);

  x -= start * c.dim, w -= start, delta -= start * c.dim, lambda -= start * c.dim;
  WLMTestCall(PetscFree6(x, w, delta, lambda, xs, F));
  WLMTestCall(PetscFree3(Fp, Fm, G));
  WLMTestCall(PetscFree5(T, P, theta, eta, ths));
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

/*
   One model that alternates between the exchanges while the population
   grows, so that the workspace is reallocated between ring and gather
   calls, gives the results of a model that always gathers.
*/
START_TEST(test_attention_ring_switch)
{
  const PetscInt             sizes[3] = {7, 40, 23};
  const WLMPotentialExchange order[3] = {WLM_POTENTIAL_EXCHANGE_RING, WLM_POTENTIAL_EXCHANGE_GATHER, WLM_POTENTIAL_EXCHANGE_RING};
  RingCase                   c        = {7, 2, 6, 3, 2, 5, PETSC_TRUE, PETSC_TRUE, 0};
  PetscReal                  x[80], w[40], lambda[80], diff;
  PetscInt                   np;
  WLMPotential               pot, reference;

  WLMTestCall(CreateSharded(&c, WLM_POTENTIAL_EXCHANGE_RING, &pot));
  WLMTestCall(CreateSharded(&c, WLM_POTENTIAL_EXCHANGE_GATHER, &reference));
  WLMTestCall(WLMPotentialGetNumParameters(pot, &np));
  WLMTestCall(WLMTestRandomArray(801, 80, 1.0, x));
  WLMTestCall(WLMTestRandomArray(802, 80, 1.0, lambda));
  for (PetscInt i = 0; i < 40; i++) w[i] = 0.1 + 0.05 * (i % 3);
  for (PetscInt k = 0; k < 3; k++) {
    PetscInt    start = 0, n = 0;
    RingOutputs a, b;

    c.N = sizes[k];
    Share(&c, &start, &n);
    WLMTestCall(WLMPotentialSetExchange(pot, order[k], PETSC_DEFAULT));
    WLMTestCall(Evaluate(reference, 0.5, n, 2, np, x + 2 * start, w + start, lambda + 2 * start, &a));
    WLMTestCall(Evaluate(pot, 0.5, n, 2, np, x + 2 * start, w + start, lambda + 2 * start, &b));
    WLMTestCall(OutputsDifference(2 * n, np, &a, &b, &diff));
    ck_assert_msg(diff < 1e-11, "call %d (N %d): the switched model differs from the gather by %g", (int)k, (int)c.N, (double)diff);
    WLMTestCall(FreeOutputs(&a));
    WLMTestCall(FreeOutputs(&b));
  }
  WLMTestCall(WLMPotentialDestroy(&pot));
  WLMTestCall(WLMPotentialDestroy(&reference));
}
END_TEST

/* A zero mass on one rank fails on every rank with a message that names the particle. */
START_TEST(test_attention_ring_bad_mass)
{
  const RingCase c = {7, 2, 4, 2, 1, 4, PETSC_FALSE, PETSC_TRUE, 0};
  PetscInt       start = 0, n = 0;
  PetscReal      x[14], w[7], U;
  WLMPotential   pot;

  Share(&c, &start, &n);
  WLMTestCall(WLMTestRandomArray(701, 14, 1.0, x));
  for (PetscInt i = 0; i < 7; i++) w[i] = i == 5 ? 0.0 : 0.2;
  WLMTestCall(CreateSharded(&c, WLM_POTENTIAL_EXCHANGE_RING, &pot));
  WLMTestExpectError(WLMPotentialComputeEnergy(pot, 0.0, n, x + 2 * start, w + start, &U), PETSC_ERR_ARG_OUTOFRANGE, "particle 5");
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("potential_attention_ring");
  TCase *tc = tcase_create("ring");

  tcase_add_test(tc, test_attention_ring_equals_gather);
  tcase_add_test(tc, test_attention_ring_derivatives);
  tcase_add_test(tc, test_attention_ring_switch);
  tcase_add_test(tc, test_attention_ring_bad_mass);
  suite_add_tcase(s, tc);
  return s;
}
