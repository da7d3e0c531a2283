/*
   Ring exchange of the meanfield potential (-wlm_potential_exchange ring)
   against the gathered exchange on the same communicator.  Energy, forces,
   both products and the parameter gradient agree to summation order, for
   all pairs and for random batches.  The cases cover uneven shares (a rank
   with no particle, a rank with one), both pair inputs, the cutoff, the
   time input and non-uniform masses.  One finite-difference check runs in ring mode.
   On one rank the ring is never used, so the program runs on 2, 3 and 4.
*/
#include "wlmtest.h"
#include "potentialcheck.h"
#include <wlm/wlmpotential.h>
#include <wlm/wlmsys.h>

typedef struct {
  PetscBool    time_input, external;
  WLMPairInput input;
  PetscReal    cutoff;
  PetscInt     batch;
} RingConfig;

/* A small meanfield model in 3 dimensions on PETSC_COMM_WORLD with the given exchange. */
static PetscErrorCode CreateRingModel(const RingConfig *c, WLMPotentialExchange exchange, WLMPotential *pot)
{
  const PetscInt hidden[1] = {5}, pair_hidden[2] = {7, 4};

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate(PETSC_COMM_WORLD, pot));
  PetscCall(WLMPotentialSetType(*pot, WLMPOTENTIALMEANFIELD));
  PetscCall(WLMPotentialSetDimension(*pot, 3));
  PetscCall(WLMPotentialSetTimeInput(*pot, c->time_input));
  PetscCall(WLMPotentialSetHidden(*pot, 1, hidden));
  PetscCall(WLMPotentialMeanfieldSetExternal(*pot, c->external));
  PetscCall(WLMPotentialMeanfieldSetPairHidden(*pot, 2, pair_hidden));
  PetscCall(WLMPotentialMeanfieldSetPairActivation(*pot, WLM_ACTIVATION_TANH));
  PetscCall(WLMPotentialMeanfieldSetPairInput(*pot, c->input));
  PetscCall(WLMPotentialMeanfieldSetCutoff(*pot, c->cutoff));
  PetscCall(WLMPotentialMeanfieldSetBatch(*pot, c->batch));
  PetscCall(WLMPotentialSetExchange(*pot, exchange, PETSC_DEFAULT));
  PetscCall(WLMPotentialSetUp(*pot));
  PetscCall(WLMPotentialInitializeParameters(*pot, 23));
  PetscCall(WLMPotentialMeanfieldSetBatchSeed(*pot, 41));
  PetscFunctionReturn(0);
}

/* Particles of rank q out of N over size ranks: m shared evenly over the ranks from first on. */
static PetscInt EvenShare(PetscInt m, PetscInt first, PetscInt size, PetscInt q)
{
  const PetscInt k = size - first, r = q - first;

  return (m * (r + 1)) / k - (m * r) / k;
}

/*
   This rank's first particle and count out of N in a layout: 0 even shares;
   1 rank 0 empty, and with 3 or more ranks one particle on rank 1; 2 one
   particle on rank 0.  The remaining particles are shared evenly.
*/
static void Share(PetscInt layout, PetscInt N, PetscInt *start, PetscInt *n)
{
  const PetscInt size = wlm_test_size;
  PetscInt       count[8], first = 0;

  for (PetscInt q = 0; q < size; q++) {
    if (layout == 0) count[q] = EvenShare(N, 0, size, q);
    else if (layout == 2 && q == 0) count[q] = 1;
    else if (layout == 2) count[q] = EvenShare(N - 1, 1, size, q);
    else if (q == 0) count[q] = 0;
    else if (size == 2) count[q] = N;
    else if (q == 1) count[q] = 1;
    else count[q] = EvenShare(N - 1, 2, size, q);
  }
  for (PetscInt q = 0; q < wlm_test_rank; q++) first += count[q];
  *start = first;
  *n     = count[wlm_test_rank];
}

/* max over the ranks of max_i |a_i - b_i|, divided by the max over the ranks of max_i |a_i| */
static PetscErrorCode ScaledDifference(PetscInt n, const PetscReal *a, const PetscReal *b, PetscReal *diff)
{
  PetscReal local[2] = {0, PETSC_SMALL}, global[2];

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < n; i++) {
    local[0] = PetscMax(local[0], PetscAbsReal(a[i] - b[i]));
    local[1] = PetscMax(local[1], PetscAbsReal(a[i]));
  }
  PetscCall(MPIU_Allreduce(local, global, 2, MPIU_REAL, MPIU_MAX, PETSC_COMM_WORLD));
  *diff = global[0] / global[1];
  PetscFunctionReturn(0);
}

