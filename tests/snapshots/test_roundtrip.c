/*
   WLMSnapshots round trips: a set built with WLMSnapshotsAddSnapshot() is
   saved in parallel and loaded back, sharded and replicated, and every row is
   compared bitwise with the values it was built from.  Snapshot sizes are
   ragged (one snapshot has a single particle, so with 3 ranks two ranks own
   no row of it), the writer's split of the rows differs from the reader's,
   and velocities, masses and identifiers are present in some cases and absent
   in others.
*/
#include "wlmtest.h"
#include <wlm/wlmsnapshots.h>
#include <wlm/private/h5util.h>
#include <unistd.h>
#include <math.h>

#define NSNAP 5
static const PetscInt  counts[NSNAP] = {5, 1, 7, 3, 2};
static const PetscReal times[NSNAP]  = {0.0, 0.25, 1.0, 1.5, 4.0};
static const PetscInt  dim           = 3;

/* Field values as closed forms of (snapshot, row, column), identical on every rank. */
static PetscReal Position(PetscInt k, PetscInt row, PetscInt col)
{
  return PetscSinReal(1.3 * k + 0.7 * row + 0.11 * col) * (1 + row) + 1e-3 * col;
}
static PetscReal Velocity(PetscInt k, PetscInt row, PetscInt col)
{
  return PetscCosReal(0.9 * k - 0.3 * row + 0.5 * col) / 3.0;
}
static PetscReal Weight(PetscInt k, PetscInt row)
{
  return 0.5 + (row + k) % 3;
}
static PetscInt64 Identifier(PetscInt k, PetscInt row)
{
  return 1000 * (PetscInt64)k + row + 7;
}

typedef struct {
  PetscBool v, w, id;
} Fields;

/* The writer's split: the last rank takes the remainder, unlike the reader's split where the first ranks do. */
static void WriterBlock(PetscInt N, PetscInt *n, PetscInt *start)
{
  PetscInt base = N / wlm_test_size;

  *start = wlm_test_rank * base;
  *n     = wlm_test_rank == wlm_test_size - 1 ? N - *start : base;
}

/* Builds the test set; replicated sets receive all rows on every rank. */
static PetscErrorCode BuildSet(MPI_Comm comm, WLMSnapshotsDistribution dist, Fields f, WLMSnapshots *snap)
{
  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsCreate(comm, snap));
  PetscCall(WLMSnapshotsSetDistribution(*snap, dist));
  PetscCall(WLMSnapshotsSetDimension(*snap, dim));
  for (PetscInt k = 0; k < NSNAP; k++) {
    PetscInt    n, start;
    PetscReal  *x, *v, *w;
    PetscInt64 *id;

    if (dist == WLM_SNAPSHOTS_SHARDED) WriterBlock(counts[k], &n, &start);
    else {
      n     = counts[k];
      start = 0;
    }
    PetscCall(PetscMalloc4(n * dim + 1, &x, n * dim + 1, &v, n + 1, &w, n + 1, &id));
    for (PetscInt i = 0; i < n; i++) {
      for (PetscInt c = 0; c < dim; c++) {
        x[i * dim + c] = Position(k, start + i, c);
        v[i * dim + c] = Velocity(k, start + i, c);
      }
      w[i]  = Weight(k, start + i);
      id[i] = Identifier(k, start + i);
    }
    PetscCall(WLMSnapshotsAddSnapshot(*snap, times[k], n, x, f.v ? v : NULL, f.w ? w : NULL, f.id ? id : NULL));
    PetscCall(PetscFree4(x, v, w, id));
  }
  PetscCall(WLMSnapshotsSetAttribute(*snap, "source", "test_roundtrip.c"));
  PetscCall(WLMSnapshotsSetAttributeInt(*snap, "generate_seed", -42));
  PetscCall(WLMSnapshotsSetAttributeReal(*snap, "generate_dt", 0.1));
  {
    const PetscReal mean[3] = {1.0 / 3.0, -2.5, 1e300};

    PetscCall(WLMSnapshotsSetAttributeRealArray(*snap, "standardize_mean", 3, mean));
  }
  PetscFunctionReturn(0);
}

