/*
   WLMSnapshots life cycle: Create, SetDistribution, SetDimension,
   SetFromOptions, AddSnapshot (building a set in memory), access to one
   snapshot, View and Destroy.  Reading and writing files live in load.c and
   save.c, root attributes in attributes.c.
*/
#include "snapshotsimpl.h"

const char *const WLMSnapshotsDistributions[] = {"sharded", "replicated", "WLMSnapshotsDistribution", "WLM_SNAPSHOTS_", NULL};

/*@
  WLMSnapshotsCreate - Creates an empty set of snapshots.

  Collective

  Input Parameter:
. comm - ranks that share the particles of every snapshot

  Output Parameter:
. snap - the set, sharded and with no dimension until set or loaded

  Level: beginner

.seealso: WLMSnapshotsLoad(), WLMSnapshotsAddSnapshot(), WLMSnapshotsSave()
@*/
PetscErrorCode WLMSnapshotsCreate(MPI_Comm comm, WLMSnapshots *snap)
{
  WLMSnapshots s;

  PetscFunctionBeginUser;
  PetscValidPointer(snap, 2);
  PetscCall(WLMSnapshotsInitializePackage());
  PetscCall(PetscHeaderCreate(s, WLMSNAPSHOTS_CLASSID, "WLMSnapshots", "Snapshots of a population", "WLMSnapshots", comm, WLMSnapshotsDestroy, WLMSnapshotsView));
  s->distribution = WLM_SNAPSHOTS_SHARDED;
  s->dim          = -1;
  *snap           = s;
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsSetDistribution - Chooses which rows of every snapshot each rank holds.

  Logically Collective

  Input Parameters:
+ snap - the set, still empty
- dist - WLM_SNAPSHOTS_SHARDED (a contiguous block of rows per rank) or WLM_SNAPSHOTS_REPLICATED (all rows on every rank)

  Options Database Key:
. -wlm_snapshots_distribution <sharded|replicated> - the distribution
@*/
PetscErrorCode WLMSnapshotsSetDistribution(WLMSnapshots snap, WLMSnapshotsDistribution dist)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCheck(snap->nsnap == 0 || dist == snap->distribution, PetscObjectComm((PetscObject)snap), PETSC_ERR_ARG_WRONGSTATE, "Cannot change the distribution of a set that already contains %" PetscInt_FMT " snapshots; set it before loading or adding", snap->nsnap);
  snap->distribution = dist;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMSnapshotsGetDistribution(WLMSnapshots snap, WLMSnapshotsDistribution *dist)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  *dist = snap->distribution;
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsSetDimension - Sets the dimension d of the particles.

  Logically Collective

  Notes:
  Required before WLMSnapshotsAddSnapshot().  When set before
  WLMSnapshotsLoad(), the file must have this dimension.
@*/
PetscErrorCode WLMSnapshotsSetDimension(WLMSnapshots snap, PetscInt dim)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCheck(dim >= 1, PetscObjectComm((PetscObject)snap), PETSC_ERR_ARG_OUTOFRANGE, "Dimension %" PetscInt_FMT " is invalid; particles need at least 1 coordinate", dim);
  PetscCheck(snap->nsnap == 0 || dim == snap->dim, PetscObjectComm((PetscObject)snap), PETSC_ERR_ARG_WRONGSTATE, "Cannot change the dimension from %" PetscInt_FMT " to %" PetscInt_FMT " after snapshots were added", snap->dim, dim);
  snap->dim = dim;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMSnapshotsGetDimension(WLMSnapshots snap, PetscInt *dim)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  *dim = snap->dim;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMSnapshotsSetOptionsPrefix(WLMSnapshots snap, const char prefix[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCall(PetscObjectSetOptionsPrefix((PetscObject)snap, prefix));
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsSetFromOptions - Reads the distribution from the options database.

  Collective

  Options Database Key:
. -wlm_snapshots_distribution <sharded> - sharded (a block of rows per rank) or replicated (all rows on every rank)
@*/
PetscErrorCode WLMSnapshotsSetFromOptions(WLMSnapshots snap)
{
  WLMSnapshotsDistribution dist;
  PetscBool                set;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  dist = snap->distribution;
  PetscObjectOptionsBegin((PetscObject)snap);
  PetscCall(PetscOptionsEnum("-wlm_snapshots_distribution", "Rows of every snapshot held by each rank", "WLMSnapshotsSetDistribution", WLMSnapshotsDistributions, (PetscEnum)dist, (PetscEnum *)&dist, &set));
  if (set) PetscCall(WLMSnapshotsSetDistribution(snap, dist));
  PetscCall(PetscObjectProcessOptionsHandlers((PetscObject)snap, PetscOptionsObject));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsSetSaveCallback - Registers a function that adds groups or attributes to every file that WLMSnapshotsSave() writes.

  Logically Collective

  Input Parameters:
+ snap     - the set
. callback - called on every rank with the open file (MPI-IO on the set's communicator) after the snapshots are written, or NULL
- ctx      - context passed to the callback

  Notes:
  The file is still under its temporary name, so what the callback writes is
  part of the atomic replacement.  Parallel HDF5 requires that every rank make
  the same object-creation and attribute calls with the same values.  A
  dataset may be written by one rank while the others select nothing.  The trainer
  uses this to store model metadata beside predicted snapshots.
@*/
PetscErrorCode WLMSnapshotsSetSaveCallback(WLMSnapshots snap, PetscErrorCode (*callback)(WLMSnapshots, hid_t, void *), void *ctx)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  snap->savecallback    = callback;
  snap->savecallbackctx = ctx;
  PetscFunctionReturn(0);
}

/* Grows an array of n elements of size bytes each to hold at least need elements, keeping its contents. */
static PetscErrorCode GrowArray(void **array, size_t size, PetscInt64 n, PetscInt64 need)
{
  void *grown;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc((size_t)need * size, &grown));
  if (*array && n > 0) PetscCall(PetscMemcpy(grown, *array, (size_t)n * size));
  PetscCall(PetscFree(*array));
  *array = grown;
  PetscFunctionReturn(0);
}

/*
  Makes room for at least nsnap snapshots and nrows local rows, doubling the
  capacities so that a sequence of AddSnapshot calls costs linear time.
*/
PetscErrorCode WLMSnapshotsReserve(WLMSnapshots snap, PetscInt nsnap, PetscInt64 nrows)
{
  const PetscInt   T     = snap->nsnap;
  const PetscInt64 nused = T > 0 ? snap->loffset[T] : 0;
  const PetscInt   dim   = snap->dim;

  PetscFunctionBeginUser;
  if (nsnap > snap->maxsnap) {
    PetscInt cap = PetscMax(nsnap, 2 * snap->maxsnap);

    PetscCall(GrowArray((void **)&snap->time, sizeof(PetscReal), T, cap));
    PetscCall(GrowArray((void **)&snap->count, sizeof(PetscInt64), T, cap));
    PetscCall(GrowArray((void **)&snap->offset, sizeof(PetscInt64), T + 1, cap + 1));
    PetscCall(GrowArray((void **)&snap->nlocal, sizeof(PetscInt), T, cap));
    PetscCall(GrowArray((void **)&snap->start, sizeof(PetscInt64), T, cap));
    PetscCall(GrowArray((void **)&snap->loffset, sizeof(PetscInt64), T + 1, cap + 1));
    if (T == 0) snap->offset[0] = snap->loffset[0] = 0;
    snap->maxsnap = cap;
  }
  if (nrows > snap->maxrows || !snap->x) {
    PetscInt64 cap = PetscMax(PetscMax(nrows, 2 * snap->maxrows), 1);

    PetscCall(GrowArray((void **)&snap->x, dim * sizeof(PetscReal), nused, cap));
    if (snap->has_v) PetscCall(GrowArray((void **)&snap->v, dim * sizeof(PetscReal), nused, cap));
    if (snap->has_w) PetscCall(GrowArray((void **)&snap->w, sizeof(PetscReal), nused, cap));
    if (snap->has_id) PetscCall(GrowArray((void **)&snap->id, sizeof(PetscInt64), nused, cap));
    snap->maxrows = cap;
  }
  PetscFunctionReturn(0);
}

/* Frees every snapshot and attribute; the distribution and the dimension are kept. */
PetscErrorCode WLMSnapshotsResetData(WLMSnapshots snap)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(snap->time));
  PetscCall(PetscFree(snap->count));
  PetscCall(PetscFree(snap->offset));
  PetscCall(PetscFree(snap->nlocal));
  PetscCall(PetscFree(snap->start));
  PetscCall(PetscFree(snap->loffset));
  PetscCall(PetscFree(snap->x));
  PetscCall(PetscFree(snap->v));
  PetscCall(PetscFree(snap->w));
  PetscCall(PetscFree(snap->id));
  PetscCall(WLMSnapshotsAttributesDestroy(snap));
  snap->nsnap = snap->maxsnap = 0;
  snap->maxrows                = 0;
  snap->has_v = snap->has_w = snap->has_id = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*
  Agrees on the size, time and optional fields of a new snapshot over the
  ranks: N = sum of n (sharded) or n (replicated), and for each optional field
  whether it is present.  Ranks without rows are not counted for the fields.
*/
static PetscErrorCode AgreeOnNewSnapshot(WLMSnapshots snap, PetscReal t, PetscInt n, const void *v, const void *w, const void *id, PetscInt64 *N, PetscBool has[3])
{
  MPI_Comm        comm = PetscObjectComm((PetscObject)snap);
  const PetscInt  k    = snap->nsnap;
  const char     *field[3] = {"velocities", "masses", "identifiers"};
  PetscInt64      sums[5]  = {n, n > 0 && v, n > 0 && w, n > 0 && id, n > 0};
  PetscReal       extremes[4] = {t, -t, (PetscReal)n, -(PetscReal)n};

  PetscFunctionBeginUser;
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, sums, 5, MPIU_INT64, MPI_SUM, comm));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, extremes, 4, MPIU_REAL, MPI_MAX, comm));
  PetscCheck(extremes[0] == -extremes[1], comm, PETSC_ERR_ARG_WRONG, "Ranks passed different times (%.6g to %.6g) for snapshot %" PetscInt_FMT "; every rank must pass the same time", (double)-extremes[1], (double)extremes[0], k);
  if (snap->distribution == WLM_SNAPSHOTS_REPLICATED) {
    PetscCheck(extremes[2] == -extremes[3], comm, PETSC_ERR_ARG_WRONG, "Ranks passed different particle counts (%.6g to %.6g) for snapshot %" PetscInt_FMT " of a replicated set; every rank must pass all rows", (double)-extremes[3], (double)extremes[2], k);
    *N = n;
  } else *N = sums[0];
  PetscCheck(*N >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "Snapshot %" PetscInt_FMT " at t = %.6g has no particles; every snapshot needs at least one", k, (double)t);
  PetscCheck(*N <= PETSC_MAX_INT, comm, PETSC_ERR_SUP, "Snapshot %" PetscInt_FMT " has %" PetscInt64_FMT " particles, more than a 32-bit PetscInt can count; split it or use a 64-bit PETSc", k, *N);
  for (PetscInt f = 0; f < 3; f++) {
    PetscCheck(sums[f + 1] == 0 || sums[f + 1] == sums[4], comm, PETSC_ERR_ARG_WRONG, "Snapshot %" PetscInt_FMT ": %s were given on some ranks but not on others; pass them on every rank that has particles", k, field[f]);
    has[f] = sums[f + 1] > 0 ? PETSC_TRUE : PETSC_FALSE;
  }
  PetscCheck(!PetscIsInfOrNanReal(t), comm, PETSC_ERR_ARG_OUTOFRANGE, "Snapshot %" PetscInt_FMT " has time %.6g; times must be finite", k, (double)t);
  PetscCheck(k == 0 || t > snap->time[k - 1], comm, PETSC_ERR_ARG_OUTOFRANGE, "Snapshot %" PetscInt_FMT " has time %.6g, not after the time %.6g of snapshot %" PetscInt_FMT "; add snapshots in strictly increasing time order", k, (double)t, (double)snap->time[k - 1], k - 1);
  if (k > 0) {
    const PetscBool had[3] = {snap->has_v, snap->has_w, snap->has_id};

    for (PetscInt f = 0; f < 3; f++) PetscCheck(has[f] == had[f], comm, PETSC_ERR_ARG_WRONG, "Snapshot %" PetscInt_FMT " %s %s but snapshot 0 %s; give them for every snapshot or for none", k, has[f] ? "has" : "has no", field[f], had[f] ? "has" : "has none");
  }
  PetscFunctionReturn(0);
}