/* Outputs of every call kind of one model on this rank's particles; gradients summed over the ranks. */
typedef struct {
  PetscReal U, UF, UP, UG; /* energy from the energy, forces, combined and parameter-gradient calls */
  PetscReal *F, *FP, *gradx, *prod, *grad;
} RingOutputs;

static PetscErrorCode Evaluate(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, RingOutputs *o)
{
  PetscInt np;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialGetNumParameters(pot, &np));
  PetscCall(PetscArrayzero(o->prod, np));
  PetscCall(PetscArrayzero(o->grad, np));
  PetscCall(WLMPotentialComputeEnergy(pot, t, n, x, w, &o->U));
  PetscCall(WLMPotentialComputeForces(pot, t, n, x, w, &o->UF, o->F));
  PetscCall(WLMPotentialComputeForcesAndProducts(pot, t, n, x, w, lambda, &o->UP, o->FP, o->gradx, o->prod));
  PetscCall(WLMPotentialComputeParameterGradient(pot, t, n, x, w, &o->UG, o->grad));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, o->prod, np, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, o->grad, np, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(0);
}

/* Largest relative differences between ring and gather, per output. */
typedef struct {
  PetscReal energy, forces, state, parameters, gradient;
} RingDifferences;

/*
   Evaluates a configuration with both exchanges on N particles in a layout
   (see Share()), with masses when masses is true, and returns the largest
   relative differences.
*/
static PetscErrorCode RingVersusGather(const RingConfig *c, PetscInt N, PetscInt layout, PetscBool masses, uint64_t seed, RingDifferences *d)
{
  const PetscInt dim = 3;
  WLMPotential   ring, gather;
  RingOutputs    o[2];
  PetscReal     *x, *w, *lambda, diff;
  const PetscReal *xs, *ws, *ls;
  PetscInt       start, n, np;

  PetscFunctionBeginUser;
  PetscCall(CreateRingModel(c, WLM_POTENTIAL_EXCHANGE_RING, &ring));
  PetscCall(CreateRingModel(c, WLM_POTENTIAL_EXCHANGE_GATHER, &gather));
  PetscCall(WLMPotentialGetNumParameters(ring, &np));
  PetscCall(PetscMalloc3(N * dim, &x, N, &w, N * dim, &lambda));
  PetscCall(WLMTestRandomArray(seed, N * dim, 1.0, x));
  PetscCall(WLMTestRandomArray(seed + 1, N * dim, 1.0, lambda));
  for (PetscInt i = 0; i < N; i++) w[i] = 0.5 + 1.0 / (i + 2);
  Share(layout, N, &start, &n);
  for (PetscInt k = 0; k < 2; k++) PetscCall(PetscMalloc5(n * dim, &o[k].F, n * dim, &o[k].FP, n * dim, &o[k].gradx, np, &o[k].prod, np, &o[k].grad));
  /* a rank without particles passes NULL arrays, as callers with PetscMalloc'd empty shares do */
  xs  = n ? x + start * dim : NULL;
  ws  = n && masses ? w + start : NULL;
  ls  = n ? lambda + start * dim : NULL;
  PetscCall(Evaluate(ring, 0.35, n, xs, ws, ls, &o[0]));
  PetscCall(Evaluate(gather, 0.35, n, xs, ws, ls, &o[1]));

  d->energy = WLMTestRelativeError(o[0].U, o[1].U, PETSC_SMALL);
  d->energy = PetscMax(d->energy, WLMTestRelativeError(o[0].UF, o[1].UF, PETSC_SMALL));
  d->energy = PetscMax(d->energy, WLMTestRelativeError(o[0].UP, o[1].UP, PETSC_SMALL));
  d->energy = PetscMax(d->energy, WLMTestRelativeError(o[0].UG, o[1].UG, PETSC_SMALL));
  PetscCall(ScaledDifference(n * dim, o[1].F, o[0].F, &d->forces));
  PetscCall(ScaledDifference(n * dim, o[1].FP, o[0].FP, &diff));
  d->forces = PetscMax(d->forces, diff);
  PetscCall(ScaledDifference(n * dim, o[1].gradx, o[0].gradx, &d->state));
  PetscCall(ScaledDifference(np, o[1].prod, o[0].prod, &d->parameters));
  PetscCall(ScaledDifference(np, o[1].grad, o[0].grad, &d->gradient));

  for (PetscInt k = 0; k < 2; k++) PetscCall(PetscFree5(o[k].F, o[k].FP, o[k].gradx, o[k].prod, o[k].grad));
  PetscCall(PetscFree3(x, w, lambda));
  PetscCall(WLMPotentialDestroy(&ring));
  PetscCall(WLMPotentialDestroy(&gather));
  PetscFunctionReturn(0);
}

