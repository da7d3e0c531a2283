/*
   WLMSnapshotsLoad: validation and parallel reading of a snapshot file.

   Phase 1 (rank 0, serial HDF5): open the file and check everything that is
   small: the root attributes, the presence, type and shape of every dataset,
   time[T], count[T] and offset[T+1].  The verdict (and the message of the
   first error) is broadcast, so every rank raises the same error and none is
   left waiting in a collective call.

   Phase 2 (all ranks, MPI-IO): each rank reads its rows of every snapshot
   with one collective H5Dread per dataset, the file selection being the union
   of one hyperslab per snapshot.  Each rank then checks its rows (finite
   values, non-negative masses), and reductions find the first bad row over
   all ranks.  The total mass of each snapshot is summed over the ranks.
*/
#include "snapshotsimpl.h"
#include <wlm/wlmsys.h>
#include <unistd.h>

/* What rank 0 learns from the file and broadcasts. */
typedef struct {
  PetscInt64 T, dim, ntotal;
  PetscInt64 has_v, has_w, has_id;
} FileLayout;

static const char *ClassName(H5T_class_t cls)
{
  switch (cls) {
  case H5T_INTEGER:
    return "integer";
  case H5T_FLOAT:
    return "floating-point";
  case H5T_STRING:
    return "string";
  default:
    return "non-numeric";
  }
}

/* Opens a file with the serial driver; the strong close degree lets H5Fclose release any object left open by a failed check. */
static PetscErrorCode OpenSerial(const char filename[], hid_t *file)
{
  hid_t  fapl;
  htri_t ishdf5;

  PetscFunctionBeginUser;
  PetscCheck(access(filename, F_OK) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "File \"%s\" not found; check the path", filename);
  PetscCheck(access(filename, R_OK) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "File \"%s\" is not readable; check its permissions", filename);
  ishdf5 = H5Fis_hdf5(filename);
  PetscCheck(ishdf5 > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "File \"%s\" is not an HDF5 file or is damaged; write snapshot files with tools/wlm-convert or wlm_generate", filename);
  WLMCallHDF5Return(fapl, filename, H5Pcreate, (H5P_FILE_ACCESS));
  WLMCallHDF5(filename, H5Pset_fclose_degree, (fapl, H5F_CLOSE_STRONG));
  *file = H5Fopen(filename, H5F_ACC_RDONLY, fapl);
  WLMCallHDF5(filename, H5Pclose, (fapl));
  PetscCheck(*file >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "File \"%s\" could not be opened by HDF5: it is truncated or damaged; write it again", filename);
  PetscFunctionReturn(0);
}

/* Reads a scalar integer root attribute, checking that it exists and is an integer. */
static PetscErrorCode ReadIntegerRootAttribute(const char fn[], hid_t file, const char name[], PetscInt64 *value)
{
  PetscBool   exists;
  H5T_class_t cls;
  PetscInt    rank;

  PetscFunctionBeginUser;
  PetscCall(WLMH5AttributeExists(file, name, &exists));
  PetscCheck(exists, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\" has no root attribute \"%s\"; every snapshot file needs format, format_version and dim", fn, name);
  PetscCall(WLMH5GetAttributeInfo(file, name, &cls, &rank, NULL));
  PetscCheck(cls == H5T_INTEGER && rank == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": root attribute \"%s\" is a %s array of rank %" PetscInt_FMT "; it must be a single integer", fn, name, ClassName(cls), rank);
  PetscCall(WLMH5ReadAttributeInt(file, name, value));
  PetscFunctionReturn(0);
}

