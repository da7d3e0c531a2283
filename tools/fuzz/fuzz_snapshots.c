/*
   libFuzzer harness of wlm's checks of snapshot files.  The input bytes do
   not form the file itself.  They choose the contents of a well-formed HDF5
   file: which attributes and datasets exist, and their shapes, types and
   values, including NaN, Inf, negative counts and inconsistent offsets.
   The harness writes that file with the HDF5 library and loads it with
   WLMSnapshotsLoad().  This keeps the search on wlm's validation instead of
   on the HDF5 parser (see fuzz_snapshots_raw.c for that).

   Oracle: a load either fails with a PETSc error or yields a set that obeys
   the documented invariants (at least one snapshot, strictly increasing
   finite times, at least one particle per snapshot, finite positions).
*/
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <wlm/wlmsys.h>
#include <wlm/wlmsnapshots.h>
#include <wlm/private/h5util.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_SNAPSHOTS 6
#define MAX_ROWS      24
#define MAX_DIM       4

typedef struct {
  const uint8_t *data;
  size_t         size, pos;
} Bytes;

static char path[] = "/tmp/wlm_fuzz_snapshots_XXXXXX";

static unsigned TakeByte(Bytes *b)
{
  return b->pos < b->size ? b->data[b->pos++] : 0;
}

/* An integer in [lo, hi] from one byte. */
static PetscInt64 TakeInt(Bytes *b, PetscInt64 lo, PetscInt64 hi)
{
  return lo + (PetscInt64)(TakeByte(b) % (unsigned)(hi - lo + 1));
}

/* A real from one byte: mostly multiples of 1/4 in [-32, 32), with NaN, +Inf and -Inf at three byte values. */
static PetscReal TakeReal(Bytes *b)
{
  const unsigned c = TakeByte(b);

  if (c == 255) return (PetscReal)NAN;
  if (c == 254) return PETSC_INFINITY;
  if (c == 253) return PETSC_NINFINITY;
  return ((PetscReal)c - 128) / 4;
}

/* Writes a 1-D or 2-D dataset of reals or int64 (the type chosen by the input). */
static PetscErrorCode WriteArray(Bytes *b, hid_t group, const char name[], PetscInt rank, hsize_t dims[], PetscBool integer_values)
{
  PetscReal  x[(MAX_ROWS + 1) * MAX_DIM]; /* velocity, weight and id may have one row more than position */
  PetscInt64 k[(MAX_ROWS + 1) * MAX_DIM];
  const PetscBool as_integer = (PetscBool)(integer_values ^ (TakeByte(b) == 7)); /* a wrong type now and then */
  const hsize_t   n = dims[0] * (rank == 2 ? dims[1] : 1);

  PetscFunctionBeginUser;
  for (hsize_t i = 0; i < n; i++) {
    x[i] = TakeReal(b);
    k[i] = integer_values ? TakeInt(b, -2, 20) : (PetscInt64)x[i];
  }
  if (as_integer) PetscCall(WLMH5WriteDatasetInt64(group, name, rank, dims, k));
  else PetscCall(WLMH5WriteDatasetReal(group, name, rank, dims, x));
  PetscFunctionReturn(0);
}

/* A length near n: n - 1, n or n + 1 chosen by the input, never negative. */
static hsize_t TakeLengthNear(Bytes *b, PetscInt64 n)
{
  const PetscInt64 length = n + TakeInt(b, -1, 1);

  return (hsize_t)(length < 0 ? 0 : length);
}

