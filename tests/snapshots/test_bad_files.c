/*
   WLMSnapshotsLoad on invalid files: a table of damaged, incomplete and
   inconsistent files, written with serial HDF5 by rank 0 (independently of
   WLMSnapshotsSave), each loaded on every rank.  Every case asserts the error
   class, a fragment of the message that names the offending dataset,
   snapshot or value, and that the message names the file.  Under MPI every
   rank must raise the error: a rank left behind in a collective call would
   hang the test until its timeout.
*/
#define _DEFAULT_SOURCE /* truncate() */
#include "wlmtest.h"
#include <wlm/wlmsnapshots.h>
#include <wlm/private/h5util.h>
#include <math.h>
#include <unistd.h>

#define MAXROWS 12

/* Everything the writer puts in a file; cases start from the valid base layout and change one thing. */
typedef struct {
  const char *format;
  PetscInt64  version, dim;
  PetscInt    T, ncount, noffset;
  PetscReal   time[4];
  PetscInt64  count[4], offset[5];
  PetscInt    rows, cols, vrows, wrows, idrows;
  PetscReal   x[MAXROWS * 2], v[MAXROWS * 2], w[MAXROWS];
  PetscInt64  id[MAXROWS];
  PetscBool   position_1d, position_integer;
} Layout;

/* Three snapshots of 4, 2 and 3 particles in 2 dimensions, with velocities, masses and identifiers. */
static void BaseLayout(Layout *L)
{
  PetscMemzero(L, sizeof(*L));
  L->format  = "wlm-snapshots";
  L->version = 1;
  L->dim     = 2;
  L->T = L->ncount = 3;
  L->noffset       = 4;
  L->time[0]       = 0.0;
  L->time[1]       = 0.5;
  L->time[2]       = 1.0;
  L->count[0]      = 4;
  L->count[1]      = 2;
  L->count[2]      = 3;
  L->offset[1]     = 4;
  L->offset[2]     = 6;
  L->offset[3]     = 9;
  L->rows = L->vrows = L->wrows = L->idrows = 9;
  L->cols                                   = 2;
  for (PetscInt i = 0; i < MAXROWS; i++) {
    L->x[2 * i]     = i;
    L->x[2 * i + 1] = 0.1 * i;
    L->v[2 * i]     = -i;
    L->v[2 * i + 1] = 1;
    L->w[i]         = 1;
    L->id[i]        = i;
  }
}