/* Checks format, format_version and dim. */
static PetscErrorCode CheckRootAttributes(const char fn[], hid_t file, PetscInt expected_dim, PetscInt64 *dim)
{
  PetscBool   exists, same;
  H5T_class_t cls;
  PetscInt    rank;
  PetscInt64  version;
  char       *format;

  PetscFunctionBeginUser;
  PetscCall(WLMH5AttributeExists(file, "format", &exists));
  PetscCheck(exists, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\" has no root attribute \"format\", so it is not a wlm snapshot file; convert it with tools/wlm-convert", fn);
  PetscCall(WLMH5GetAttributeInfo(file, "format", &cls, &rank, NULL));
  PetscCheck(cls == H5T_STRING && rank == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": root attribute \"format\" is not a string, so it is not a wlm snapshot file; convert it with tools/wlm-convert", fn);
  PetscCall(WLMH5ReadAttributeString(file, "format", &format));
  PetscCall(PetscStrcmp(format, WLM_SNAPSHOTS_FORMAT_NAME, &same));
  if (!same) {
    char name[64];

    PetscCall(PetscStrncpy(name, format, sizeof(name)));
    PetscCall(PetscFree(format));
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": root attribute format = \"%s\", expected \"%s\"; convert the file with tools/wlm-convert", fn, name, WLM_SNAPSHOTS_FORMAT_NAME);
  }
  PetscCall(PetscFree(format));

  PetscCall(ReadIntegerRootAttribute(fn, file, "format_version", &version));
  PetscCheck(version <= WLM_SNAPSHOTS_FORMAT_VERSION, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": format_version = %" PetscInt64_FMT " is newer than the version %d this wlm reads; update wlm", fn, version, WLM_SNAPSHOTS_FORMAT_VERSION);
  PetscCheck(version >= 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": format_version = %" PetscInt64_FMT " is invalid; versions start at 1", fn, version);

  PetscCall(ReadIntegerRootAttribute(fn, file, "dim", dim));
  PetscCheck(*dim >= 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": root attribute dim = %" PetscInt64_FMT "; particles need at least 1 coordinate", fn, *dim);
  PetscCheck(*dim <= PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": root attribute dim = %" PetscInt64_FMT " is too large", fn, *dim);
  PetscCheck(expected_dim < 1 || *dim == expected_dim, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\" has dimension %" PetscInt64_FMT " but the set was given dimension %" PetscInt_FMT "; load it into a set of matching dimension", fn, *dim, expected_dim);
  PetscFunctionReturn(0);
}

/* Checks that an optional comma-separated string attribute lists exactly dim entries. */
static PetscErrorCode CheckCoordinateList(const char fn[], hid_t file, const char name[], PetscInt64 dim)
{
  PetscBool   exists;
  H5T_class_t cls;
  PetscInt    rank;
  char       *text;
  PetscInt64  entries = 1;

  PetscFunctionBeginUser;
  PetscCall(WLMH5AttributeExists(file, name, &exists));
  if (!exists) PetscFunctionReturn(0);
  PetscCall(WLMH5GetAttributeInfo(file, name, &cls, &rank, NULL));
  PetscCheck(cls == H5T_STRING && rank == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": root attribute \"%s\" must be one string of comma-separated entries", fn, name);
  PetscCall(WLMH5ReadAttributeString(file, name, &text));
  for (const char *c = text; *c; c++) entries += (*c == ',');
  PetscCall(PetscFree(text));
  PetscCheck(entries == dim, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": root attribute \"%s\" lists %" PetscInt64_FMT " entries but dim = %" PetscInt64_FMT "; give one comma-separated entry per coordinate", fn, name, entries, dim);
  PetscFunctionReturn(0);
}