/* Writes the file that the input describes. */
static PetscErrorCode WriteFile(Bytes *b)
{
  const unsigned   flags = TakeByte(b) | TakeByte(b) << 8;
  const PetscInt64 T = TakeInt(b, 0, MAX_SNAPSHOTS), dim = TakeInt(b, -1, MAX_DIM), cols = TakeInt(b, 1, MAX_DIM);
  const PetscInt64 rows = TakeInt(b, 0, MAX_ROWS);
  hid_t            file, group;
  hsize_t          dims[2];

  PetscFunctionBeginUser;
  WLMCallHDF5Return(file, path, H5Fcreate, (path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!(flags & 1)) PetscCall(WLMH5WriteAttributeString(file, "format", flags & 2 ? "h5md" : "wlm-snapshots"));
  if (!(flags & 4)) PetscCall(WLMH5WriteAttributeInt(file, "format_version", TakeInt(b, 0, 2)));
  if (!(flags & 8)) PetscCall(WLMH5WriteAttributeInt(file, "dim", dim));
  if (flags & 16) PetscCall(WLMH5WriteAttributeString(file, "coordinate_names", "x,y,z"));
  if (flags & 32) {
    WLMCallHDF5(path, H5Fclose, (file));
    PetscFunctionReturn(0);
  }
  WLMCallHDF5Return(group, "/snapshots", H5Gcreate2, (file, "/snapshots", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  dims[0] = (hsize_t)T;
  if (!(flags & 64)) PetscCall(WriteArray(b, group, "time", 1, dims, PETSC_FALSE));
  dims[0] = TakeLengthNear(b, T);
  if (!(flags & 128)) PetscCall(WriteArray(b, group, "count", 1, dims, PETSC_TRUE));
  dims[0] = TakeLengthNear(b, T + 1);
  if (!(flags & 256)) PetscCall(WriteArray(b, group, "offset", 1, dims, PETSC_TRUE));
  dims[0] = (hsize_t)rows;
  dims[1] = (hsize_t)cols;
  if (!(flags & 512)) PetscCall(WriteArray(b, group, "position", flags & 1024 ? 1 : 2, dims, PETSC_FALSE));
  dims[0] = TakeLengthNear(b, rows);
  if (flags & 2048) PetscCall(WriteArray(b, group, "velocity", 2, dims, PETSC_FALSE));
  if (flags & 4096) PetscCall(WriteArray(b, group, "weight", 1, dims, PETSC_FALSE));
  if (flags & 8192) PetscCall(WriteArray(b, group, "id", 1, dims, PETSC_TRUE));
  WLMCallHDF5("/snapshots", H5Gclose, (group));
  WLMCallHDF5(path, H5Fclose, (file));
  PetscFunctionReturn(0);
}

/* Aborts (a finding) when a set that loaded breaks an invariant the loader promises. */
static void CheckLoadedSet(WLMSnapshots snap)
{
  PetscInt    T, dim;
  WLMSnapshot s;

  if (WLMSnapshotsGetNumSnapshots(snap, &T) || WLMSnapshotsGetDimension(snap, &dim)) abort();
  if (T < 1 || dim < 1) abort();
  for (PetscInt k = 0; k < T; k++) {
    if (WLMSnapshotsGetSnapshot(snap, k, &s)) abort();
    if (s.N < 1 || PetscIsInfOrNanReal(s.t)) abort();
    if (k > 0) {
      WLMSnapshot prev;

      if (WLMSnapshotsGetSnapshot(snap, k - 1, &prev) || !(prev.t < s.t)) abort();
    }
    for (PetscInt i = 0; i < s.n * dim; i++) if (PetscIsInfOrNanReal(s.x[i])) abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  int fd;

  (void)argc;
  (void)argv;
  /* PetscInitializeNoArguments keeps libFuzzer's -flags out of the PETSc options database */
  if (PetscInitializeNoArguments() || WLMInitializePackage()) abort();
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  fd = mkstemp(path);
  if (fd < 0) abort();
  close(fd);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  Bytes          b = {data, size, 0};
  WLMSnapshots   snap;
  PetscErrorCode ierr;

  if (WriteFile(&b)) abort(); /* writing a well-formed file must not fail */
  if (WLMSnapshotsCreate(PETSC_COMM_SELF, &snap)) abort();
  ierr = WLMSnapshotsLoad(snap, path);
  if (!ierr) CheckLoadedSet(snap);
  else if (getenv("WLM_FUZZ_VERBOSE")) {
    const char *text;
    char       *message = NULL;

    PetscErrorMessage(ierr, &text, &message);
    fprintf(stderr, "load failed: %s\n", message ? message : text);
  }
  if (WLMSnapshotsDestroy(&snap)) abort();
  return 0;
}
