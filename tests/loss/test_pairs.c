/*
   Tiled pair sums (src/loss/pairs.c) against direct double loops with libm's
   exp, for every kernel, for cross and self passes larger than one column
   block, on any number of ranks and threads; and the maximum-shifted sums of
   WLMLossPairLogSumExact() against the logarithms of the direct sums.
*/
#include "wlmtest.h"
#include <wlm/private/lossimpl.h>
#include <wlm/wlmsys.h>

#define NR  70  /* rows: not a multiple of the row block */
#define NC  300 /* columns: more than one column block of 256 */
#define DIM 3

typedef struct {
  PetscReal rt[DIM * NR], ct[DIM * NC]; /* transposed coordinates */
  PetscReal F[NR], G[NC], u[NR], w[NC];
} PairData;

static void FillData(PairData *d)
{
  WLMRandom r;

  WLMRandomSeed(&r, 5, 0);
  for (PetscInt i = 0; i < DIM * NR; i++) d->rt[i] = WLMRandomNormal(&r);
  for (PetscInt j = 0; j < DIM * NC; j++) d->ct[j] = 0.8 * WLMRandomNormal(&r) + 0.3;
  for (PetscInt i = 0; i < NR; i++) d->F[i] = 0.5 * WLMRandomNormal(&r);
  for (PetscInt j = 0; j < NC; j++) d->G[j] = 0.5 * WLMRandomNormal(&r);
  for (PetscInt i = 0; i < NR; i++) d->u[i] = 0.1 + WLMRandomUniform(&r);
  for (PetscInt j = 0; j < NC; j++) d->w[j] = 0.1 + WLMRandomUniform(&r);
}

/* e and h of one pair by the formulas of wlm/private/lossimpl.h, with libm. */
static void PairDirect(WLMPairKernel kernel, PetscReal scale, PetscReal F, PetscReal G, PetscReal c, PetscReal *e, PetscReal *h)
{
  const PetscReal d = sqrt(c);

  switch (kernel) {
  case WLM_PAIR_SINKHORN_P2:
    *e = exp(F + G + scale * c);
    *h = *e;
    break;
  case WLM_PAIR_SINKHORN_P1:
    *e = exp(F + G + scale * d);
    *h = d > 0 ? *e / d : 0;
    break;
  case WLM_PAIR_GAUSSIAN:
    *e = exp(scale * c);
    *h = *e;
    break;
  case WLM_PAIR_DISTANCE:
    *e = d;
    *h = d > 0 ? 1 / d : 0;
    break;
  }
}

static PetscReal SquaredDistance(const PetscReal *at, PetscInt na, PetscInt i, const PetscReal *bt, PetscInt nb, PetscInt j)
{
  PetscReal c = 0;

  for (PetscInt k = 0; k < DIM; k++) c += (at[k * na + i] - bt[k * nb + j]) * (at[k * na + i] - bt[k * nb + j]);
  return c;
}

/* Largest relative difference of the sums of a pass from direct loops; a self pass is checked without its diagonal. */
static PetscReal PassError(const WLMLossPairPass *pp)
{
  PetscReal err = 0;

  for (PetscInt i = 0; i < pp->nrow; i++) {
    PetscReal sum = 0, grad[DIM + 1] = {0};

    for (PetscInt j = 0; j < pp->ncol; j++) {
      PetscReal e, h;

      if (pp->self && j == i) continue;
      PairDirect(pp->kernel, pp->scale, pp->rowpot ? pp->rowpot[i] : 0, pp->colpot ? pp->colpot[j] : 0, SquaredDistance(pp->rowt, pp->nrow, i, pp->colt, pp->ncol, j), &e, &h);
      sum += pp->colw[j] * e;
      grad[0] += pp->colw[j] * h;
      for (PetscInt k = 0; k < DIM; k++) grad[1 + k] += pp->colw[j] * h * pp->colt[k * pp->ncol + j];
    }
    err = PetscMax(err, WLMTestRelativeError(pp->rowsum[i], sum, 1e-300));
    for (PetscInt k = 0; pp->grad && k <= DIM; k++) err = PetscMax(err, WLMTestRelativeError(pp->grad[k * pp->nrow + i], grad[k], 1e-12 * PetscAbsReal(grad[0])));
  }
  for (PetscInt j = 0; !pp->self && pp->columns && j < pp->ncol; j++) {
    PetscReal sum = 0;

    for (PetscInt i = 0; i < pp->nrow; i++) {
      PetscReal e, h;

      PairDirect(pp->kernel, pp->scale, pp->rowpot ? pp->rowpot[i] : 0, pp->colpot ? pp->colpot[j] : 0, SquaredDistance(pp->rowt, pp->nrow, i, pp->colt, pp->ncol, j), &e, &h);
      sum += pp->roww[i] * e;
    }
    err = PetscMax(err, WLMTestRelativeError(pp->colsum[j], sum, 1e-300));
  }
  return err;
}

/* A loss whose workspace the pair sums can use: the sums need only the dimension and the communicator. */
static PetscErrorCode CreatePairLoss(WLMLoss *loss)
{
  PetscFunctionBeginUser;
  PetscCall(WLMLossCreate(PETSC_COMM_WORLD, loss));
  PetscCall(WLMLossSetDimension(*loss, DIM));
  PetscCall(WLMLossSetUp(*loss));
  (*loss)->clouds.dim = DIM;
  PetscFunctionReturn(0);
}

