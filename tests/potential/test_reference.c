/*
   All three learned potential types against PyTorch: energy, forces, both
   force-cotangent products and the parameter gradient of the energy of small
   models, compared with autograd results
   stored in fixtures/torch_reference.txt (made by
   fixtures/make_torch_reference.py from the models in
   tools/bench/potential/torch_potential.py).  The fixture path comes from
   the option -fixture.
*/
#include "wlmtest.h"
#include <wlm/wlmpotential.h>
#include <stdio.h>

#define MAX_VALUES 4096

typedef struct {
  char      type[32];
  PetscReal hyper[32], cutoff, dim, masses, t, U;
  PetscReal theta[MAX_VALUES], x[256], w[128], lambda[256], F[256], gradx[256], gradtheta[MAX_VALUES], gradU[MAX_VALUES];
  PetscInt  nhyper, ntheta, nx, nw;
} ReferenceCase;

/* Reads one record "name count values" into the case; returns 0 at the end of the file or of the case. */
static int ReadCase(FILE *f, ReferenceCase *c)
{
  char name[64];
  int  count;

  if (fscanf(f, "%63s", name) != 1) return 0;
  while (name[0] == '#') {
    int ch;

    while ((ch = fgetc(f)) != '\n' && ch != EOF) {}
    if (fscanf(f, "%63s", name) != 1) return 0;
  }
  if (strcmp(name, "case") || fscanf(f, "%31s", c->type) != 1) return 0;
  for (int field = 0; field < 14; field++) {
    PetscReal *dst;
    PetscInt  *len = NULL, cap;

    if (fscanf(f, "%63s %d", name, &count) != 2) return 0;
    if (!strcmp(name, "hyper")) dst = c->hyper, len = &c->nhyper, cap = 32;
    else if (!strcmp(name, "cutoff")) dst = &c->cutoff, cap = 1;
    else if (!strcmp(name, "dim")) dst = &c->dim, cap = 1;
    else if (!strcmp(name, "masses")) dst = &c->masses, cap = 1;
    else if (!strcmp(name, "t")) dst = &c->t, cap = 1;
    else if (!strcmp(name, "theta")) dst = c->theta, len = &c->ntheta, cap = MAX_VALUES;
    else if (!strcmp(name, "x")) dst = c->x, len = &c->nx, cap = 256;
    else if (!strcmp(name, "w")) dst = c->w, len = &c->nw, cap = 128;
    else if (!strcmp(name, "lambda")) dst = c->lambda, cap = 256;
    else if (!strcmp(name, "U")) dst = &c->U, cap = 1;
    else if (!strcmp(name, "F")) dst = c->F, cap = 256;
    else if (!strcmp(name, "gradx")) dst = c->gradx, cap = 256;
    else if (!strcmp(name, "gradtheta")) dst = c->gradtheta, cap = MAX_VALUES;
    else if (!strcmp(name, "gradU")) dst = c->gradU, cap = MAX_VALUES;
    else return 0;
    if (count > cap) return 0;
    for (int k = 0; k < count; k++) {
      if (fscanf(f, "%lf", &dst[k]) != 1) return 0;
    }
    if (len) *len = count;
  }
  return 1;
}

/* Builds the model of a case from its hyperparameters (order fixed by make_torch_reference.py). */
static PetscErrorCode CreateReferenceModel(const ReferenceCase *c, WLMPotential *pot)
{
  const PetscReal *h = c->hyper;
  PetscInt         widths[8], nw;

  PetscFunctionBeginUser;
  PetscCall(WLMPotentialCreate(PETSC_COMM_SELF, pot));
  PetscCall(WLMPotentialSetType(*pot, c->type));
  PetscCall(WLMPotentialSetDimension(*pot, (PetscInt)c->dim));
  PetscCall(WLMPotentialSetTimeInput(*pot, h[0] != 0 ? PETSC_TRUE : PETSC_FALSE));
  if (!strcmp(c->type, "attention")) {
    PetscCall(WLMPotentialAttentionSetSizes(*pot, (PetscInt)h[1], (PetscInt)h[2], (PetscInt)h[3], (PetscInt)h[4], (PetscInt)h[5]));
  } else {
    nw = (PetscInt)h[2];
    for (PetscInt l = 0; l < nw; l++) widths[l] = (PetscInt)h[3 + l];
    PetscCall(WLMPotentialSetActivation(*pot, (WLMActivation)(PetscInt)h[1]));
    PetscCall(WLMPotentialSetHidden(*pot, nw, widths));
    if (!strcmp(c->type, "meanfield")) {
      const PetscReal *p = h + 3 + nw;
      PetscInt         np = (PetscInt)p[3];

      for (PetscInt l = 0; l < np; l++) widths[l] = (PetscInt)p[4 + l];
      PetscCall(WLMPotentialMeanfieldSetExternal(*pot, p[0] != 0 ? PETSC_TRUE : PETSC_FALSE));
      PetscCall(WLMPotentialMeanfieldSetPairActivation(*pot, (WLMActivation)(PetscInt)p[1]));
      PetscCall(WLMPotentialMeanfieldSetPairInput(*pot, (WLMPairInput)(PetscInt)p[2]));
      PetscCall(WLMPotentialMeanfieldSetPairHidden(*pot, np, widths));
      PetscCall(WLMPotentialMeanfieldSetCutoff(*pot, c->cutoff));
    }
  }
  PetscCall(WLMPotentialSetUp(*pot));
  PetscFunctionReturn(0);
}

