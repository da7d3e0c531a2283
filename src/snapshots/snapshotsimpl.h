/*
   Implementation side of WLMSnapshots: the object's fields, the attribute
   list, and the helpers shared by the files of this module.

   Memory layout on one rank: the local rows of snapshot 0, then those of
   snapshot 1, and so on, in arrays x [nrows][dim], v [nrows][dim], w [nrows],
   id [nrows].  Snapshot k occupies local rows loffset[k] .. loffset[k+1]-1,
   which are rows start[k] .. start[k]+nlocal[k]-1 of that snapshot and rows
   offset[k]+start[k] .. of the concatenated datasets in the file.
*/
#ifndef WLMSNAPSHOTSIMPL_H
#define WLMSNAPSHOTSIMPL_H

#include <wlm/wlmsnapshots.h>
#include <wlm/private/h5util.h>
#include <petsc/private/petscimpl.h>

#define WLM_SNAPSHOTS_FORMAT_NAME    "wlm-snapshots"
#define WLM_SNAPSHOTS_FORMAT_VERSION 1

PETSC_EXTERN PetscLogEvent WLMSNAPSHOTS_Load, WLMSNAPSHOTS_Save;

typedef enum {
  WLM_ATTRIBUTE_STRING,
  WLM_ATTRIBUTE_INT,
  WLM_ATTRIBUTE_REAL,
  WLM_ATTRIBUTE_REAL_ARRAY
} WLMAttributeKind;

/* A root attribute of the file; text is the string value, or the number printed with full precision. */
typedef struct {
  char            *name;
  WLMAttributeKind kind;
  char            *text;
  PetscInt64       ivalue;  /* WLM_ATTRIBUTE_INT */
  PetscReal       *rvalues; /* WLM_ATTRIBUTE_REAL (1 entry) and WLM_ATTRIBUTE_REAL_ARRAY (len entries) */
  PetscInt         len;
} WLMAttribute;

struct _p_WLMSnapshots {
  PETSCHEADER(int);
  WLMSnapshotsDistribution distribution;
  PetscInt                 dim;      /* d, or -1 until set or loaded */
  PetscInt                 nsnap;    /* T */
  PetscInt                 maxsnap;  /* capacity of the per-snapshot arrays */
  PetscReal               *time;     /* [T] */
  PetscInt64              *count;    /* [T] rows of each snapshot over all ranks, N_k */
  PetscInt64              *offset;   /* [T+1] first row of each snapshot in the file datasets */
  PetscInt                *nlocal;   /* [T] rows of each snapshot on this rank */
  PetscInt64              *start;    /* [T] index of this rank's first row within each snapshot */
  PetscInt64              *loffset;  /* [T+1] first local row of each snapshot */
  PetscInt64               maxrows;  /* capacity of the local row arrays */
  PetscReal               *x, *v, *w;
  PetscInt64              *id;
  PetscBool                has_v, has_w, has_id;
  WLMAttribute            *attr;
  PetscInt                 nattr, maxattr;
  PetscErrorCode (*savecallback)(WLMSnapshots, hid_t, void *);
  void *savecallbackctx;
};

/* Rows of an N-row snapshot held by one of size ranks: an even split, the first N % size ranks taking one more. */
static inline void WLMSnapshotsSplitRows(PetscInt64 N, PetscMPIInt size, PetscMPIInt rank, PetscInt64 *n, PetscInt64 *start)
{
  PetscInt64 base = N / size, extra = N % size;

  *n     = base + (rank < extra ? 1 : 0);
  *start = rank * base + PetscMin((PetscInt64)rank, extra);
}

PETSC_INTERN PetscErrorCode WLMSnapshotsReserve(WLMSnapshots, PetscInt, PetscInt64);
PETSC_INTERN PetscErrorCode WLMSnapshotsResetData(WLMSnapshots);
PETSC_INTERN PetscErrorCode WLMSnapshotsAttributesDestroy(WLMSnapshots);
PETSC_INTERN PetscErrorCode WLMSnapshotsAttributesWrite(WLMSnapshots, hid_t);
PETSC_INTERN PetscErrorCode WLMSnapshotsAttributesRead(WLMSnapshots, hid_t);
PETSC_INTERN PetscErrorCode WLMSnapshotsAttributesView(WLMSnapshots, PetscViewer);
PETSC_INTERN PetscBool      WLMSnapshotsAttributeIsReserved(const char[]);

/* A data error found on some rank: the first offending row, agreed on by every rank. */
typedef struct {
  PetscInt64 row;      /* global row in the concatenated datasets, or -1 when every row is valid */
  PetscInt   dataset;  /* 0 position, 1 velocity, 2 weight */
  PetscInt   column;   /* coordinate, or 0 for weights */
  PetscReal  value;
} WLMSnapshotsBadValue;

PETSC_INTERN PetscErrorCode WLMSnapshotsFindBadValue(PetscInt, PetscInt64, PetscInt64, const PetscReal[], const PetscReal[], const PetscReal[], WLMSnapshotsBadValue *);
PETSC_INTERN PetscErrorCode WLMSnapshotsAgreeOnBadValue(MPI_Comm, WLMSnapshotsBadValue *);

#endif