static void SetPass(WLMLossPairPass *pp, const PairData *d, WLMPairKernel kernel, PetscBool self)
{
  PetscMemzero(pp, sizeof(*pp));
  pp->kernel   = kernel;
  pp->scale    = kernel == WLM_PAIR_SINKHORN_P1 ? -1.0 / 0.7 : -0.5 / 0.7;
  pp->self     = self;
  pp->columns  = PETSC_TRUE;
  pp->gradient = PETSC_TRUE;
  pp->nrow     = NR;
  pp->rowt     = d->rt;
  pp->rowpot   = d->F;
  pp->roww     = d->u;
  pp->ncol     = self ? NR : NC;
  pp->colt     = self ? d->rt : d->ct;
  pp->colpot   = self ? d->F : d->G;
  pp->colw     = self ? d->u : d->w;
}

START_TEST(test_pairs_direct)
{
  static PairData     d;
  const WLMPairKernel kernels[4] = {WLM_PAIR_SINKHORN_P1, WLM_PAIR_SINKHORN_P2, WLM_PAIR_GAUSSIAN, WLM_PAIR_DISTANCE};
  WLMLoss             loss;

  FillData(&d);
  WLMTestCall(CreatePairLoss(&loss));
  for (PetscInt kk = 0; kk < 4; kk++) {
    WLMLossPairPass pass[2];

    SetPass(&pass[0], &d, kernels[kk], PETSC_FALSE);
    SetPass(&pass[1], &d, kernels[kk], PETSC_TRUE);
    WLMTestCall(WLMLossPairSums(loss, 2, pass));
    for (PetscInt p = 0; p < 2; p++) {
      const PetscReal err = PassError(&pass[p]);

      ck_assert_msg(err < 1e-13, "kernel %" PetscInt_FMT ", %s pass: sums differ from direct loops by %g (relative)", kk, p ? "self" : "cross", (double)err);
    }
  }
  WLMTestCall(WLMLossDestroy(&loss));
}
END_TEST

/* The maximum-shifted sums equal the logarithms of the direct sums, with the diagonal for a self pass. */
START_TEST(test_pairs_exact_log_sums)
{
  static PairData d;
  WLMLoss         loss;

  FillData(&d);
  WLMTestCall(CreatePairLoss(&loss));
  for (PetscInt kk = 0; kk < 2; kk++) {
    const WLMPairKernel kernel = kk ? WLM_PAIR_SINKHORN_P2 : WLM_PAIR_SINKHORN_P1;
    WLMLossPairPass     pass[2];

    SetPass(&pass[0], &d, kernel, PETSC_FALSE);
    SetPass(&pass[1], &d, kernel, PETSC_TRUE);
    WLMTestCall(WLMLossPairSums(loss, 2, pass));
    for (PetscInt p = 0; p < 2; p++) {
      const WLMLossPairPass *pp = &pass[p];

      for (PetscInt i = 0; i < NR; i++) {
        const PetscReal diag = p ? d.u[i] * exp(2 * d.F[i]) : 0;
        const PetscReal sum  = pp->rowsum[i] + diag;
        PetscReal       logsum, norm[DIM + 1];

        WLMLossPairLogSumExact(pp, DIM, PETSC_FALSE, i, &logsum, norm);
        ck_assert_msg(PetscAbsReal(logsum - log(sum)) < 1e-13, "kernel %" PetscInt_FMT ", pass %" PetscInt_FMT ", row %" PetscInt_FMT ": shifted log-sum %.16g, direct %.16g", kk, p, i, (double)logsum, (double)log(sum));
        for (PetscInt k = 0; k <= DIM; k++) {
          /* the diagonal pair adds w_i h_ii x_i, which is 0 for p = 1 and w_i e_ii x_i for p = 2 */
          const PetscReal xk     = k ? d.rt[(k - 1) * NR + i] : 1;
          const PetscReal direct = (pp->grad[k * NR + i] + (kernel == WLM_PAIR_SINKHORN_P2 ? diag * xk : 0)) / sum;

          ck_assert_msg(WLMTestRelativeError(norm[k], direct, 1e-12) < 1e-12, "kernel %" PetscInt_FMT ", pass %" PetscInt_FMT ", row %" PetscInt_FMT ", gradient sum %" PetscInt_FMT ": %.16g vs %.16g", kk, p, i, k, (double)norm[k], (double)direct);
        }
      }
    }
    for (PetscInt j = 0; j < NC; j++) {
      PetscReal logsum;

      WLMLossPairLogSumExact(&pass[0], DIM, PETSC_TRUE, j, &logsum, NULL);
      ck_assert_msg(PetscAbsReal(logsum - log(pass[0].colsum[j])) < 1e-13, "kernel %" PetscInt_FMT ", column %" PetscInt_FMT ": shifted log-sum %.16g, direct %.16g", kk, j, (double)logsum, (double)log(pass[0].colsum[j]));
    }
  }
  WLMTestCall(WLMLossDestroy(&loss));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("loss_pairs");
  TCase *tc = tcase_create("pairs");

  tcase_add_test(tc, test_pairs_direct);
  tcase_add_test(tc, test_pairs_exact_log_sums);
  suite_add_tcase(s, tc);
  return s;
}