static void CheckDifferences(const char *group, PetscInt cs, const RingDifferences *d)
{
  ck_assert_msg(d->energy < 1e-12, "%s case %d: ring and gather energies differ by %g", group, (int)cs, (double)d->energy);
  ck_assert_msg(d->forces < 1e-12, "%s case %d: ring and gather forces differ by %g", group, (int)cs, (double)d->forces);
  ck_assert_msg(d->state < 1e-12, "%s case %d: ring and gather state products differ by %g", group, (int)cs, (double)d->state);
  ck_assert_msg(d->parameters < 1e-12, "%s case %d: ring and gather parameter products differ by %g", group, (int)cs, (double)d->parameters);
  ck_assert_msg(d->gradient < 1e-12, "%s case %d: ring and gather parameter gradients differ by %g", group, (int)cs, (double)d->gradient);
}

/* All pairs: each configuration on each layout, with masses and uniform; N odd and even. */
START_TEST(test_ring_all_pairs)
{
  const RingConfig configs[4] = {
    {PETSC_FALSE, PETSC_TRUE,  WLM_PAIR_INPUT_DISTANCE2,  0.0, 0},
    {PETSC_TRUE,  PETSC_TRUE,  WLM_PAIR_INPUT_DIFFERENCE, 1.6, 0},
    {PETSC_TRUE,  PETSC_FALSE, WLM_PAIR_INPUT_DISTANCE2,  1.6, 0},
    {PETSC_FALSE, PETSC_FALSE, WLM_PAIR_INPUT_DIFFERENCE, 0.0, 0},
  };
  PetscInt cs = 0;

  for (PetscInt k = 0; k < 4; k++) {
    for (PetscInt layout = 0; layout < 3; layout++) {
      for (PetscInt masses = 0; masses < 2; masses++, cs++) {
        const PetscInt  N = 17 + (cs % 2);
        RingDifferences d;

        WLMTestCall(RingVersusGather(&configs[k], N, layout, (PetscBool)masses, 100 + cs, &d));
        CheckDifferences("all pairs", cs, &d);
      }
    }
  }
}
END_TEST

/* 97 particles: the ranks with many particles fill several tiles inside each round. */
START_TEST(test_ring_many_tiles)
{
  const RingConfig c = {PETSC_TRUE, PETSC_TRUE, WLM_PAIR_INPUT_DIFFERENCE, 0.0, 0};
  RingDifferences  d;

  WLMTestCall(RingVersusGather(&c, 97, 2, PETSC_TRUE, 300, &d));
  CheckDifferences("many tiles", 0, &d);
}
END_TEST

/* Random batches routed to their owners: K of 2, 3 and 5 (last batch smaller), on each layout. */
START_TEST(test_ring_batches)
{
  PetscInt cs = 0;

  for (PetscInt K = 2; K <= 5; K += K == 3 ? 2 : 1) {
    for (PetscInt layout = 0; layout < 3; layout++, cs++) {
      const RingConfig c = {(PetscBool)(cs % 2), PETSC_TRUE, (WLMPairInput)(cs % 2), cs % 3 ? 0.0 : 1.6, K};
      RingDifferences  d;

      WLMTestCall(RingVersusGather(&c, 23, layout, (PetscBool)(cs % 2 == 0), 400 + cs, &d));
      CheckDifferences("batches", cs, &d);
    }
  }
}
END_TEST