/* Compares every row held by this rank with the closed forms, bit for bit. */
static void CheckSet(WLMSnapshots snap, WLMSnapshotsDistribution dist, Fields f)
{
  PetscInt        T, d;
  PetscBool       has;
  const PetscReal *t;

  WLMTestCall(WLMSnapshotsGetNumSnapshots(snap, &T));
  WLMTestCall(WLMSnapshotsGetDimension(snap, &d));
  ck_assert_int_eq(T, NSNAP);
  ck_assert_int_eq(d, dim);
  WLMTestCall(WLMSnapshotsHasVelocity(snap, &has));
  ck_assert_int_eq(has, f.v);
  WLMTestCall(WLMSnapshotsHasWeight(snap, &has));
  ck_assert_int_eq(has, f.w);
  WLMTestCall(WLMSnapshotsHasId(snap, &has));
  ck_assert_int_eq(has, f.id);
  WLMTestCall(WLMSnapshotsGetTimes(snap, &t));
  for (PetscInt k = 0; k < NSNAP; k++) {
    WLMSnapshot s;
    PetscInt    n = counts[k], start = 0;

    WLMTestCall(WLMSnapshotsGetSnapshot(snap, k, &s));
    if (dist == WLM_SNAPSHOTS_SHARDED) {
      /* the reader's split: the first N % size ranks take one extra row */
      n     = counts[k] / wlm_test_size + (wlm_test_rank < counts[k] % wlm_test_size);
      start = wlm_test_rank * (counts[k] / wlm_test_size) + PetscMin(wlm_test_rank, counts[k] % wlm_test_size);
    }
    ck_assert_mem_eq(&t[k], &times[k], sizeof(PetscReal));
    ck_assert_mem_eq(&s.t, &times[k], sizeof(PetscReal));
    ck_assert_int_eq(s.N, counts[k]);
    ck_assert_int_eq(s.n, n);
    ck_assert_int_eq(s.start, start);
    ck_assert(f.v == (s.v != NULL));
    ck_assert(f.w == (s.w != NULL));
    ck_assert(f.id == (s.id != NULL));
    for (PetscInt i = 0; i < n; i++) {
      for (PetscInt c = 0; c < dim; c++) {
        PetscReal xe = Position(k, start + i, c), ve = Velocity(k, start + i, c);

        ck_assert_mem_eq(&s.x[i * dim + c], &xe, sizeof(PetscReal));
        if (f.v) ck_assert_mem_eq(&s.v[i * dim + c], &ve, sizeof(PetscReal));
      }
      if (f.w) {
        PetscReal we = Weight(k, start + i);

        ck_assert_mem_eq(&s.w[i], &we, sizeof(PetscReal));
      }
      if (f.id) ck_assert_int_eq(s.id[i], Identifier(k, start + i));
    }
  }
}

static void CheckAttributes(WLMSnapshots snap)
{
  const char      *text;
  PetscInt64       seed;
  PetscReal        dt;
  PetscInt         n;
  const PetscReal *mean;
  PetscBool        found;

  WLMTestCall(WLMSnapshotsGetAttribute(snap, "source", &text));
  ck_assert_str_eq(text, "test_roundtrip.c");
  WLMTestCall(WLMSnapshotsGetAttributeInt(snap, "generate_seed", &seed, &found));
  ck_assert(found);
  ck_assert_int_eq(seed, -42);
  WLMTestCall(WLMSnapshotsGetAttributeReal(snap, "generate_dt", &dt, &found));
  ck_assert(found);
  ck_assert_double_eq(dt, 0.1);
  WLMTestCall(WLMSnapshotsGetAttributeRealArray(snap, "standardize_mean", &n, &mean));
  ck_assert_int_eq(n, 3);
  ck_assert_double_eq(mean[0], 1.0 / 3.0);
  ck_assert_double_eq(mean[2], 1e300);
  WLMTestCall(WLMSnapshotsGetAttribute(snap, "absent", &text));
  ck_assert_ptr_null(text);
  WLMTestCall(WLMSnapshotsGetAttributeReal(snap, "absent", &dt, &found));
  ck_assert(!found);
}

static void FileName(const char *what, PetscInt variant, char name[], size_t len)
{
  PetscSNPrintf(name, len, "snapshots-roundtrip-%s-%" PetscInt_FMT "-np%d.h5", what, variant, wlm_test_size);
}