/*
  Checks that /snapshots/<name> exists (when required), contains values of
  class cls and has rank dimensions.  Returns whether it exists and its extents.
*/
static PetscErrorCode CheckDataset(const char fn[], hid_t group, const char name[], PetscBool required, H5T_class_t cls, PetscInt rank, PetscBool *exists, hsize_t dims[])
{
  H5T_class_t found;
  PetscInt    frank;
  H5O_info_t  info;

  PetscFunctionBeginUser;
  PetscCall(WLMH5LinkExists(group, name, exists));
  if (!*exists) {
    PetscCheck(!required, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": dataset /snapshots/%s is missing; every snapshot file needs time, count, offset and position", fn, name);
    PetscFunctionReturn(0);
  }
  WLMCallHDF5(name, H5Oget_info_by_name2, (group, name, &info, H5O_INFO_BASIC, H5P_DEFAULT));
  PetscCheck(info.type == H5O_TYPE_DATASET, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/%s is not a dataset; it must be an array", fn, name);
  PetscCall(WLMH5GetDatasetClass(group, name, &found));
  PetscCheck(found == cls, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": dataset /snapshots/%s contains %s values; it must contain %s values", fn, name, ClassName(found), ClassName(cls));
  PetscCall(WLMH5GetDatasetShape(group, name, &frank, dims));
  PetscCheck(frank == rank, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": dataset /snapshots/%s has %" PetscInt_FMT " dimensions; it must have %" PetscInt_FMT, fn, name, frank, rank);
  PetscFunctionReturn(0);
}

/* Checks the presence, types and shapes of every dataset of /snapshots and fills the layout. */
static PetscErrorCode CheckDatasets(const char fn[], hid_t group, FileLayout *L)
{
  hsize_t   dt[H5S_MAX_RANK], dc[H5S_MAX_RANK], doff[H5S_MAX_RANK], dx[H5S_MAX_RANK], dv[H5S_MAX_RANK], dw[H5S_MAX_RANK], did[H5S_MAX_RANK];
  PetscBool exists;

  PetscFunctionBeginUser;
  PetscCall(CheckDataset(fn, group, "time", PETSC_TRUE, H5T_FLOAT, 1, &exists, dt));
  L->T = (PetscInt64)dt[0];
  PetscCheck(L->T >= 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": dataset /snapshots/time is empty; the file needs at least one snapshot", fn);
  PetscCheck(L->T <= PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_SUP, "File \"%s\" has %" PetscInt64_FMT " snapshots, more than a 32-bit PetscInt counts", fn, L->T);
  PetscCall(CheckDataset(fn, group, "count", PETSC_TRUE, H5T_INTEGER, 1, &exists, dc));
  PetscCheck(dc[0] == dt[0], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": dataset /snapshots/count has %llu entries but time has %llu; give one count per snapshot", fn, (unsigned long long)dc[0], (unsigned long long)dt[0]);
  PetscCall(CheckDataset(fn, group, "offset", PETSC_TRUE, H5T_INTEGER, 1, &exists, doff));
  PetscCheck(doff[0] == dt[0] + 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": dataset /snapshots/offset has %llu entries; it needs T + 1 = %llu (the running sum of count, starting at 0)", fn, (unsigned long long)doff[0], (unsigned long long)dt[0] + 1);

  PetscCall(CheckDataset(fn, group, "position", PETSC_TRUE, H5T_FLOAT, 2, &exists, dx));
  PetscCheck((PetscInt64)dx[1] == L->dim, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": dataset /snapshots/position has %llu columns but dim = %" PetscInt64_FMT "; the shape must be [rows][dim]", fn, (unsigned long long)dx[1], L->dim);
  L->ntotal = (PetscInt64)dx[0];

  PetscCall(CheckDataset(fn, group, "velocity", PETSC_FALSE, H5T_FLOAT, 2, &exists, dv));
  L->has_v = exists;
  PetscCheck(!exists || (dv[0] == dx[0] && dv[1] == dx[1]), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": dataset /snapshots/velocity has shape [%llu][%llu] but position has [%llu][%llu]; give one velocity per position row", fn, (unsigned long long)dv[0], (unsigned long long)dv[1], (unsigned long long)dx[0], (unsigned long long)dx[1]);
  PetscCall(CheckDataset(fn, group, "weight", PETSC_FALSE, H5T_FLOAT, 1, &exists, dw));
  L->has_w = exists;
  PetscCheck(!exists || dw[0] == dx[0], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": dataset /snapshots/weight has %llu entries but position has %llu rows; give one mass per position row", fn, (unsigned long long)dw[0], (unsigned long long)dx[0]);
  PetscCall(CheckDataset(fn, group, "id", PETSC_FALSE, H5T_INTEGER, 1, &exists, did));
  L->has_id = exists;
  PetscCheck(!exists || did[0] == dx[0], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": dataset /snapshots/id has %llu entries but position has %llu rows; give one identifier per position row", fn, (unsigned long long)did[0], (unsigned long long)dx[0]);
  PetscFunctionReturn(0);
}

/* Checks time, count and offset: finite increasing times, non-empty snapshots, offset the running sum of count. */
static PetscErrorCode CheckTable(const char fn[], const FileLayout *L, const PetscReal time[], const PetscInt64 count[], const PetscInt64 offset[])
{
  const PetscInt64 T = L->T;

  PetscFunctionBeginUser;
  for (PetscInt64 k = 0; k < T; k++) {
    PetscCheck(!PetscIsInfOrNanReal(time[k]), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/time[%" PetscInt64_FMT "] = %.6g is not finite; give every snapshot a finite time", fn, k, (double)time[k]);
    PetscCheck(k == 0 || time[k] > time[k - 1], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/time[%" PetscInt64_FMT "] = %.6g is not greater than time[%" PetscInt64_FMT "] = %.6g; times must increase strictly (sort the snapshots and merge duplicates)", fn, k, (double)time[k], k - 1, (double)time[k - 1]);
  }
  for (PetscInt64 k = 0; k < T; k++) {
    PetscCheck(count[k] != 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/count[%" PetscInt64_FMT "] = 0: snapshot %" PetscInt64_FMT " (t = %.6g) is empty; every snapshot needs at least one particle, so drop it", fn, k, k, (double)time[k]);
    PetscCheck(count[k] > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/count[%" PetscInt64_FMT "] = %" PetscInt64_FMT " is negative; counts are particle numbers", fn, k, count[k]);
    PetscCheck(count[k] <= PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_SUP, "File \"%s\": snapshot %" PetscInt64_FMT " has %" PetscInt64_FMT " particles, more than a 32-bit PetscInt counts; split the snapshot", fn, k, count[k]);
  }
  PetscCheck(offset[0] == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/offset[0] = %" PetscInt64_FMT "; it must be 0", fn, offset[0]);
  for (PetscInt64 k = 0; k < T; k++) {
    PetscCheck(offset[k + 1] == offset[k] + count[k], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/offset[%" PetscInt64_FMT "] = %" PetscInt64_FMT " is inconsistent with count: offset[%" PetscInt64_FMT "] + count[%" PetscInt64_FMT "] = %" PetscInt64_FMT "; offset must be the running sum of count", fn, k + 1, offset[k + 1], k, k, offset[k] + count[k]);
  }
  PetscCheck(offset[T] == L->ntotal, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/offset[%" PetscInt64_FMT "] = %" PetscInt64_FMT " but /snapshots/position has %" PetscInt64_FMT " rows; the counts must add up to the rows of position", fn, T, offset[T], L->ntotal);
  PetscFunctionReturn(0);
}

/* Every check of phase 1 on an open file; allocates and fills time, count and offset. */
static PetscErrorCode CheckContents(const char fn[], hid_t file, PetscInt expected_dim, FileLayout *L, PetscReal **time, PetscInt64 **count, PetscInt64 **offset)
{
  hid_t     group;
  PetscBool exists;
  hsize_t   dims[1];

  PetscFunctionBeginUser;
  PetscCall(CheckRootAttributes(fn, file, expected_dim, &L->dim));
  PetscCall(CheckCoordinateList(fn, file, "coordinate_names", L->dim));
  PetscCall(CheckCoordinateList(fn, file, "coordinate_units", L->dim));
  PetscCall(WLMH5LinkExists(file, "/snapshots", &exists));
  PetscCheck(exists, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\" has no group /snapshots; every snapshot file keeps its datasets there", fn);
  WLMCallHDF5Return(group, "/snapshots", H5Gopen2, (file, "/snapshots", H5P_DEFAULT));
  PetscCall(CheckDatasets(fn, group, L));

  PetscCall(PetscMalloc1(L->T, time));
  PetscCall(PetscMalloc1(L->T, count));
  PetscCall(PetscMalloc1(L->T + 1, offset));
  dims[0] = (hsize_t)L->T;
  PetscCall(WLMH5ReadDatasetReal(group, "time", 1, dims, *time));
  PetscCall(WLMH5ReadDatasetInt64(group, "count", 1, dims, *count));
  dims[0] = (hsize_t)L->T + 1;
  PetscCall(WLMH5ReadDatasetInt64(group, "offset", 1, dims, *offset));
  WLMCallHDF5("/snapshots", H5Gclose, (group));
  PetscCall(CheckTable(fn, L, *time, *count, *offset));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckFile(const char fn[], PetscInt expected_dim, FileLayout *L, PetscReal **time, PetscInt64 **count, PetscInt64 **offset)
{
  hid_t          file = -1;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(OpenSerial(fn, &file));
  ierr = CheckContents(fn, file, expected_dim, L, time, count, offset);
  H5Fclose(file);
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

/*
  Runs the phase-1 checks on rank 0 with errors returned instead of printed,
  broadcasts the verdict, and raises the same error on every rank.  On
  success every rank has the layout and the time, count and offset tables.
*/
static PetscErrorCode CheckFileOnRankZero(WLMSnapshots snap, const char fn[], FileLayout *L, PetscReal **time, PetscInt64 **count, PetscInt64 **offset)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject)snap);
  PetscMPIInt rank;
  int         code = 0;
  char        message[1024] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  *time   = NULL;
  *count  = NULL;
  *offset = NULL;
  if (rank == 0) {
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    code = (int)CheckFile(fn, snap->dim, L, time, count, offset);
    PetscCall(PetscPopErrorHandler());
    if (code) {
      const char *text;
      char       *specific = NULL;

      PetscCall(PetscErrorMessage(code, &text, &specific));
      PetscCall(PetscStrncpy(message, specific && specific[0] ? specific : (text ? text : "unknown error"), sizeof(message)));
      PetscCall(PetscFree(*time));
      PetscCall(PetscFree(*count));
      PetscCall(PetscFree(*offset));
    }
  }
  PetscCallMPI(MPI_Bcast(&code, 1, MPI_INT, 0, comm));
  if (code) {
    PetscCallMPI(MPI_Bcast(message, sizeof(message), MPI_CHAR, 0, comm));
    SETERRQ(comm, code, "%s", message);
  }
  PetscCallMPI(MPI_Bcast(L, 6, MPIU_INT64, 0, comm));
  if (rank != 0) {
    PetscCall(PetscMalloc1(L->T, time));
    PetscCall(PetscMalloc1(L->T, count));
    PetscCall(PetscMalloc1(L->T + 1, offset));
  }
  PetscCallMPI(MPI_Bcast(*time, (PetscMPIInt)L->T, MPIU_REAL, 0, comm));
  PetscCallMPI(MPI_Bcast(*count, (PetscMPIInt)L->T, MPIU_INT64, 0, comm));
  PetscCallMPI(MPI_Bcast(*offset, (PetscMPIInt)L->T + 1, MPIU_INT64, 0, comm));
  PetscFunctionReturn(0);
}

/* Fills the per-snapshot tables of the set from the file's and sizes its row arrays. */
static PetscErrorCode SetUpLayout(WLMSnapshots snap, const FileLayout *L, PetscReal *time, PetscInt64 *count, PetscInt64 *offset)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject)snap);
  PetscMPIInt size, rank;
  PetscInt64  nrows = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  snap->dim     = (PetscInt)L->dim;
  snap->nsnap   = (PetscInt)L->T;
  snap->maxsnap = (PetscInt)L->T;
  snap->time    = time;
  snap->count   = count;
  snap->offset  = offset;
  snap->has_v   = L->has_v ? PETSC_TRUE : PETSC_FALSE;
  snap->has_w   = L->has_w ? PETSC_TRUE : PETSC_FALSE;
  snap->has_id  = L->has_id ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(PetscMalloc1(L->T, &snap->nlocal));
  PetscCall(PetscMalloc1(L->T, &snap->start));
  PetscCall(PetscMalloc1(L->T + 1, &snap->loffset));
  for (PetscInt64 k = 0; k < L->T; k++) {
    PetscInt64 n = count[k], start = 0;

    if (snap->distribution == WLM_SNAPSHOTS_SHARDED) WLMSnapshotsSplitRows(count[k], size, rank, &n, &start);
    snap->nlocal[k]  = (PetscInt)n;
    snap->start[k]   = start;
    snap->loffset[k] = nrows;
    nrows += n;
  }
  snap->loffset[L->T] = nrows;
  PetscCheck(nrows * L->dim <= PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_SUP, "Rank %d would hold %" PetscInt64_FMT " rows of %" PetscInt64_FMT " coordinates, more than a 32-bit PetscInt indexes; use more ranks or the sharded distribution", rank, nrows, L->dim);
  snap->maxrows = PetscMax(nrows, 1);
  PetscCall(PetscMalloc1(snap->maxrows * L->dim, &snap->x));
  if (snap->has_v) PetscCall(PetscMalloc1(snap->maxrows * L->dim, &snap->v));
  if (snap->has_w) PetscCall(PetscMalloc1(snap->maxrows, &snap->w));
  if (snap->has_id) PetscCall(PetscMalloc1(snap->maxrows, &snap->id));
  PetscFunctionReturn(0);
}

/*
  Reads this rank's rows of one dataset ([ntotal][ncol] in the file) with a
  collective H5Dread: the file selection is the union of the rank's block of
  every snapshot, the memory selection the contiguous local array.
*/
static PetscErrorCode ReadRows(WLMSnapshots snap, hid_t group, const char name[], PetscInt ncol, hid_t memtype, void *buf)
{
  const PetscInt64 nrows = snap->loffset[snap->nsnap];
  hid_t            dset, fspace, mspace, dxpl;
  hsize_t          mdims[2] = {(hsize_t)PetscMax(nrows, 1), (hsize_t)ncol};

  PetscFunctionBeginUser;
  WLMCallHDF5Return(dset, name, H5Dopen2, (group, name, H5P_DEFAULT));
  WLMCallHDF5Return(fspace, name, H5Dget_space, (dset));
  WLMCallHDF5(name, H5Sselect_none, (fspace));
  for (PetscInt k = 0; k < snap->nsnap; k++) {
    hsize_t first[2] = {(hsize_t)(snap->offset[k] + snap->start[k]), 0};
    hsize_t extent[2] = {(hsize_t)snap->nlocal[k], (hsize_t)ncol};

    if (snap->nlocal[k] > 0) WLMCallHDF5(name, H5Sselect_hyperslab, (fspace, H5S_SELECT_OR, first, NULL, extent, NULL));
  }
  WLMCallHDF5Return(mspace, name, H5Screate_simple, (ncol > 1 ? 2 : 1, mdims, NULL));
  if (nrows == 0) WLMCallHDF5(name, H5Sselect_none, (mspace));
  WLMCallHDF5Return(dxpl, name, H5Pcreate, (H5P_DATASET_XFER));
  WLMCallHDF5(name, H5Pset_dxpl_mpio, (dxpl, H5FD_MPIO_COLLECTIVE));
  WLMCallHDF5(name, H5Dread, (dset, memtype, mspace, fspace, dxpl, buf));
  WLMCallHDF5(name, H5Pclose, (dxpl));
  WLMCallHDF5(name, H5Sclose, (mspace));
  WLMCallHDF5(name, H5Sclose, (fspace));
  WLMCallHDF5(name, H5Dclose, (dset));
  PetscFunctionReturn(0);
}

/* Phase 2: opens the file with MPI-IO on the set's communicator, reads the root attributes and this rank's rows. */
static PetscErrorCode ReadParallel(WLMSnapshots snap, const char fn[])
{
  MPI_Comm comm = PetscObjectComm((PetscObject)snap);
  hid_t    fapl, file, group;

  PetscFunctionBeginUser;
  WLMCallHDF5Return(fapl, fn, H5Pcreate, (H5P_FILE_ACCESS));
  WLMCallHDF5(fn, H5Pset_fapl_mpio, (fapl, comm, MPI_INFO_NULL));
  WLMCallHDF5(fn, H5Pset_all_coll_metadata_ops, (fapl, 1));
  WLMCallHDF5Return(file, fn, H5Fopen, (fn, H5F_ACC_RDONLY, fapl));
  WLMCallHDF5(fn, H5Pclose, (fapl));
  PetscCall(WLMSnapshotsAttributesRead(snap, file));
  WLMCallHDF5Return(group, "/snapshots", H5Gopen2, (file, "/snapshots", H5P_DEFAULT));
  PetscCall(ReadRows(snap, group, "position", snap->dim, H5T_NATIVE_DOUBLE, snap->x));
  if (snap->has_v) PetscCall(ReadRows(snap, group, "velocity", snap->dim, H5T_NATIVE_DOUBLE, snap->v));
  if (snap->has_w) PetscCall(ReadRows(snap, group, "weight", 1, H5T_NATIVE_DOUBLE, snap->w));
  if (snap->has_id) PetscCall(ReadRows(snap, group, "id", 1, H5T_NATIVE_INT64, snap->id));
  WLMCallHDF5("/snapshots", H5Gclose, (group));
  WLMCallHDF5(fn, H5Fclose, (file));
  PetscFunctionReturn(0);
}

/* Finds the snapshot that contains a given row of the file's datasets. */
static PetscInt SnapshotOfRow(WLMSnapshots snap, PetscInt64 row)
{
  PetscInt lo = 0, hi = snap->nsnap - 1;

  while (lo < hi) {
    PetscInt mid = (lo + hi + 1) / 2;

    if (snap->offset[mid] <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/* Checks the rows read by every rank and raises the same error on all of them for the first bad row in file order. */
static PetscErrorCode CheckRows(WLMSnapshots snap, const char fn[])
{
  MPI_Comm             comm    = PetscObjectComm((PetscObject)snap);
  const char          *name[3] = {"position", "velocity", "weight"};
  WLMSnapshotsBadValue bad;
  PetscReal           *total;

  PetscFunctionBeginUser;
  bad.row = -1;
  for (PetscInt k = 0; k < snap->nsnap && bad.row < 0; k++) {
    const PetscInt64 lrow = snap->loffset[k];

    PetscCall(WLMSnapshotsFindBadValue(snap->dim, snap->nlocal[k], snap->offset[k] + snap->start[k], snap->x + lrow * snap->dim, snap->has_v ? snap->v + lrow * snap->dim : NULL, snap->has_w ? snap->w + lrow : NULL, &bad));
  }
  PetscCall(WLMSnapshotsAgreeOnBadValue(comm, &bad));
  if (bad.row >= 0) {
    PetscInt  k        = SnapshotOfRow(snap, bad.row);
    PetscBool negative = (PetscBool)(bad.dataset == 2 && bad.value < 0);

    if (bad.dataset < 2) SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/%s[%" PetscInt64_FMT "][%" PetscInt_FMT "] = %.6g (snapshot %" PetscInt_FMT ", particle %" PetscInt64_FMT ") is not finite; remove or repair that particle", fn, name[bad.dataset], bad.row, bad.column, (double)bad.value, k, bad.row - snap->offset[k]);
    SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/weight[%" PetscInt64_FMT "] = %.6g (snapshot %" PetscInt_FMT ", particle %" PetscInt64_FMT ") is %s; masses must be finite and non-negative", fn, bad.row, (double)bad.value, k, bad.row - snap->offset[k], negative ? "negative" : "not finite");
  }
  if (!snap->has_w) PetscFunctionReturn(0);

  PetscCall(PetscCalloc1(snap->nsnap, &total));
  for (PetscInt k = 0; k < snap->nsnap; k++) {
    for (PetscInt64 i = snap->loffset[k]; i < snap->loffset[k + 1]; i++) total[k] += snap->w[i];
  }
  if (snap->distribution == WLM_SNAPSHOTS_SHARDED) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, total, (PetscMPIInt)snap->nsnap, MPIU_REAL, MPI_SUM, comm));
  for (PetscInt k = 0; k < snap->nsnap; k++) {
    if (!(total[k] > 0)) {
      PetscReal value = total[k];

      PetscCall(PetscFree(total));
      SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "File \"%s\": /snapshots/weight sums to %.6g in snapshot %" PetscInt_FMT " (t = %.6g); every snapshot needs a positive total mass", fn, (double)value, k, (double)snap->time[k]);
    }
  }
  PetscCall(PetscFree(total));
  PetscFunctionReturn(0);
}

/* Both phases: the checks on rank 0, the layout, the parallel read and the row checks. */
static PetscErrorCode LoadChecked(WLMSnapshots snap, const char filename[])
{
  FileLayout  L;
  PetscReal  *time;
  PetscInt64 *count, *offset;

  PetscFunctionBeginUser;
  PetscCall(CheckFileOnRankZero(snap, filename, &L, &time, &count, &offset));
  PetscCall(SetUpLayout(snap, &L, time, count, offset));
  PetscCall(ReadParallel(snap, filename));
  PetscCall(CheckRows(snap, filename));
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsLoad - Reads and validates a snapshot file, replacing what the set held.

  Collective

  Input Parameters:
+ snap     - the set; its distribution decides which rows each rank reads
- filename - the HDF5 file (docs/file-format.md describes the layout)

  Notes:
  Sharded sets give rank r of p the rows [start, start + n) of every snapshot
  with n = N/p (plus one for the first N mod p ranks).

  Validation covers the format name and version, the dimension, and the
  presence, types and shapes of the datasets.  Times must be finite and
  strictly increasing, offsets the running sum of the counts, and every
  snapshot must have a particle.  Positions and velocities must be finite,
  masses non-negative with a positive total per snapshot.  Every failure raises PETSC_ERR_FILE_OPEN (the file cannot be
  opened) or PETSC_ERR_FILE_UNEXPECTED (its contents are invalid) with a
  message that names the file, the dataset, the snapshot and the value, and
  every rank raises the same error.  After an error the set is empty.
@*/
PetscErrorCode WLMSnapshotsLoad(WLMSnapshots snap, const char filename[])
{
  PetscInt       dim;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCall(PetscLogEventBegin(WLMSNAPSHOTS_Load, snap, 0, 0, 0));
  dim = snap->nsnap > 0 ? -1 : snap->dim; /* a dimension set on an empty set is a requirement on the file */
  PetscCall(WLMSnapshotsResetData(snap));
  snap->dim = dim;
  PetscCall(WLMTestFailureInject("load"));
  ierr = LoadChecked(snap, filename);
  PetscCall(PetscLogEventEnd(WLMSNAPSHOTS_Load, snap, 0, 0, 0));
  if (ierr) {
    PetscCall(WLMSnapshotsResetData(snap));
    PetscCall(ierr);
  }
  PetscFunctionReturn(0);
}