/* Ranks with particles must agree on passing masses; the error names the counts, on both exchanges. */
START_TEST(test_ring_mixed_masses)
{
  const RingConfig c = {PETSC_FALSE, PETSC_TRUE, WLM_PAIR_INPUT_DISTANCE2, 0.0, 0};
  PetscReal        x[6] = {0.1, 0.2, 0.3, -0.4, 0.5, 0.6}, w[2] = {0.5, 0.5}, F[6], U;

  for (PetscInt e = 0; e < 2; e++) {
    WLMPotential pot;

    WLMTestCall(CreateRingModel(&c, e ? WLM_POTENTIAL_EXCHANGE_RING : WLM_POTENTIAL_EXCHANGE_GATHER, &pot));
    WLMTestExpectError(WLMPotentialComputeForces(pot, 0.0, 2, x, wlm_test_rank == 0 ? NULL : w, &U, F), PETSC_ERR_ARG_NULL, "pass masses on every rank or on none");
    WLMTestCall(WLMPotentialDestroy(&pot));
  }
}
END_TEST

/* An impossible ring threshold is rejected by the setter and by the option, with the value and the fix. */
START_TEST(test_ring_threshold_errors)
{
  WLMPotential         pot;
  WLMPotentialExchange exchange;
  PetscInt             ring_min;

  WLMTestCall(WLMPotentialCreate(PETSC_COMM_WORLD, &pot));
  WLMTestExpectError(WLMPotentialSetExchange(pot, WLM_POTENTIAL_EXCHANGE_AUTO, 0), PETSC_ERR_ARG_OUTOFRANGE, "-wlm_potential_ring_min 0 is invalid; give a particle count of at least 1");
  WLMTestCall(WLMPotentialSetExchange(pot, WLM_POTENTIAL_EXCHANGE_RING, PETSC_DEFAULT));
  WLMTestCall(WLMPotentialGetExchange(pot, &exchange, &ring_min));
  ck_assert_int_eq(exchange, WLM_POTENTIAL_EXCHANGE_RING);
  ck_assert_int_eq(ring_min, 200000);
  WLMTestCall(PetscOptionsSetValue(NULL, "-wlm_potential_ring_min", "-3"));
  WLMTestExpectError(WLMPotentialSetFromOptions(pot), PETSC_ERR_ARG_OUTOFRANGE, "-wlm_potential_ring_min -3 is invalid");
  WLMTestCall(PetscOptionsClearValue(NULL, "-wlm_potential_ring_min"));
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

static PetscReal GlobalDot(PetscInt n, const PetscReal *a, const PetscReal *b)
{
  PetscReal s = 0, global = 0;

  for (PetscInt i = 0; i < n; i++) s += a[i] * b[i];
  (void)MPI_Allreduce(&s, &global, 1, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD);
  return global;
}

/*
   Finite differences in ring mode on uneven shares: the forces against the
   energy along delta, the state product against the forces along lambda and
   the parameter gradient against the energy along eta.
*/
START_TEST(test_ring_finite_differences)
{
  const RingConfig c = {PETSC_TRUE, PETSC_TRUE, WLM_PAIR_INPUT_DIFFERENCE, 1.6, 0};
  const PetscInt   N = 15, dim = 3;
  const PetscReal  t = 0.35, step = 1e-5;
  WLMPotential     pot;
  PetscReal        x[45], w[15], delta[45], lambda[45], xs[45], F[45], Fp[45], Fm[45], gradx[45];
  PetscReal       *theta, *thetas, *eta, *gradtheta, Up, Um, fd, an, err;
  PetscInt         start, n, np;

  WLMTestCall(CreateRingModel(&c, WLM_POTENTIAL_EXCHANGE_RING, &pot));
  WLMTestCall(WLMPotentialGetNumParameters(pot, &np));
  WLMTestCall(PetscMalloc4(np, &theta, np, &thetas, np, &eta, np, &gradtheta));
  WLMTestCall(WLMTestRandomArray(500, N * dim, 1.0, x));
  WLMTestCall(WLMTestRandomArray(501, N * dim, 1.0, delta));
  WLMTestCall(WLMTestRandomArray(502, N * dim, 1.0, lambda));
  WLMTestCall(WLMTestRandomArray(503, np, 1.0, eta));
  for (PetscInt i = 0; i < N; i++) w[i] = 0.5 + 1.0 / (i + 2);
  Share(1, N, &start, &n);

  /* forces against the energy along delta */
  WLMTestCall(WLMPotentialComputeForces(pot, t, n, x + start * dim, w + start, NULL, F));
  for (PetscInt e = 0; e < n * dim; e++) xs[e] = x[start * dim + e] + step * delta[start * dim + e];
  WLMTestCall(WLMPotentialComputeEnergy(pot, t, n, xs, w + start, &Up));
  for (PetscInt e = 0; e < n * dim; e++) xs[e] = x[start * dim + e] - step * delta[start * dim + e];
  WLMTestCall(WLMPotentialComputeEnergy(pot, t, n, xs, w + start, &Um));
  fd  = -(Up - Um) / (2 * step);
  an  = GlobalDot(n * dim, F, delta + start * dim);
  err = WLMTestRelativeError(an, fd, PetscSqrtReal(GlobalDot(n * dim, F, F) * GlobalDot(n * dim, delta + start * dim, delta + start * dim)));
  ck_assert_msg(err < 1e-6, "ring forces differ from the energy differences by %g", (double)err);

  /* state product: -H lambda against the differences of the forces along lambda */
  WLMTestCall(PetscArrayzero(gradtheta, np));
  WLMTestCall(WLMPotentialComputeProducts(pot, t, n, x + start * dim, w + start, lambda + start * dim, gradx, gradtheta));
  for (PetscInt e = 0; e < n * dim; e++) xs[e] = x[start * dim + e] + step * lambda[start * dim + e];
  WLMTestCall(WLMPotentialComputeForces(pot, t, n, xs, w + start, NULL, Fp));
  for (PetscInt e = 0; e < n * dim; e++) xs[e] = x[start * dim + e] - step * lambda[start * dim + e];
  WLMTestCall(WLMPotentialComputeForces(pot, t, n, xs, w + start, NULL, Fm));
  for (PetscInt e = 0; e < n * dim; e++) Fp[e] = (Fp[e] - Fm[e]) / (2 * step) - gradx[e];
  err = PetscSqrtReal(GlobalDot(n * dim, Fp, Fp) / PetscMax(GlobalDot(n * dim, gradx, gradx), PETSC_SMALL));
  ck_assert_msg(err < 1e-6, "ring state product differs from the force differences by %g", (double)err);

  /* parameter gradient against the energy along eta */
  WLMTestCall(PetscArrayzero(gradtheta, np));
  WLMTestCall(WLMPotentialComputeParameterGradient(pot, t, n, x + start * dim, w + start, NULL, gradtheta));
  ck_assert_int_eq(MPI_Allreduce(MPI_IN_PLACE, gradtheta, (PetscMPIInt)np, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD), MPI_SUCCESS);
  WLMTestCall(WLMPotentialGetParameters(pot, theta));
  for (PetscInt k = 0; k < np; k++) thetas[k] = theta[k] + step * eta[k];
  WLMTestCall(WLMPotentialSetParameters(pot, thetas));
  WLMTestCall(WLMPotentialComputeEnergy(pot, t, n, x + start * dim, w + start, &Up));
  for (PetscInt k = 0; k < np; k++) thetas[k] = theta[k] - step * eta[k];
  WLMTestCall(WLMPotentialSetParameters(pot, thetas));
  WLMTestCall(WLMPotentialComputeEnergy(pot, t, n, x + start * dim, w + start, &Um));
  fd = (Up - Um) / (2 * step);
  an = 0;
  for (PetscInt k = 0; k < np; k++) an += gradtheta[k] * eta[k];
  err = WLMTestRelativeError(an, fd, 1e-8);
  ck_assert_msg(err < 1e-6, "ring parameter gradient differs from the energy differences by %g", (double)err);

  WLMTestCall(PetscFree4(theta, thetas, eta, gradtheta));
  WLMTestCall(WLMPotentialDestroy(&pot));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("potential_meanfield_ring");
  TCase *tc = tcase_create("meanfield_ring");

  tcase_add_test(tc, test_ring_all_pairs);
  tcase_add_test(tc, test_ring_many_tiles);
  tcase_add_test(tc, test_ring_batches);
  tcase_add_test(tc, test_ring_mixed_masses);
  tcase_add_test(tc, test_ring_threshold_errors);
  tcase_add_test(tc, test_ring_finite_differences);
  suite_add_tcase(s, tc);
  return s;
}