/* max_i |a_i - b_i| / max_i |b_i| */
static PetscReal ArrayError(PetscInt n, const PetscReal *a, const PetscReal *b)
{
  PetscReal diff = 0, scale = 1e-300;

  for (PetscInt i = 0; i < n; i++) {
    diff  = PetscMax(diff, PetscAbsReal(a[i] - b[i]));
    scale = PetscMax(scale, PetscAbsReal(b[i]));
  }
  return diff / scale;
}

START_TEST(test_reference_torch)
{
  static ReferenceCase c;
  char                 path[PETSC_MAX_PATH_LEN];
  PetscBool            set;
  FILE                *f;
  PetscInt             ncase = 0;

  WLMTestCall(PetscOptionsGetString(NULL, NULL, "-fixture", path, sizeof(path), &set));
  ck_assert_msg(set, "pass the fixture file with -fixture <path>");
  f = fopen(path, "r");
  ck_assert_msg(f != NULL, "cannot open the fixture %s", path);
  while (ReadCase(f, &c)) {
    const PetscInt   n = c.nw, nx = c.nx;
    const PetscReal *w = c.masses != 0 ? c.w : NULL;
    PetscReal        U, Ugrad, F[256], gradx[256], gradtheta[MAX_VALUES], gradU[MAX_VALUES];
    PetscInt         np;
    WLMPotential     pot;

    WLMTestCall(CreateReferenceModel(&c, &pot));
    WLMTestCall(WLMPotentialGetNumParameters(pot, &np));
    ck_assert_msg(np == c.ntheta, "case %d (%s): %d parameters, the fixture has %d", (int)ncase, c.type, (int)np, (int)c.ntheta);
    WLMTestCall(WLMPotentialSetParameters(pot, c.theta));
    WLMTestCall(WLMPotentialComputeForces(pot, c.t, n, c.x, w, &U, F));
    for (PetscInt k = 0; k < np; k++) gradtheta[k] = 0;
    WLMTestCall(WLMPotentialComputeProducts(pot, c.t, n, c.x, w, c.lambda, gradx, gradtheta));
    for (PetscInt k = 0; k < np; k++) gradU[k] = 0;
    WLMTestCall(WLMPotentialComputeParameterGradient(pot, c.t, n, c.x, w, &Ugrad, gradU));
    ck_assert_msg(WLMTestRelativeError(U, c.U, 1e-300) < 1e-12, "case %d (%s): U = %.17g, PyTorch gives %.17g", (int)ncase, c.type, (double)U, (double)c.U);
    ck_assert_msg(ArrayError(nx, F, c.F) < 1e-12, "case %d (%s): forces differ from PyTorch by %g relative", (int)ncase, c.type, (double)ArrayError(nx, F, c.F));
    ck_assert_msg(ArrayError(nx, gradx, c.gradx) < 1e-12, "case %d (%s): state product differs from PyTorch by %g relative", (int)ncase, c.type, (double)ArrayError(nx, gradx, c.gradx));
    ck_assert_msg(ArrayError(np, gradtheta, c.gradtheta) < 1e-12, "case %d (%s): parameter product differs from PyTorch by %g relative", (int)ncase, c.type, (double)ArrayError(np, gradtheta, c.gradtheta));
    ck_assert_msg(WLMTestRelativeError(Ugrad, c.U, 1e-300) < 1e-12, "case %d (%s): U from the gradient call = %.17g, PyTorch gives %.17g", (int)ncase, c.type, (double)Ugrad, (double)c.U);
    ck_assert_msg(ArrayError(np, gradU, c.gradU) < 1e-12, "case %d (%s): parameter gradient differs from PyTorch by %g relative", (int)ncase, c.type, (double)ArrayError(np, gradU, c.gradU));
    WLMTestCall(WLMPotentialDestroy(&pot));
    ncase++;
  }
  fclose(f);
  ck_assert_int_eq(ncase, 6);
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("potential_reference");
  TCase *tc = tcase_create("reference");

  tcase_add_test(tc, test_reference_torch);
  suite_add_tcase(s, tc);
  return s;
}