static const Fields variants[4] = {
  {PETSC_FALSE, PETSC_FALSE, PETSC_FALSE},
  {PETSC_TRUE,  PETSC_FALSE, PETSC_FALSE},
  {PETSC_FALSE, PETSC_TRUE,  PETSC_TRUE },
  {PETSC_TRUE,  PETSC_TRUE,  PETSC_TRUE },
};

/* Loads a file sharded and replicated and checks both against the closed forms. */
static void LoadAndCheck(const char name[], Fields f)
{
  WLMSnapshots sharded, replicated;

  WLMTestCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, &sharded));
  WLMTestCall(WLMSnapshotsLoad(sharded, name));
  CheckSet(sharded, WLM_SNAPSHOTS_SHARDED, f);
  CheckAttributes(sharded);
  WLMTestCall(WLMSnapshotsDestroy(&sharded));

  WLMTestCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, &replicated));
  WLMTestCall(WLMSnapshotsSetDistribution(replicated, WLM_SNAPSHOTS_REPLICATED));
  WLMTestCall(WLMSnapshotsLoad(replicated, name));
  CheckSet(replicated, WLM_SNAPSHOTS_REPLICATED, f);
  CheckAttributes(replicated);
  WLMTestCall(WLMSnapshotsDestroy(&replicated));
}

START_TEST(test_roundtrip_sharded)
{
  const Fields f = variants[_i];
  WLMSnapshots snap;
  char         name[PETSC_MAX_PATH_LEN], tmp[PETSC_MAX_PATH_LEN];

  FileName("sharded", _i, name, sizeof(name));
  WLMTestCall(BuildSet(PETSC_COMM_WORLD, WLM_SNAPSHOTS_SHARDED, f, &snap));
  WLMTestCall(WLMSnapshotsSave(snap, name));
  WLMTestCall(WLMFileTemporaryName(name, tmp, sizeof(tmp)));
  ck_assert_msg(access(tmp, F_OK) != 0, "temporary file %s was left behind", tmp);
  LoadAndCheck(name, f);
  WLMTestCall(WLMSnapshotsDestroy(&snap));
  MPI_Barrier(PETSC_COMM_WORLD);
  if (wlm_test_rank == 0) remove(name);
}
END_TEST

/* A replicated set: every rank passed all rows, rank 0 writes them. */
START_TEST(test_roundtrip_replicated_writer)
{
  const Fields f = variants[_i];
  WLMSnapshots snap;
  char         name[PETSC_MAX_PATH_LEN];

  FileName("replicated", _i, name, sizeof(name));
  WLMTestCall(BuildSet(PETSC_COMM_WORLD, WLM_SNAPSHOTS_REPLICATED, f, &snap));
  CheckSet(snap, WLM_SNAPSHOTS_REPLICATED, f);
  WLMTestCall(WLMSnapshotsSave(snap, name));
  LoadAndCheck(name, f);
  WLMTestCall(WLMSnapshotsDestroy(&snap));
  MPI_Barrier(PETSC_COMM_WORLD);
  if (wlm_test_rank == 0) remove(name);
}
END_TEST

/* Saving over an existing file replaces it, and a set can be saved again after loading. */
START_TEST(test_roundtrip_overwrite)
{
  WLMSnapshots a, b, again;
  char         name[PETSC_MAX_PATH_LEN], second[PETSC_MAX_PATH_LEN];

  FileName("overwrite", 0, name, sizeof(name));
  FileName("overwrite", 1, second, sizeof(second));
  WLMTestCall(BuildSet(PETSC_COMM_WORLD, WLM_SNAPSHOTS_SHARDED, variants[3], &a));
  WLMTestCall(BuildSet(PETSC_COMM_WORLD, WLM_SNAPSHOTS_SHARDED, variants[0], &b));
  WLMTestCall(WLMSnapshotsSave(a, name));
  WLMTestCall(WLMSnapshotsSave(b, name));
  LoadAndCheck(name, variants[0]);

  WLMTestCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, &again));
  WLMTestCall(WLMSnapshotsLoad(again, name));
  WLMTestCall(WLMSnapshotsSave(again, second));
  LoadAndCheck(second, variants[0]);
  WLMTestCall(WLMSnapshotsDestroy(&a));
  WLMTestCall(WLMSnapshotsDestroy(&b));
  WLMTestCall(WLMSnapshotsDestroy(&again));
  MPI_Barrier(PETSC_COMM_WORLD);
  if (wlm_test_rank == 0) {
    remove(name);
    remove(second);
  }
}
END_TEST

