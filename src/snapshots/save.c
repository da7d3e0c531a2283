/*
   WLMSnapshotsSave: parallel, atomic writing of a snapshot file.

   Every rank opens the temporary file with MPI-IO, and the ranks create the
   datasets together.  Each rank writes its rows of every snapshot with one
   collective H5Dwrite per dataset.  Rank 0 alone writes the small time, count
   and offset tables, and all rows of a replicated set.  After the file is
   closed, rank 0 renames it to the final name, so a reader never sees a
   partly written file.
*/
#include "snapshotsimpl.h"

/* Creation properties of every dataset: contiguous, no fill pass before the data arrive, no timestamps (same bytes for the same content). */
static PetscErrorCode CreateDataset(hid_t loc, const char name[], hid_t type, PetscInt rank, const hsize_t dims[], hid_t *dset)
{
  hid_t space, dcpl;

  PetscFunctionBeginUser;
  WLMCallHDF5Return(space, name, H5Screate_simple, ((int)rank, dims, NULL));
  WLMCallHDF5Return(dcpl, name, H5Pcreate, (H5P_DATASET_CREATE));
  WLMCallHDF5(name, H5Pset_fill_time, (dcpl, H5D_FILL_TIME_NEVER));
  WLMCallHDF5(name, H5Pset_obj_track_times, (dcpl, 0));
  WLMCallHDF5Return(*dset, name, H5Dcreate2, (loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  WLMCallHDF5(name, H5Pclose, (dcpl));
  WLMCallHDF5(name, H5Sclose, (space));
  PetscFunctionReturn(0);
}

/* Collective write of a dataset whose file and memory selections the caller has made. */
static PetscErrorCode WriteCollective(hid_t dset, const char name[], hid_t memtype, hid_t mspace, hid_t fspace, const void *buf)
{
  hid_t dxpl;

  PetscFunctionBeginUser;
  WLMCallHDF5Return(dxpl, name, H5Pcreate, (H5P_DATASET_XFER));
  WLMCallHDF5(name, H5Pset_dxpl_mpio, (dxpl, H5FD_MPIO_COLLECTIVE));
  WLMCallHDF5(name, H5Dwrite, (dset, memtype, mspace, fspace, dxpl, buf));
  WLMCallHDF5(name, H5Pclose, (dxpl));
  PetscFunctionReturn(0);
}

/* Writes a 1-D table of n entries from rank 0; the other ranks take part in the collective call with empty selections. */
static PetscErrorCode WriteTable(hid_t group, const char name[], hid_t filetype, hid_t memtype, PetscInt64 n, const void *buf, PetscMPIInt rank)
{
  hid_t   dset, space;
  hsize_t dims[1] = {(hsize_t)n};

  PetscFunctionBeginUser;
  PetscCall(CreateDataset(group, name, filetype, 1, dims, &dset));
  WLMCallHDF5Return(space, name, H5Screate_simple, (1, dims, NULL));
  if (rank != 0) WLMCallHDF5(name, H5Sselect_none, (space));
  PetscCall(WriteCollective(dset, name, memtype, space, space, buf));
  WLMCallHDF5(name, H5Sclose, (space));
  WLMCallHDF5(name, H5Dclose, (dset));
  PetscFunctionReturn(0);
}

/*
  Writes this rank's rows of a [ntotal][ncol] dataset (1-D when ncol is 0):
  the union of one hyperslab per snapshot in the file, the contiguous local
  array in memory.  Ranks other than 0 of a replicated set write nothing.
*/
static PetscErrorCode WriteRows(WLMSnapshots snap, hid_t group, const char name[], PetscInt ncol, hid_t filetype, hid_t memtype, const void *buf, PetscMPIInt rank)
{
  const PetscBool  writes = (PetscBool)(snap->distribution == WLM_SNAPSHOTS_SHARDED || rank == 0);
  const PetscInt64 nrows  = writes ? snap->loffset[snap->nsnap] : 0;
  const PetscInt   frank  = ncol > 0 ? 2 : 1;
  hsize_t          fdims[2] = {(hsize_t)snap->offset[snap->nsnap], (hsize_t)ncol};
  hsize_t          mdims[2] = {(hsize_t)PetscMax(nrows, 1), (hsize_t)ncol};
  hid_t            dset, fspace, mspace;
  PetscReal        dummy = 0;

  PetscFunctionBeginUser;
  PetscCall(CreateDataset(group, name, filetype, frank, fdims, &dset));
  WLMCallHDF5Return(fspace, name, H5Dget_space, (dset));
  WLMCallHDF5(name, H5Sselect_none, (fspace));
  for (PetscInt k = 0; writes && k < snap->nsnap; k++) {
    hsize_t first[2]  = {(hsize_t)(snap->offset[k] + snap->start[k]), 0};
    hsize_t extent[2] = {(hsize_t)snap->nlocal[k], (hsize_t)ncol};

    if (snap->nlocal[k] > 0) WLMCallHDF5(name, H5Sselect_hyperslab, (fspace, H5S_SELECT_OR, first, NULL, extent, NULL));
  }
  WLMCallHDF5Return(mspace, name, H5Screate_simple, ((int)frank, mdims, NULL));
  if (nrows == 0) WLMCallHDF5(name, H5Sselect_none, (mspace));
  PetscCall(WriteCollective(dset, name, memtype, mspace, fspace, nrows ? buf : (const void *)&dummy));
  WLMCallHDF5(name, H5Sclose, (mspace));
  WLMCallHDF5(name, H5Sclose, (fspace));
  WLMCallHDF5(name, H5Dclose, (dset));
  PetscFunctionReturn(0);
}

/* Writes the root attributes and the group /snapshots into an open file. */
static PetscErrorCode WriteContents(WLMSnapshots snap, hid_t file)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject)snap);
  PetscMPIInt rank;
  hid_t       gcpl, group;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(WLMH5WriteAttributeString(file, "format", WLM_SNAPSHOTS_FORMAT_NAME));
  PetscCall(WLMH5WriteAttributeInt(file, "format_version", WLM_SNAPSHOTS_FORMAT_VERSION));
  PetscCall(WLMH5WriteAttributeInt(file, "dim", snap->dim));
  PetscCall(WLMSnapshotsAttributesWrite(snap, file));

  WLMCallHDF5Return(gcpl, "/snapshots", H5Pcreate, (H5P_GROUP_CREATE));
  WLMCallHDF5("/snapshots", H5Pset_obj_track_times, (gcpl, 0));
  WLMCallHDF5Return(group, "/snapshots", H5Gcreate2, (file, "/snapshots", H5P_DEFAULT, gcpl, H5P_DEFAULT));
  WLMCallHDF5("/snapshots", H5Pclose, (gcpl));
  PetscCall(WriteTable(group, "time", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, snap->nsnap, snap->time, rank));
  PetscCall(WriteTable(group, "count", H5T_STD_I64LE, H5T_NATIVE_INT64, snap->nsnap, snap->count, rank));
  PetscCall(WriteTable(group, "offset", H5T_STD_I64LE, H5T_NATIVE_INT64, snap->nsnap + 1, snap->offset, rank));
  PetscCall(WriteRows(snap, group, "position", snap->dim, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, snap->x, rank));
  if (snap->has_v) PetscCall(WriteRows(snap, group, "velocity", snap->dim, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, snap->v, rank));
  if (snap->has_w) PetscCall(WriteRows(snap, group, "weight", 0, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, snap->w, rank));
  if (snap->has_id) PetscCall(WriteRows(snap, group, "id", 0, H5T_STD_I64LE, H5T_NATIVE_INT64, snap->id, rank));
  WLMCallHDF5("/snapshots", H5Gclose, (group));
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsSave - Writes the set to a snapshot file in parallel, replacing the file atomically.

  Collective

  Input Parameters:
+ snap     - the set, with at least one snapshot
- filename - the file to write; its directory must exist

  Notes:
  The data go to filename.tmp in the same directory, which is renamed to
  filename once complete, so readers see the old file or the new one, never
  a partial file.  A callback set with WLMSnapshotsSetSaveCallback() runs
  before the file is closed.  Rows of a sharded set are written in rank
  order within each snapshot.
@*/
PetscErrorCode WLMSnapshotsSave(WLMSnapshots snap, const char filename[])
{
  MPI_Comm comm = PetscObjectComm((PetscObject)snap);
  char     tmp[PETSC_MAX_PATH_LEN];
  hid_t    fapl, file;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCheck(snap->nsnap >= 1, comm, PETSC_ERR_ARG_WRONGSTATE, "Cannot save \"%s\": the set contains no snapshots", filename);
  PetscCall(PetscLogEventBegin(WLMSNAPSHOTS_Save, snap, 0, 0, 0));
  PetscCall(WLMFileTemporaryName(filename, tmp, sizeof(tmp)));
  WLMCallHDF5Return(fapl, tmp, H5Pcreate, (H5P_FILE_ACCESS));
  WLMCallHDF5(tmp, H5Pset_fapl_mpio, (fapl, comm, MPI_INFO_NULL));
  WLMCallHDF5(tmp, H5Pset_all_coll_metadata_ops, (fapl, 1));
  WLMCallHDF5(tmp, H5Pset_coll_metadata_write, (fapl, 1));
  file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  WLMCallHDF5(tmp, H5Pclose, (fapl));
  PetscCheck(file >= 0, comm, PETSC_ERR_FILE_OPEN, "Could not create \"%s\"; check that its directory exists and is writable", tmp);

  /* NOTE: an error from here on leaves filename.tmp behind, and no fsync precedes the rename, so the
     replacement is atomic for readers but not guaranteed to survive a crash of the machine. */
  PetscCall(WriteContents(snap, file));
  if (snap->savecallback) PetscCall((*snap->savecallback)(snap, file, snap->savecallbackctx));
  WLMCallHDF5(tmp, H5Fclose, (file));
  PetscCall(WLMFileCommit(comm, tmp, filename));
  PetscCall(PetscLogEventEnd(WLMSNAPSHOTS_Save, snap, 0, 0, 0));
  PetscFunctionReturn(0);
}