/* Checks the rows of a new snapshot: finite positions and velocities, non-negative masses with a positive total. */
static PetscErrorCode CheckNewRows(WLMSnapshots snap, PetscReal t, PetscInt n, PetscInt64 start, const PetscReal x[], const PetscReal v[], const PetscReal w[])
{
  MPI_Comm             comm = PetscObjectComm((PetscObject)snap);
  const PetscInt       k    = snap->nsnap;
  const char          *what[2] = {"position", "velocity"}, *plural[2] = {"positions", "velocities"};
  WLMSnapshotsBadValue bad;
  PetscReal            total = 0;

  PetscFunctionBeginUser;
  PetscCall(WLMSnapshotsFindBadValue(snap->dim, n, start, x, v, w, &bad));
  PetscCall(WLMSnapshotsAgreeOnBadValue(comm, &bad));
  if (bad.row >= 0) {
    if (bad.dataset < 2) SETERRQ(comm, PETSC_ERR_ARG_OUTOFRANGE, "Snapshot %" PetscInt_FMT " (t = %.6g): %s of particle %" PetscInt64_FMT ", coordinate %" PetscInt_FMT ", is %.6g; %s must be finite", k, (double)t, what[bad.dataset], bad.row, bad.column, (double)bad.value, plural[bad.dataset]);
    SETERRQ(comm, PETSC_ERR_ARG_OUTOFRANGE, "Snapshot %" PetscInt_FMT " (t = %.6g): mass of particle %" PetscInt64_FMT " is %.6g; masses must be finite and non-negative", k, (double)t, bad.row, (double)bad.value);
  }
  if (!w) PetscFunctionReturn(0);
  for (PetscInt i = 0; i < n; i++) total += w[i];
  if (snap->distribution == WLM_SNAPSHOTS_SHARDED) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &total, 1, MPIU_REAL, MPI_SUM, comm));
  PetscCheck(total > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "Snapshot %" PetscInt_FMT " (t = %.6g): masses sum to %.6g; every snapshot needs a positive total mass", k, (double)t, (double)total);
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsAddSnapshot - Appends a snapshot at a time later than every snapshot already held.

  Collective

  Input Parameters:
+ snap - the set, with its dimension set
. t    - time of the snapshot, the same on every rank
. n    - rows passed by this rank: its block (sharded) or all N rows (replicated)
. x    - positions [n][dim]
. v    - velocities [n][dim], or NULL
. w    - masses [n], non-negative with a positive total, or NULL
- id   - particle identifiers [n], or NULL

  Notes:
  Sharded sets take the blocks in rank order, so snapshot k consists of rank
  0's rows followed by rank 1's.  The blocks may have any sizes, including 0.
  The first snapshot decides which of velocities, masses and identifiers the
  set carries; later snapshots must give the same ones.  The data are copied.
@*/
PetscErrorCode WLMSnapshotsAddSnapshot(WLMSnapshots snap, PetscReal t, PetscInt n, const PetscReal x[], const PetscReal v[], const PetscReal w[], const PetscInt64 id[])
{
  MPI_Comm   comm = PetscObjectComm((PetscObject)snap);
  PetscInt   k, dim;
  PetscInt64 N = 0, start = 0, n64 = n, lrow;
  PetscBool  has[3];

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCheck(snap->dim >= 1, comm, PETSC_ERR_ARG_WRONGSTATE, "Set the dimension with WLMSnapshotsSetDimension() before adding snapshots");
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Row count %" PetscInt_FMT " is negative", n);
  PetscCheck(n == 0 || x, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "Positions are NULL for %" PetscInt_FMT " rows", n);
  PetscCall(AgreeOnNewSnapshot(snap, t, n, v, w, id, &N, has));
  if (snap->distribution == WLM_SNAPSHOTS_SHARDED) PetscCallMPI(MPI_Exscan(&n64, &start, 1, MPIU_INT64, MPI_SUM, comm));
  {
    PetscMPIInt rank;

    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0) start = 0; /* MPI_Exscan leaves rank 0's output undefined */
  }
  PetscCall(CheckNewRows(snap, t, n, start, x, has[0] ? v : NULL, has[1] ? w : NULL));

  k   = snap->nsnap;
  dim = snap->dim;
  if (k == 0) {
    snap->has_v  = has[0];
    snap->has_w  = has[1];
    snap->has_id = has[2];
  }
  lrow = k > 0 ? snap->loffset[k] : 0;
  PetscCall(WLMSnapshotsReserve(snap, k + 1, lrow + n));
  snap->time[k]        = t;
  snap->count[k]       = N;
  snap->offset[k + 1]  = snap->offset[k] + N;
  snap->nlocal[k]      = n;
  snap->start[k]       = start;
  snap->loffset[k + 1] = lrow + n;
  if (n > 0) {
    PetscCall(PetscArraycpy(snap->x + lrow * dim, x, (size_t)n * dim));
    if (snap->has_v) PetscCall(PetscArraycpy(snap->v + lrow * dim, v, (size_t)n * dim));
    if (snap->has_w) PetscCall(PetscArraycpy(snap->w + lrow, w, n));
    if (snap->has_id) PetscCall(PetscArraycpy(snap->id + lrow, id, n));
  }
  snap->nsnap = k + 1;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMSnapshotsGetNumSnapshots(WLMSnapshots snap, PetscInt *T)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  *T = snap->nsnap;
  PetscFunctionReturn(0);
}

