/*
   HDF5 helpers: attributes, whole datasets, and atomic file replacement.

   These helpers use the serial HDF5 interface on the calling rank only; the
   parallel snapshot reader and writer use MPI-IO directly.
*/
#define _POSIX_C_SOURCE 200809L /* open, fsync under -std=c11 */
#include <wlm/private/h5util.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*@
  WLMH5Silence - Turns off HDF5's automatic error-stack printing; failures are reported as PETSc errors instead.
@*/
PetscErrorCode WLMH5Silence(void)
{
  PetscFunctionBeginUser;
  WLMCallHDF5("the default error stack", H5Eset_auto2, (H5E_DEFAULT, NULL, NULL));
  PetscFunctionReturn(0);
}

/* Whether a path exists below loc; every intermediate group is checked, as H5Lexists requires. */
PetscErrorCode WLMH5LinkExists(hid_t loc, const char path[], PetscBool *exists)
{
  char   buf[PETSC_MAX_PATH_LEN];
  size_t len;

  PetscFunctionBeginUser;
  *exists = PETSC_FALSE;
  PetscCall(PetscStrncpy(buf, path, sizeof(buf)));
  len = strlen(buf);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char   saved = buf[i];
      htri_t found;

      buf[i] = '\0';
      found  = H5Lexists(loc, buf, H5P_DEFAULT);
      buf[i] = saved;
      if (found <= 0) PetscFunctionReturn(0);
    }
  }
  *exists = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMH5AttributeExists(hid_t loc, const char name[], PetscBool *exists)
{
  htri_t found;

  PetscFunctionBeginUser;
  WLMCallHDF5Return(found, name, H5Aexists, (loc, name));
  *exists = found > 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

/* Writes a scalar attribute of the given type, replacing an existing one. */
static PetscErrorCode WriteScalarAttribute(hid_t loc, const char name[], hid_t type, const void *value)
{
  hid_t     space, attr;
  PetscBool exists;

  PetscFunctionBeginUser;
  PetscCall(WLMH5AttributeExists(loc, name, &exists));
  if (exists) WLMCallHDF5(name, H5Adelete, (loc, name));
  WLMCallHDF5Return(space, name, H5Screate, (H5S_SCALAR));
  WLMCallHDF5Return(attr, name, H5Acreate2, (loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
  WLMCallHDF5(name, H5Awrite, (attr, type, value));
  WLMCallHDF5(name, H5Aclose, (attr));
  WLMCallHDF5(name, H5Sclose, (space));
  PetscFunctionReturn(0);
}

/* Reads a scalar attribute converted to the given memory type; a missing attribute is an error that names it. */
static PetscErrorCode ReadScalarAttribute(hid_t loc, const char name[], hid_t type, void *value)
{
  hid_t     attr;
  PetscBool exists;

  PetscFunctionBeginUser;
  PetscCall(WLMH5AttributeExists(loc, name, &exists));
  PetscCheck(exists, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Attribute \"%s\" is missing", name);
  WLMCallHDF5Return(attr, name, H5Aopen, (loc, name, H5P_DEFAULT));
  WLMCallHDF5(name, H5Aread, (attr, type, value));
  WLMCallHDF5(name, H5Aclose, (attr));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMH5WriteAttributeInt(hid_t loc, const char name[], PetscInt64 value)
{
  int64_t v = (int64_t)value;

  PetscFunctionBeginUser;
  PetscCall(WriteScalarAttribute(loc, name, H5T_NATIVE_INT64, &v));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMH5ReadAttributeInt(hid_t loc, const char name[], PetscInt64 *value)
{
  int64_t v;

  PetscFunctionBeginUser;
  PetscCall(ReadScalarAttribute(loc, name, H5T_NATIVE_INT64, &v));
  *value = (PetscInt64)v;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMH5WriteAttributeReal(hid_t loc, const char name[], PetscReal value)
{
  double v = (double)value;

  PetscFunctionBeginUser;
  PetscCall(WriteScalarAttribute(loc, name, H5T_NATIVE_DOUBLE, &v));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMH5ReadAttributeReal(hid_t loc, const char name[], PetscReal *value)
{
  double v;

  PetscFunctionBeginUser;
  PetscCall(ReadScalarAttribute(loc, name, H5T_NATIVE_DOUBLE, &v));
  *value = (PetscReal)v;
  PetscFunctionReturn(0);
}

/* Strings are stored as variable-length UTF-8, the form h5py reads as str. */
PetscErrorCode WLMH5WriteAttributeString(hid_t loc, const char name[], const char value[])
{
  hid_t type;

  PetscFunctionBeginUser;
  WLMCallHDF5Return(type, name, H5Tcopy, (H5T_C_S1));
  WLMCallHDF5(name, H5Tset_size, (type, H5T_VARIABLE));
  WLMCallHDF5(name, H5Tset_cset, (type, H5T_CSET_UTF8));
  PetscCall(WriteScalarAttribute(loc, name, type, &value));
  WLMCallHDF5(name, H5Tclose, (type));
  PetscFunctionReturn(0);
}

/*@
  WLMH5ReadAttributeString - Reads a string attribute stored either as variable-length or fixed-length text.

  Output Parameter:
. value - a copy allocated with PetscMalloc(); free it with PetscFree()
@*/
PetscErrorCode WLMH5ReadAttributeString(hid_t loc, const char name[], char **value)
{
  hid_t     attr, ftype, mtype;
  htri_t    isvariable;
  PetscBool exists;

  PetscFunctionBeginUser;
  PetscCall(WLMH5AttributeExists(loc, name, &exists));
  PetscCheck(exists, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Attribute \"%s\" is missing", name);
  WLMCallHDF5Return(attr, name, H5Aopen, (loc, name, H5P_DEFAULT));
  WLMCallHDF5Return(ftype, name, H5Aget_type, (attr));
  PetscCheck(H5Tget_class(ftype) == H5T_STRING, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Attribute \"%s\" is not a string", name);
  WLMCallHDF5Return(isvariable, name, H5Tis_variable_str, (ftype));
  WLMCallHDF5Return(mtype, name, H5Tcopy, (H5T_C_S1));
  /* HDF5 does not convert between character sets, so read in the file's own */
  WLMCallHDF5(name, H5Tset_cset, (mtype, H5Tget_cset(ftype)));
  if (isvariable) {
    char *text = NULL;

    WLMCallHDF5(name, H5Tset_size, (mtype, H5T_VARIABLE));
    WLMCallHDF5(name, H5Aread, (attr, mtype, &text));
    PetscCall(PetscStrallocpy(text ? text : "", value));
    H5free_memory(text);
  } else {
    size_t size = H5Tget_size(ftype);

    WLMCallHDF5(name, H5Tset_size, (mtype, size + 1));
    PetscCall(PetscCalloc1(size + 1, value));
    WLMCallHDF5(name, H5Aread, (attr, mtype, *value));
  }
  WLMCallHDF5(name, H5Tclose, (mtype));
  WLMCallHDF5(name, H5Tclose, (ftype));
  WLMCallHDF5(name, H5Aclose, (attr));
  PetscFunctionReturn(0);
}

/* Shape of a dataset: rank and dimensions (dims must hold H5S_MAX_RANK entries). */
PetscErrorCode WLMH5GetDatasetShape(hid_t loc, const char name[], PetscInt *rank, hsize_t dims[])
{
  hid_t     dset, space;
  int       ndims;
  PetscBool exists;

  PetscFunctionBeginUser;
  PetscCall(WLMH5LinkExists(loc, name, &exists));
  PetscCheck(exists, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Dataset \"%s\" is missing", name);
  WLMCallHDF5Return(dset, name, H5Dopen2, (loc, name, H5P_DEFAULT));
  WLMCallHDF5Return(space, name, H5Dget_space, (dset));
  WLMCallHDF5Return(ndims, name, H5Sget_simple_extent_dims, (space, dims, NULL));
  *rank = ndims;
  WLMCallHDF5(name, H5Sclose, (space));
  WLMCallHDF5(name, H5Dclose, (dset));
  PetscFunctionReturn(0);
}

/* Type class (H5T_FLOAT, H5T_INTEGER, H5T_STRING, ...) of an existing dataset. */
PetscErrorCode WLMH5GetDatasetClass(hid_t loc, const char name[], H5T_class_t *cls)
{
  hid_t dset, type;

  PetscFunctionBeginUser;
  WLMCallHDF5Return(dset, name, H5Dopen2, (loc, name, H5P_DEFAULT));
  WLMCallHDF5Return(type, name, H5Dget_type, (dset));
  *cls = H5Tget_class(type);
  WLMCallHDF5(name, H5Tclose, (type));
  WLMCallHDF5(name, H5Dclose, (dset));
  PetscFunctionReturn(0);
}

/*@
  WLMH5GetAttributeInfo - Returns the type class and the shape of an existing attribute.

  Output Parameters:
+ cls  - type class, for example H5T_STRING or H5T_INTEGER
. rank - 0 for a scalar, else the number of dimensions
- dims - extents (H5S_MAX_RANK entries), or NULL
@*/
PetscErrorCode WLMH5GetAttributeInfo(hid_t loc, const char name[], H5T_class_t *cls, PetscInt *rank, hsize_t dims[])
{
  hid_t   attr, type, space;
  int     ndims;
  hsize_t extents[H5S_MAX_RANK];

  PetscFunctionBeginUser;
  WLMCallHDF5Return(attr, name, H5Aopen, (loc, name, H5P_DEFAULT));
  WLMCallHDF5Return(type, name, H5Aget_type, (attr));
  WLMCallHDF5Return(space, name, H5Aget_space, (attr));
  *cls = H5Tget_class(type);
  WLMCallHDF5Return(ndims, name, H5Sget_simple_extent_dims, (space, extents, NULL));
  *rank = ndims;
  if (dims) for (int k = 0; k < ndims; k++) dims[k] = extents[k];
  WLMCallHDF5(name, H5Sclose, (space));
  WLMCallHDF5(name, H5Tclose, (type));
  WLMCallHDF5(name, H5Aclose, (attr));
  PetscFunctionReturn(0);
}

/* Writes a 1-D float64 attribute of n values, replacing an existing one. */
PetscErrorCode WLMH5WriteAttributeRealArray(hid_t loc, const char name[], PetscInt n, const PetscReal values[])
{
  hid_t     space, attr;
  hsize_t   dims[1] = {(hsize_t)n};
  PetscBool exists;

  PetscFunctionBeginUser;
  PetscCall(WLMH5AttributeExists(loc, name, &exists));
  if (exists) WLMCallHDF5(name, H5Adelete, (loc, name));
  WLMCallHDF5Return(space, name, H5Screate_simple, (1, dims, NULL));
  WLMCallHDF5Return(attr, name, H5Acreate2, (loc, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT));
  WLMCallHDF5(name, H5Awrite, (attr, H5T_NATIVE_DOUBLE, values));
  WLMCallHDF5(name, H5Aclose, (attr));
  WLMCallHDF5(name, H5Sclose, (space));
  PetscFunctionReturn(0);
}

/* Reads a numeric attribute of exactly n values (a scalar when n is 1) converted to double. */
PetscErrorCode WLMH5ReadAttributeRealArray(hid_t loc, const char name[], PetscInt n, PetscReal values[])
{
  hid_t       attr, space;
  hssize_t    npoints;
  PetscBool   exists;

  PetscFunctionBeginUser;
  PetscCall(WLMH5AttributeExists(loc, name, &exists));
  PetscCheck(exists, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Attribute \"%s\" is missing", name);
  WLMCallHDF5Return(attr, name, H5Aopen, (loc, name, H5P_DEFAULT));
  WLMCallHDF5Return(space, name, H5Aget_space, (attr));
  WLMCallHDF5Return(npoints, name, H5Sget_simple_extent_npoints, (space));
  PetscCheck(npoints == n, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Attribute \"%s\" has %lld values, expected %" PetscInt_FMT, name, (long long)npoints, n);
  WLMCallHDF5(name, H5Aread, (attr, H5T_NATIVE_DOUBLE, values));
  WLMCallHDF5(name, H5Sclose, (space));
  WLMCallHDF5(name, H5Aclose, (attr));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteDataset(hid_t loc, const char name[], PetscInt rank, const hsize_t dims[], hid_t ftype, hid_t mtype, const void *data)
{
  hid_t space, dset;

  PetscFunctionBeginUser;
  WLMCallHDF5Return(space, name, H5Screate_simple, ((int)rank, dims, NULL));
  WLMCallHDF5Return(dset, name, H5Dcreate2, (loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  WLMCallHDF5(name, H5Dwrite, (dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  WLMCallHDF5(name, H5Dclose, (dset));
  WLMCallHDF5(name, H5Sclose, (space));
  PetscFunctionReturn(0);
}

/* Reads a whole dataset after checking that its shape is exactly the expected one. */
static PetscErrorCode ReadDataset(hid_t loc, const char name[], PetscInt rank, const hsize_t dims[], hid_t mtype, void *data)
{
  hsize_t  fdims[H5S_MAX_RANK];
  PetscInt frank;
  hid_t    dset;

  PetscFunctionBeginUser;
  PetscCall(WLMH5GetDatasetShape(loc, name, &frank, fdims));
  PetscCheck(frank == rank, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Dataset \"%s\" has %" PetscInt_FMT " dimensions, expected %" PetscInt_FMT, name, frank, rank);
  for (PetscInt k = 0; k < rank; k++) {
    PetscCheck(fdims[k] == dims[k], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "Dataset \"%s\" has extent %llu in dimension %" PetscInt_FMT ", expected %llu", name, (unsigned long long)fdims[k], k, (unsigned long long)dims[k]);
  }
  WLMCallHDF5Return(dset, name, H5Dopen2, (loc, name, H5P_DEFAULT));
  WLMCallHDF5(name, H5Dread, (dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  WLMCallHDF5(name, H5Dclose, (dset));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMH5WriteDatasetReal(hid_t loc, const char name[], PetscInt rank, const hsize_t dims[], const PetscReal data[])
{
  PetscFunctionBeginUser;
  PetscCall(WriteDataset(loc, name, rank, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMH5ReadDatasetReal(hid_t loc, const char name[], PetscInt rank, const hsize_t dims[], PetscReal data[])
{
  PetscFunctionBeginUser;
  PetscCall(ReadDataset(loc, name, rank, dims, H5T_NATIVE_DOUBLE, data));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMH5WriteDatasetInt64(hid_t loc, const char name[], PetscInt rank, const hsize_t dims[], const PetscInt64 data[])
{
  PetscFunctionBeginUser;
  PetscCall(WriteDataset(loc, name, rank, dims, H5T_STD_I64LE, H5T_NATIVE_INT64, data));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMH5ReadDatasetInt64(hid_t loc, const char name[], PetscInt rank, const hsize_t dims[], PetscInt64 data[])
{
  PetscFunctionBeginUser;
  PetscCall(ReadDataset(loc, name, rank, dims, H5T_NATIVE_INT64, data));
  PetscFunctionReturn(0);
}

/*@
  WLMFileTemporaryName - Builds the name under which a file is written before WLMFileCommit() renames it.

  Notes:
  The temporary file sits in the same directory as the final one, so the
  rename is atomic on POSIX file systems: readers see either the old complete
  file or the new complete file, never a partial one.
@*/
PetscErrorCode WLMFileTemporaryName(const char final[], char tmp[], size_t len)
{
  int n;

  PetscFunctionBeginUser;
  n = snprintf(tmp, len, "%s.tmp", final);
  PetscCheck(n > 0 && (size_t)n < len, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "File name \"%s\" is too long", final);
  PetscFunctionReturn(0);
}

/* Flushes a file's data to stable storage; returns errno, or 0. */
static int SyncFile(const char path[])
{
  int fd = open(path, O_RDONLY), err = 0;

  if (fd < 0) return errno;
  if (fsync(fd) != 0) err = errno;
  close(fd);
  return err;
}

/* Flushes the directory that contains path, which makes a rename in it durable; returns errno, or 0. */
static int SyncDirectoryOf(const char path[])
{
  char        dir[PETSC_MAX_PATH_LEN];
  const char *slash = strrchr(path, '/');
  int         err;

  if (!slash) return SyncFile(".");
  if (slash == path) return SyncFile("/");
  if ((size_t)(slash - path) >= sizeof(dir)) return ENAMETOOLONG;
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = '\0';
  err = SyncFile(dir);
  /* some file systems cannot sync a directory; the rename is then as durable as they make it */
  return err == EINVAL || err == EROFS || err == EBADF ? 0 : err;
}

/*@
  WLMFileCommit - Flushes a completely written temporary file to disk and renames it to its final name.

  Collective

  Input Parameters:
+ comm  - the ranks that wrote the file; they must all have closed it
. tmp   - temporary name, from WLMFileTemporaryName()
- final - final name; an existing file of that name is replaced

  Notes:
  Rank 0 works after a barrier and broadcasts the outcome, so every rank
  returns the same error.  The temporary file is synced before the rename
  and the directory after it, so that after a crash of the machine the final
  name shows either the old or the new complete content, as far as the file
  system honors fsync().  When syncing or renaming fails, the file of the
  final name is left as it was.
@*/
PetscErrorCode WLMFileCommit(MPI_Comm comm, const char tmp[], const char final[])
{
  PetscMPIInt rank;
  int         err[2] = {0, 0}; /* errno, step that failed: 0 sync, 1 rename, 2 directory sync */

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Barrier(comm));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    err[0] = SyncFile(tmp);
    if (!err[0]) {
      err[1] = 1;
      if (rename(tmp, final) != 0) err[0] = errno;
    }
    if (!err[0]) {
      err[1]  = 2;
      err[0] = SyncDirectoryOf(final);
    }
  }
  PetscCallMPI(MPI_Bcast(err, 2, MPI_INT, 0, comm));
  PetscCheck(!err[0] || err[1] != 0, comm, PETSC_ERR_FILE_WRITE, "Could not flush \"%s\" to disk: %s; \"%s\" was not replaced", tmp, strerror(err[0]), final);
  PetscCheck(!err[0] || err[1] != 1, comm, PETSC_ERR_FILE_WRITE, "Could not rename \"%s\" to \"%s\": %s", tmp, final, strerror(err[0]));
  PetscCheck(!err[0], comm, PETSC_ERR_FILE_WRITE, "Renamed \"%s\" but could not flush its directory to disk: %s", final, strerror(err[0]));
  PetscFunctionReturn(0);
}
