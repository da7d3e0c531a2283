/*
   WLMSnapshots: observed (or predicted) populations at times t_0 < t_1 < ... < t_{T-1}.

   Snapshot k is an unordered cloud of N_k particles in R^d with optional
   velocities, masses and identifiers.  In memory each rank holds a contiguous
   block of rows of every snapshot (sharded distribution) or all rows
   (replicated distribution).  On disk the snapshots are concatenated in time
   order in one HDF5 group; docs/file-format.md gives the layout.
*/
#ifndef WLMSNAPSHOTS_H
#define WLMSNAPSHOTS_H

#include <petscsys.h>
#include <petscviewer.h>
#include <hdf5.h>

typedef struct _p_WLMSnapshots *WLMSnapshots;

PETSC_EXTERN PetscClassId WLMSNAPSHOTS_CLASSID;

typedef enum {
  WLM_SNAPSHOTS_SHARDED,   /* each rank holds a contiguous block of rows of every snapshot */
  WLM_SNAPSHOTS_REPLICATED /* every rank holds every row */
} WLMSnapshotsDistribution;
PETSC_EXTERN const char *const WLMSnapshotsDistributions[];

/* One snapshot as seen by this rank; arrays are borrowed from the WLMSnapshots object. */
typedef struct {
  PetscReal        t;     /* observation time */
  PetscInt         n;     /* rows on this rank */
  PetscInt         N;     /* rows on all ranks */
  PetscInt         start; /* global index of this rank's first row within the snapshot */
  const PetscReal *x;     /* positions [n][dim] */
  const PetscReal *v;     /* velocities [n][dim], or NULL when the file has none */
  const PetscReal *w;     /* masses [n], or NULL when the file has none */
  const PetscInt64 *id;   /* particle identifiers [n], or NULL when the file has none */
} WLMSnapshot;

PETSC_EXTERN PetscErrorCode WLMSnapshotsInitializePackage(void);
PETSC_EXTERN PetscErrorCode WLMSnapshotsCreate(MPI_Comm, WLMSnapshots *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsSetDistribution(WLMSnapshots, WLMSnapshotsDistribution);
PETSC_EXTERN PetscErrorCode WLMSnapshotsSetDimension(WLMSnapshots, PetscInt);
PETSC_EXTERN PetscErrorCode WLMSnapshotsLoad(WLMSnapshots, const char[]);
PETSC_EXTERN PetscErrorCode WLMSnapshotsSave(WLMSnapshots, const char[]);
PETSC_EXTERN PetscErrorCode WLMSnapshotsView(WLMSnapshots, PetscViewer);
PETSC_EXTERN PetscErrorCode WLMSnapshotsDestroy(WLMSnapshots *);

PETSC_EXTERN PetscErrorCode WLMSnapshotsAddSnapshot(WLMSnapshots, PetscReal, PetscInt, const PetscReal[], const PetscReal[], const PetscReal[], const PetscInt64[]);
PETSC_EXTERN PetscErrorCode WLMSnapshotsSetAttribute(WLMSnapshots, const char[], const char[]);
PETSC_EXTERN PetscErrorCode WLMSnapshotsGetAttribute(WLMSnapshots, const char[], const char **);

PETSC_EXTERN PetscErrorCode WLMSnapshotsGetNumSnapshots(WLMSnapshots, PetscInt *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsGetDimension(WLMSnapshots, PetscInt *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsGetTimes(WLMSnapshots, const PetscReal *[]);
PETSC_EXTERN PetscErrorCode WLMSnapshotsGetSnapshot(WLMSnapshots, PetscInt, WLMSnapshot *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsHasVelocity(WLMSnapshots, PetscBool *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsHasWeight(WLMSnapshots, PetscBool *);

PETSC_EXTERN PetscErrorCode WLMSnapshotsGetDistribution(WLMSnapshots, WLMSnapshotsDistribution *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsSetOptionsPrefix(WLMSnapshots, const char[]);
PETSC_EXTERN PetscErrorCode WLMSnapshotsSetFromOptions(WLMSnapshots);
PETSC_EXTERN PetscErrorCode WLMSnapshotsSetSaveCallback(WLMSnapshots, PetscErrorCode (*)(WLMSnapshots, hid_t, void *), void *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsHasId(WLMSnapshots, PetscBool *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsGetTotalCount(WLMSnapshots, PetscInt64 *);

PETSC_EXTERN PetscErrorCode WLMSnapshotsSetAttributeInt(WLMSnapshots, const char[], PetscInt64);
PETSC_EXTERN PetscErrorCode WLMSnapshotsSetAttributeReal(WLMSnapshots, const char[], PetscReal);
PETSC_EXTERN PetscErrorCode WLMSnapshotsSetAttributeRealArray(WLMSnapshots, const char[], PetscInt, const PetscReal[]);
PETSC_EXTERN PetscErrorCode WLMSnapshotsGetAttributeInt(WLMSnapshots, const char[], PetscInt64 *, PetscBool *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsGetAttributeReal(WLMSnapshots, const char[], PetscReal *, PetscBool *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsGetAttributeRealArray(WLMSnapshots, const char[], PetscInt *, const PetscReal *[]);
PETSC_EXTERN PetscErrorCode WLMSnapshotsGetNumAttributes(WLMSnapshots, PetscInt *);
PETSC_EXTERN PetscErrorCode WLMSnapshotsGetAttributeName(WLMSnapshots, PetscInt, const char **);

#endif