/* Writes a group /model with an attribute and a small dataset, as the trainer does for predictions. */
static PetscErrorCode AddModelGroup(WLMSnapshots snap, hid_t file, void *ctx)
{
  hid_t     group;
  hsize_t   dims[1] = {2};
  PetscReal theta[2] = {1.5, -0.25};

  PetscFunctionBeginUser;
  WLMCallHDF5Return(group, "/model", H5Gcreate2, (file, "/model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(WLMH5WriteAttributeString(group, "type", (const char *)ctx));
  PetscCall(WLMH5WriteDatasetReal(group, "parameters", 1, dims, theta));
  WLMCallHDF5("/model", H5Gclose, (group));
  PetscFunctionReturn(0);
}

START_TEST(test_save_callback)
{
  WLMSnapshots snap;
  char         name[PETSC_MAX_PATH_LEN];

  FileName("callback", 0, name, sizeof(name));
  WLMTestCall(BuildSet(PETSC_COMM_WORLD, WLM_SNAPSHOTS_SHARDED, variants[1], &snap));
  WLMTestCall(WLMSnapshotsSetSaveCallback(snap, AddModelGroup, (void *)"harmonic"));
  WLMTestCall(WLMSnapshotsSave(snap, name));
  if (wlm_test_rank == 0) {
    hid_t     file = H5Fopen(name, H5F_ACC_RDONLY, H5P_DEFAULT), group;
    char     *type;
    PetscReal theta[2];
    hsize_t   dims[1] = {2};

    ck_assert_int_ge(file, 0);
    group = H5Gopen2(file, "/model", H5P_DEFAULT);
    ck_assert_int_ge(group, 0);
    WLMTestCall(WLMH5ReadAttributeString(group, "type", &type));
    ck_assert_str_eq(type, "harmonic");
    WLMTestCall(WLMH5ReadDatasetReal(group, "parameters", 1, dims, theta));
    ck_assert_double_eq(theta[1], -0.25);
    PetscFree(type);
    H5Gclose(group);
    H5Fclose(file);
  }
  LoadAndCheck(name, variants[1]);
  WLMTestCall(WLMSnapshotsDestroy(&snap));
  MPI_Barrier(PETSC_COMM_WORLD);
  if (wlm_test_rank == 0) remove(name);
}
END_TEST

/* The first line of View gives (T, N, d); the rest lists the fields and attributes. */
START_TEST(test_view_summary)
{
  WLMSnapshots snap;
  PetscViewer  viewer;
  char         name[PETSC_MAX_PATH_LEN], text[4096] = "";

  PetscSNPrintf(name, sizeof(name), "snapshots-view-np%d.txt", wlm_test_size);
  WLMTestCall(BuildSet(PETSC_COMM_WORLD, WLM_SNAPSHOTS_SHARDED, variants[1], &snap));
  WLMTestCall(PetscViewerASCIIOpen(PETSC_COMM_WORLD, name, &viewer));
  WLMTestCall(WLMSnapshotsView(snap, viewer));
  WLMTestCall(PetscViewerDestroy(&viewer));
  WLMTestCall(WLMSnapshotsDestroy(&snap));
  if (wlm_test_rank == 0) {
    FILE  *fp = fopen(name, "r");
    size_t len;

    ck_assert_ptr_nonnull(fp);
    len       = fread(text, 1, sizeof(text) - 1, fp);
    text[len] = '\0';
    fclose(fp);
    remove(name);
    ck_assert_msg(strstr(text, "5 snapshots, 1 to 7 particles, 3 dimensions"), "summary lacks (T, N, d): %s", text);
    ck_assert_msg(strstr(text, "times 0 to 4"), "summary lacks the time range: %s", text);
    ck_assert_msg(strstr(text, "particles per snapshot: 5 1 7 3 2"), "summary lacks the counts: %s", text);
    ck_assert_msg(strstr(text, "velocity: yes, weight: no, id: no"), "summary lacks the fields: %s", text);
    ck_assert_msg(strstr(text, "source = test_roundtrip.c"), "summary lacks the attributes: %s", text);
  }
}
END_TEST

/* Bad arguments to AddSnapshot and friends; the bad row sits on the last rank, so every rank must learn of it. */
START_TEST(test_add_errors)
{
  const PetscInt n = 2;
  PetscReal      x[6] = {0, 1, 2, 3, 4, 5}, w[2] = {1, 1}, zero[2] = {0, 0};
  WLMSnapshots   snap;
  WLMSnapshot    s;
  PetscBool      last = (PetscBool)(wlm_test_rank == wlm_test_size - 1);

  WLMTestCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, &snap));
  WLMTestExpectError(WLMSnapshotsAddSnapshot(snap, 0.0, n, x, NULL, NULL, NULL), PETSC_ERR_ARG_WRONGSTATE, "Set the dimension");
  WLMTestExpectError(WLMSnapshotsSetDimension(snap, 0), PETSC_ERR_ARG_OUTOFRANGE, "Dimension 0");
  WLMTestExpectError(WLMSnapshotsSave(snap, "never-written.h5"), PETSC_ERR_ARG_WRONGSTATE, "contains no snapshots");
  WLMTestCall(WLMSnapshotsSetDimension(snap, 3));
  WLMTestExpectError(WLMSnapshotsAddSnapshot(snap, 0.0, 0, NULL, NULL, NULL, NULL), PETSC_ERR_ARG_OUTOFRANGE, "has no particles");
  WLMTestCall(WLMSnapshotsAddSnapshot(snap, 0.0, n, x, NULL, w, NULL));
  WLMTestExpectError(WLMSnapshotsAddSnapshot(snap, 0.0, n, x, NULL, w, NULL), PETSC_ERR_ARG_OUTOFRANGE, "not after the time 0 of snapshot 0");
  WLMTestExpectError(WLMSnapshotsAddSnapshot(snap, 1.0, n, x, NULL, NULL, NULL), PETSC_ERR_ARG_WRONG, "has no masses but snapshot 0 has");
  WLMTestExpectError(WLMSnapshotsAddSnapshot(snap, 1.0, n, x, x, w, NULL), PETSC_ERR_ARG_WRONG, "has velocities but snapshot 0 has none");
  WLMTestExpectError(WLMSnapshotsAddSnapshot(snap, INFINITY, n, x, NULL, w, NULL), PETSC_ERR_ARG_OUTOFRANGE, "times must be finite");
  WLMTestExpectError(WLMSnapshotsAddSnapshot(snap, 1.0, n, x, NULL, zero, NULL), PETSC_ERR_ARG_OUTOFRANGE, "masses sum to 0");
  x[4] = last ? NAN : 4;
  WLMTestExpectError(WLMSnapshotsAddSnapshot(snap, 1.0, n, x, NULL, w, NULL), PETSC_ERR_ARG_OUTOFRANGE, "coordinate 1, is nan");
  x[4] = 4;
  w[1] = last ? -0.5 : 1;
  WLMTestExpectError(WLMSnapshotsAddSnapshot(snap, 1.0, n, x, NULL, w, NULL), PETSC_ERR_ARG_OUTOFRANGE, "is -0.5; masses must be finite and non-negative");
  w[1] = 1;
  WLMTestCall(WLMSnapshotsAddSnapshot(snap, 1.0, n, x, NULL, w, NULL));
  WLMTestExpectError(WLMSnapshotsGetSnapshot(snap, 2, &s), PETSC_ERR_ARG_OUTOFRANGE, "Snapshot index 2");
  WLMTestExpectError(WLMSnapshotsSetAttribute(snap, "dim", "7"), PETSC_ERR_ARG_WRONG, "\"dim\" is written by the format itself");
  WLMTestExpectError(WLMSnapshotsSetDistribution(snap, WLM_SNAPSHOTS_REPLICATED), PETSC_ERR_ARG_WRONGSTATE, "already contains 2 snapshots");
  WLMTestCall(WLMSnapshotsDestroy(&snap));
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("snapshots_roundtrip");
  TCase *tc = tcase_create("roundtrip");

  tcase_add_loop_test(tc, test_roundtrip_sharded, 0, 4);
  tcase_add_loop_test(tc, test_roundtrip_replicated_writer, 0, 4);
  tcase_add_test(tc, test_roundtrip_overwrite);
  tcase_add_test(tc, test_save_callback);
  tcase_add_test(tc, test_view_summary);
  tcase_add_test(tc, test_add_errors);
  suite_add_tcase(s, tc);
  return s;
}