static PetscErrorCode WriteLayout(const Layout *L, const char fn[])
{
  hid_t   file, group;
  hsize_t dims[2];

  PetscFunctionBeginUser;
  WLMCallHDF5Return(file, fn, H5Fcreate, (fn, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(WLMH5WriteAttributeString(file, "format", L->format));
  PetscCall(WLMH5WriteAttributeInt(file, "format_version", L->version));
  PetscCall(WLMH5WriteAttributeInt(file, "dim", L->dim));
  WLMCallHDF5Return(group, "/snapshots", H5Gcreate2, (file, "/snapshots", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  dims[0] = L->T;
  PetscCall(WLMH5WriteDatasetReal(group, "time", 1, dims, L->time));
  dims[0] = L->ncount;
  PetscCall(WLMH5WriteDatasetInt64(group, "count", 1, dims, L->count));
  dims[0] = L->noffset;
  PetscCall(WLMH5WriteDatasetInt64(group, "offset", 1, dims, L->offset));
  dims[0] = L->rows;
  dims[1] = L->cols;
  if (L->position_1d) {
    dims[0] = L->rows * L->cols;
    PetscCall(WLMH5WriteDatasetReal(group, "position", 1, dims, L->x));
  } else if (L->position_integer) {
    PetscInt64 xi[MAXROWS * 2];

    for (PetscInt i = 0; i < L->rows * L->cols; i++) xi[i] = (PetscInt64)L->x[i];
    PetscCall(WLMH5WriteDatasetInt64(group, "position", 2, dims, xi));
  } else PetscCall(WLMH5WriteDatasetReal(group, "position", 2, dims, L->x));
  dims[0] = L->vrows;
  if (L->vrows) PetscCall(WLMH5WriteDatasetReal(group, "velocity", 2, dims, L->v));
  dims[0] = L->wrows;
  if (L->wrows) PetscCall(WLMH5WriteDatasetReal(group, "weight", 1, dims, L->w));
  dims[0] = L->idrows;
  if (L->idrows) PetscCall(WLMH5WriteDatasetInt64(group, "id", 1, dims, L->id));
  H5Gclose(group);
  H5Fclose(file);
  PetscFunctionReturn(0);
}

/* Changes to the layout before writing. */
static void WrongFormat(Layout *L)
{
  L->format = "h5md";
}
static void NewerVersion(Layout *L)
{
  L->version = 2;
}
static void DimensionZero(Layout *L)
{
  L->dim = 0;
  L->cols = 0;
}
static void DimensionMismatch(Layout *L)
{
  L->dim = 3;
}
static void NanTime(Layout *L)
{
  L->time[1] = NAN;
}
static void DecreasingTimes(Layout *L)
{
  L->time[1] = 1.0;
  L->time[2] = 0.5;
}
static void RepeatedTime(Layout *L)
{
  L->time[1] = 0.0;
}
static void EmptySnapshot(Layout *L)
{
  L->count[1]  = 0;
  L->offset[2] = 4;
  L->offset[3] = 7;
  L->rows = L->vrows = L->wrows = L->idrows = 7;
}
static void NegativeCount(Layout *L)
{
  L->count[1]  = -1;
  L->offset[2] = 3;
  L->offset[3] = 6;
  L->rows = L->vrows = L->wrows = L->idrows = 6;
}
static void OffsetInconsistent(Layout *L)
{
  L->offset[2] = 5;
}
static void OffsetNotZero(Layout *L)
{
  L->offset[0] = 1;
}
static void ExtraRow(Layout *L)
{
  L->rows = L->vrows = L->wrows = L->idrows = 10;
}
static void ShortCount(Layout *L)
{
  L->ncount = 2;
}
static void NanPosition(Layout *L)
{
  L->x[2 * 7 + 1] = NAN;
}
static void InfVelocity(Layout *L)
{
  L->v[2 * 4] = INFINITY;
}
static void VelocityShape(Layout *L)
{
  L->vrows = 8;
}
static void WeightShape(Layout *L)
{
  L->wrows = 8;
}
static void NegativeWeight(Layout *L)
{
  L->w[5] = -0.5;
}
static void ZeroTotalWeight(Layout *L)
{
  L->w[4] = L->w[5] = 0;
}
static void PositionOneDimensional(Layout *L)
{
  L->position_1d = PETSC_TRUE;
}
static void PositionInteger(Layout *L)
{
  L->position_integer = PETSC_TRUE;
}
static void IdLength(Layout *L)
{
  L->idrows = 8;
}
static void NoSnapshots(Layout *L)
{
  L->T = L->ncount = 0;
  L->noffset       = 1;
  L->rows = L->vrows = L->wrows = L->idrows = 0;
}

/* Edits of the written file. */
static PetscErrorCode DeleteFormat(hid_t file)
{
  PetscFunctionBeginUser;
  WLMCallHDF5("format", H5Adelete, (file, "format"));
  PetscFunctionReturn(0);
}
static PetscErrorCode DeleteGroup(hid_t file)
{
  PetscFunctionBeginUser;
  WLMCallHDF5("/snapshots", H5Ldelete, (file, "/snapshots", H5P_DEFAULT));
  PetscFunctionReturn(0);
}
static PetscErrorCode DeletePosition(hid_t file)
{
  PetscFunctionBeginUser;
  WLMCallHDF5("position", H5Ldelete, (file, "/snapshots/position", H5P_DEFAULT));
  PetscFunctionReturn(0);
}
static PetscErrorCode DeleteOffset(hid_t file)
{
  PetscFunctionBeginUser;
  WLMCallHDF5("offset", H5Ldelete, (file, "/snapshots/offset", H5P_DEFAULT));
  PetscFunctionReturn(0);
}
static PetscErrorCode PositionAsGroup(hid_t file)
{
  hid_t group;

  PetscFunctionBeginUser;
  PetscCall(DeletePosition(file));
  WLMCallHDF5Return(group, "position", H5Gcreate2, (file, "/snapshots/position", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  H5Gclose(group);
  PetscFunctionReturn(0);
}
static PetscErrorCode ThreeCoordinateNames(hid_t file)
{
  PetscFunctionBeginUser;
  PetscCall(WLMH5WriteAttributeString(file, "coordinate_names", "x,y,z"));
  PetscFunctionReturn(0);
}

/* Files that are not written from a layout. */
static PetscErrorCode WriteText(const char fn[])
{
  FILE *fp = fopen(fn, "w");

  PetscFunctionBeginUser;
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", fn);
  fprintf(fp, "time,x,y\n0,1,2\n");
  fclose(fp);
  PetscFunctionReturn(0);
}
static PetscErrorCode WriteTruncated(const char fn[])
{
  Layout L;
  FILE  *fp;
  long   size;

  PetscFunctionBeginUser;
  BaseLayout(&L);
  PetscCall(WriteLayout(&L, fn));
  fp = fopen(fn, "r");
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot read %s", fn);
  fseek(fp, 0, SEEK_END);
  size = ftell(fp);
  fclose(fp);
  PetscCheck(truncate(fn, size / 2) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot truncate %s", fn);
  PetscFunctionReturn(0);
}
static PetscErrorCode RemoveFile(const char fn[])
{
  PetscFunctionBeginUser;
  remove(fn);
  PetscFunctionReturn(0);
}

typedef struct {
  const char *name;
  void (*modify)(Layout *);
  PetscErrorCode (*edit)(hid_t);
  PetscErrorCode (*raw)(const char[]);
  PetscInt       expect_dim; /* dimension set on the set before loading, or 0 */
  PetscErrorCode code;
  const char    *fragment;
} BadCase;

static const BadCase cases[] = {
  {"not HDF5", NULL, NULL, WriteText, 0, PETSC_ERR_FILE_OPEN, "is not an HDF5 file or is damaged"},
  {"truncated", NULL, NULL, WriteTruncated, 0, PETSC_ERR_FILE_OPEN, "truncated or damaged"},
  {"missing file", NULL, NULL, RemoveFile, 0, PETSC_ERR_FILE_OPEN, "not found"},
  {"no format attribute", NULL, DeleteFormat, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "no root attribute \"format\""},
  {"wrong format name", WrongFormat, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "format = \"h5md\", expected \"wlm-snapshots\""},
  {"newer version", NewerVersion, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "format_version = 2 is newer"},
  {"dimension zero", DimensionZero, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "dim = 0; particles need at least 1 coordinate"},
  {"dimension mismatch", DimensionMismatch, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/position has 2 columns but dim = 3"},
  {"expected dimension", NULL, NULL, NULL, 3, PETSC_ERR_FILE_UNEXPECTED, "has dimension 2 but the set was given dimension 3"},
  {"no snapshots group", NULL, DeleteGroup, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "has no group /snapshots"},
  {"missing position", NULL, DeletePosition, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "dataset /snapshots/position is missing"},
  {"missing offset", NULL, DeleteOffset, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "dataset /snapshots/offset is missing"},
  {"position is a group", NULL, PositionAsGroup, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/position is not a dataset"},
  {"position 1-D", PositionOneDimensional, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/position has 1 dimensions; it must have 2"},
  {"integer positions", PositionInteger, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/position contains integer values"},
  {"no snapshots", NoSnapshots, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/time is empty"},
  {"NaN time", NanTime, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/time[1] = nan is not finite"},
  {"decreasing times", DecreasingTimes, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/time[2] = 0.5 is not greater than time[1] = 1;"},
  {"repeated time", RepeatedTime, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/time[1] = 0 is not greater than time[0] = 0;"},
  {"count length", ShortCount, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/count has 2 entries but time has 3"},
  {"empty snapshot", EmptySnapshot, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/count[1] = 0: snapshot 1 (t = 0.5) is empty"},
  {"negative count", NegativeCount, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/count[1] = -1 is negative"},
  {"offset not zero", OffsetNotZero, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/offset[0] = 1; it must be 0"},
  {"offset inconsistent", OffsetInconsistent, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/offset[2] = 5 is inconsistent with count"},
  {"extra position row", ExtraRow, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/offset[3] = 9 but /snapshots/position has 10 rows"},
  {"NaN position", NanPosition, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/position[7][1] = nan (snapshot 2, particle 1)"},
  {"Inf velocity", InfVelocity, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/velocity[4][0] = inf (snapshot 1, particle 0)"},
  {"velocity shape", VelocityShape, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/velocity has shape [8][2] but position has [9][2]"},
  {"weight shape", WeightShape, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/weight has 8 entries but position has 9 rows"},
  {"negative weight", NegativeWeight, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/weight[5] = -0.5 (snapshot 1, particle 1) is negative"},
  {"zero total weight", ZeroTotalWeight, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/weight sums to 0 in snapshot 1"},
  {"id length", IdLength, NULL, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "/snapshots/id has 8 entries but position has 9 rows"},
  {"coordinate names", NULL, ThreeCoordinateNames, NULL, 0, PETSC_ERR_FILE_UNEXPECTED, "\"coordinate_names\" lists 3 entries but dim = 2"},
};
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

static PetscErrorCode WriteCase(const BadCase *c, const char fn[])
{
  Layout L;

  PetscFunctionBeginUser;
  if (c->raw) {
    PetscCall((*c->raw)(fn));
    PetscFunctionReturn(0);
  }
  BaseLayout(&L);
  if (c->modify) (*c->modify)(&L);
  PetscCall(WriteLayout(&L, fn));
  if (c->edit) {
    hid_t file;

    WLMCallHDF5Return(file, fn, H5Fopen, (fn, H5F_ACC_RDWR, H5P_DEFAULT));
    PetscCall((*c->edit)(file));
    H5Fclose(file);
  }
  PetscFunctionReturn(0);
}

START_TEST(test_bad_file)
{
  const BadCase *c = &cases[_i];
  char           fn[PETSC_MAX_PATH_LEN];
  const char    *msg = NULL;
  WLMSnapshots   snap;
  PetscErrorCode ierr;
  PetscInt       T;

  PetscSNPrintf(fn, sizeof(fn), "snapshots-bad-%02d-np%d.h5", _i, wlm_test_size);
  if (wlm_test_rank == 0) WLMTestCall(WriteCase(c, fn));
  MPI_Barrier(PETSC_COMM_WORLD);

  WLMTestCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, &snap));
  if (c->expect_dim) WLMTestCall(WLMSnapshotsSetDimension(snap, c->expect_dim));
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  ierr = WLMSnapshotsLoad(snap, fn);
  PetscPopErrorHandler();
  WLMTestRunQuietly(ierr, &msg);
  WLMTestCall(WLMSnapshotsGetNumSnapshots(snap, &T));
  WLMTestCall(WLMSnapshotsDestroy(&snap));
  MPI_Barrier(PETSC_COMM_WORLD);
  if (wlm_test_rank == 0) remove(fn);

  ck_assert_msg(ierr == c->code, "case \"%s\": error %d, expected %d (message: %s)", c->name, (int)ierr, (int)c->code, msg ? msg : "");
  ck_assert_msg(msg && strstr(msg, c->fragment), "case \"%s\": message does not mention \"%s\": %s", c->name, c->fragment, msg ? msg : "(none)");
  ck_assert_msg(strstr(msg, fn), "case \"%s\": message does not name the file %s: %s", c->name, fn, msg);
  ck_assert_msg(T == 0, "case \"%s\": the set kept %" PetscInt_FMT " snapshots after the error", c->name, T);
}
END_TEST

/* The base layout itself loads, so each failure above comes from its one change. */
START_TEST(test_base_layout_loads)
{
  char         fn[PETSC_MAX_PATH_LEN];
  Layout       L;
  WLMSnapshots snap;
  PetscInt     T, dim;
  PetscInt64   ntotal;

  PetscSNPrintf(fn, sizeof(fn), "snapshots-bad-base-np%d.h5", wlm_test_size);
  BaseLayout(&L);
  if (wlm_test_rank == 0) WLMTestCall(WriteLayout(&L, fn));
  MPI_Barrier(PETSC_COMM_WORLD);
  WLMTestCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, &snap));
  WLMTestCall(WLMSnapshotsLoad(snap, fn));
  WLMTestCall(WLMSnapshotsGetNumSnapshots(snap, &T));
  WLMTestCall(WLMSnapshotsGetDimension(snap, &dim));
  WLMTestCall(WLMSnapshotsGetTotalCount(snap, &ntotal));
  WLMTestCall(WLMSnapshotsDestroy(&snap));
  MPI_Barrier(PETSC_COMM_WORLD);
  if (wlm_test_rank == 0) remove(fn);
  ck_assert_int_eq(T, 3);
  ck_assert_int_eq(dim, 2);
  ck_assert_int_eq(ntotal, 9);
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("snapshots_bad_files");
  TCase *tc = tcase_create("bad_files");

  tcase_add_test(tc, test_base_layout_loads);
  tcase_add_loop_test(tc, test_bad_file, 0, NCASES);
  suite_add_tcase(s, tc);
  return s;
}