/* Times of the snapshots [T], owned by the set. */
PetscErrorCode WLMSnapshotsGetTimes(WLMSnapshots snap, const PetscReal *times[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  *times = snap->time;
  PetscFunctionReturn(0);
}

/* Rows over all snapshots and all ranks, the row count of the file's datasets. */
PetscErrorCode WLMSnapshotsGetTotalCount(WLMSnapshots snap, PetscInt64 *ntotal)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  *ntotal = snap->nsnap > 0 ? snap->offset[snap->nsnap] : 0;
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsGetSnapshot - Gives this rank's view of snapshot k.

  Not Collective

  Output Parameter:
. s - time, local and global row counts, and arrays borrowed from the set (valid until it is destroyed or changed)
@*/
PetscErrorCode WLMSnapshotsGetSnapshot(WLMSnapshots snap, PetscInt k, WLMSnapshot *s)
{
  PetscInt64 lrow;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  PetscCheck(k >= 0 && k < snap->nsnap, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Snapshot index %" PetscInt_FMT " is out of range; the set has %" PetscInt_FMT " snapshots", k, snap->nsnap);
  lrow     = snap->loffset[k];
  s->t     = snap->time[k];
  s->n     = snap->nlocal[k];
  s->N     = (PetscInt)snap->count[k];
  s->start = (PetscInt)snap->start[k];
  s->x     = snap->x + lrow * snap->dim;
  s->v     = snap->has_v ? snap->v + lrow * snap->dim : NULL;
  s->w     = snap->has_w ? snap->w + lrow : NULL;
  s->id    = snap->has_id ? snap->id + lrow : NULL;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMSnapshotsHasVelocity(WLMSnapshots snap, PetscBool *flg)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  *flg = snap->has_v;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMSnapshotsHasWeight(WLMSnapshots snap, PetscBool *flg)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  *flg = snap->has_w;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMSnapshotsHasId(WLMSnapshots snap, PetscBool *flg)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  *flg = snap->has_id;
  PetscFunctionReturn(0);
}

/* Prints the particle counts, all of them up to 12 snapshots, else the first and last 5. */
static PetscErrorCode ViewCounts(WLMSnapshots snap, PetscViewer viewer)
{
  const PetscInt T = snap->nsnap;

  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "particles per snapshot:"));
  PetscCall(PetscViewerASCIIUseTabs(viewer, PETSC_FALSE));
  for (PetscInt k = 0; k < T; k++) {
    if (T > 12 && k == 5) {
      PetscCall(PetscViewerASCIIPrintf(viewer, " ..."));
      k = T - 5;
    }
    PetscCall(PetscViewerASCIIPrintf(viewer, " %" PetscInt64_FMT, snap->count[k]));
  }
  PetscCall(PetscViewerASCIIPrintf(viewer, "\n"));
  PetscCall(PetscViewerASCIIUseTabs(viewer, PETSC_TRUE));
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsView - Prints a summary: snapshot count T, particles per snapshot, dimension d, time range, optional fields and attributes.

  Collective

  Notes:
  The first line reads "T snapshots, N particles, d dimensions" (N a range
  when the counts differ), so that scripts can pick out (T, N, d).
@*/
PetscErrorCode WLMSnapshotsView(WLMSnapshots snap, PetscViewer viewer)
{
  PetscBool   isascii;
  PetscInt64  nmin = 0, nmax = 0;
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(snap, WLMSNAPSHOTS_CLASSID, 1);
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(PetscObjectComm((PetscObject)snap), &viewer));
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &isascii));
  if (!isascii) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)snap), &size));
  for (PetscInt k = 0; k < snap->nsnap; k++) {
    nmin = k == 0 ? snap->count[k] : PetscMin(nmin, snap->count[k]);
    nmax = k == 0 ? snap->count[k] : PetscMax(nmax, snap->count[k]);
  }
  PetscCall(PetscViewerASCIIPrintf(viewer, "WLMSnapshots Object: %d MPI process%s, %s distribution\n", size, size > 1 ? "es" : "", WLMSnapshotsDistributions[snap->distribution]));
  PetscCall(PetscViewerASCIIPushTab(viewer));
  if (nmin == nmax) PetscCall(PetscViewerASCIIPrintf(viewer, "%" PetscInt_FMT " snapshots, %" PetscInt64_FMT " particles, %" PetscInt_FMT " dimensions\n", snap->nsnap, nmax, snap->dim));
  else PetscCall(PetscViewerASCIIPrintf(viewer, "%" PetscInt_FMT " snapshots, %" PetscInt64_FMT " to %" PetscInt64_FMT " particles, %" PetscInt_FMT " dimensions\n", snap->nsnap, nmin, nmax, snap->dim));
  if (snap->nsnap > 0) {
    PetscCall(PetscViewerASCIIPrintf(viewer, "times %.6g to %.6g\n", (double)snap->time[0], (double)snap->time[snap->nsnap - 1]));
    PetscCall(ViewCounts(snap, viewer));
    PetscCall(PetscViewerASCIIPrintf(viewer, "rows in total: %" PetscInt64_FMT "\n", snap->offset[snap->nsnap]));
  }
  PetscCall(PetscViewerASCIIPrintf(viewer, "velocity: %s, weight: %s, id: %s\n", snap->has_v ? "yes" : "no", snap->has_w ? "yes" : "no", snap->has_id ? "yes" : "no"));
  PetscCall(WLMSnapshotsAttributesView(snap, viewer));
  PetscCall(PetscViewerASCIIPopTab(viewer));
  PetscFunctionReturn(0);
}

/*@
  WLMSnapshotsDestroy - Frees a set of snapshots.

  Collective
@*/
PetscErrorCode WLMSnapshotsDestroy(WLMSnapshots *snap)
{
  PetscFunctionBeginUser;
  if (!*snap) PetscFunctionReturn(0);
  PetscValidHeaderSpecific(*snap, WLMSNAPSHOTS_CLASSID, 1);
  if (--((PetscObject)(*snap))->refct > 0) {
    *snap = NULL;
    PetscFunctionReturn(0);
  }
  PetscCall(WLMSnapshotsResetData(*snap));
  PetscCall(PetscHeaderDestroy(snap));
  PetscFunctionReturn(0);
}
