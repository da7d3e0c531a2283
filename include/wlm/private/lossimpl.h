/*
   Implementation side of WLMLoss: the operations table of a loss type, the two
   clouds of one call gathered on every rank, and the tiled pair sums that
   every loss type is built on.

   Pair sums.  A pass visits pairs (i, j) of a row cloud r_i (weights u_i, row
   potentials F_i) and a column cloud s_j (weights w_j, column potentials G_j),
   with c_ij = |r_i - s_j|^2, and accumulates

     rowsum[i]          = sum_j w_j e_ij
     colsum[j]          = sum_i u_i e_ij                       (when columns is set)
     grad[0][i]         = sum_j w_j h_ij                       (when gradient is set)
     grad[1 + k][i]     = sum_j w_j h_ij s_jk,  k < dim

   so that sum_j w_j h_ij (r_i - s_j) = r_i grad[0][i] - grad[1..dim][i].  The
   pair weight e and the gradient weight h depend on the kernel, with d = sqrt(c):

     WLM_PAIR_SINKHORN_P2   e = exp(F_i + G_j + scale c)   h = e
     WLM_PAIR_SINKHORN_P1   e = exp(F_i + G_j + scale d)   h = e / d
     WLM_PAIR_GAUSSIAN      e = exp(scale c)                h = e
     WLM_PAIR_DISTANCE      e = d                           h = 1 / d

   with h = 0 where d = 0.  A self pass uses one cloud for rows and columns and
   visits each unordered pair once: the pair {i, j}, j > i, adds to the sums of
   both i and j (the kernels are symmetric), and the diagonal j = i is left to
   the caller.  Every rank has both whole clouds and computes its share of the
   pairs.  The sums are added over threads and ranks, so every rank ends with
   the same complete sums.
*/
#ifndef WLMLOSSIMPL_H
#define WLMLOSSIMPL_H

#include <wlm/wlmloss.h>
#include <petsc/private/petscimpl.h>

PETSC_EXTERN PetscLogEvent WLMLOSS_Compute, WLMLOSS_Gather, WLMLOSS_PairSums, WLMLOSS_Allreduce, WLMLOSS_EstimateBlur, WLMLOSS_RingExchange;

/* Both clouds of one call, gathered in global order on every rank of the loss communicator. */
typedef struct {
  PetscInt     dim;
  PetscInt     N, M;           /* particles of x and y over the communicator */
  PetscInt     n, m;           /* particles of x and y passed by this rank */
  PetscInt     xstart, ystart; /* global index of this rank's first particle of x and y */
  PetscReal   *xt, *yt;        /* coordinates transposed: xt[k * N + i] is coordinate k of particle i */
  PetscReal   *a, *b;          /* masses normalized to total 1 */
  PetscReal    atotal;         /* total of the masses of x as passed (N when none were passed) */
  PetscReal    diameter;       /* diagonal of the bounding box of both clouds */
  PetscBool    gradient;       /* some rank asked for the gradient */
  PetscInt     capx, capy;     /* particle capacity of the arrays above */
  PetscInt     capdim;         /* dimension the arrays were sized for */
  PetscReal   *rows;           /* row-major gather buffer, capacity (capx + capy) * dim */
  PetscMPIInt *counts, *displs; /* per-rank receive counts and offsets for the gathers */
  PetscInt    *info;           /* what each rank passed, [size][7] */
} WLMLossClouds;

typedef enum {
  WLM_PAIR_SINKHORN_P1,
  WLM_PAIR_SINKHORN_P2,
  WLM_PAIR_GAUSSIAN,
  WLM_PAIR_DISTANCE
} WLMPairKernel;

/* One pass of pair sums; the caller fills the inputs, WLMLossPairSums() sets the output pointers. */
typedef struct {
  WLMPairKernel    kernel;
  PetscBool        self;     /* rows and columns are the same cloud: pairs j > i only */
  PetscBool        columns;  /* accumulate colsum (implied for a self pass) */
  PetscBool        gradient; /* accumulate grad */
  PetscReal        scale;    /* factor of c (or d) in the exponent, negative */
  PetscInt         nrow, ncol;
  const PetscReal *rowt, *colt;     /* transposed coordinates, [dim][nrow] and [dim][ncol] */
  const PetscReal *rowpot, *colpot; /* F and G of the Sinkhorn kernels, ignored by the others */
  const PetscReal *roww, *colw;     /* weights u and w */
  PetscReal       *rowsum, *colsum; /* outputs; colsum is rowsum for a self pass */
  PetscReal       *grad;            /* output [dim + 1][nrow], or NULL */
} WLMLossPairPass;

/* Work unit of the pair sums: a block of rows of one pass, with its pair count. */
typedef struct {
  PetscInt  pass, i0, i1;
  PetscReal work;
} WLMLossPairUnit;

/* Reused workspace of the pair sums. */
typedef struct {
  PetscReal       *out;      /* sums of all passes, reduced over threads and ranks */
  PetscReal       *threadout; /* one private copy of out per extra thread */
  PetscInt         capout, capthreadout;
  WLMLossPairUnit *units;
  PetscInt         capunits;
} WLMLossPairWork;

#define WLM_LOSS_MAX_PASSES 3

/* How the clouds of one call reach the pair sums: gathered on every rank, or kept sharded with blocks passed around a ring (ring.c). */
typedef enum {
  WLM_LOSS_EXCHANGE_AUTO,
  WLM_LOSS_EXCHANGE_GATHER,
  WLM_LOSS_EXCHANGE_RING
} WLMLossExchange;
PETSC_EXTERN const char *const WLMLossExchanges[];

/*
   Sharded clouds of one call in the ring exchange.  Each rank keeps its own
   rows.  A block (the positions, masses and potentials of one rank's rows of
   x and y) visits half of the other ranks per pass over the pairs, and the
   sums that a rank computes for a visiting block go back to its owner.
   Memory per rank is O(n + m + max block), never O(N + M).
*/
typedef struct {
  PetscInt   dim;
  PetscInt   n, m, N, M;     /* local and global particle counts of x and y */
  PetscInt   nmax, mmax;     /* largest local counts over the ranks: the block capacity */
  PetscReal *xt, *yt;        /* local coordinates transposed, [dim][n] and [dim][m] */
  PetscReal *a, *b;          /* local normalized masses (uniform: 1/N and 1/M) */
  PetscReal  diameter;       /* diagonal of the bounding box of both clouds over all ranks */
  PetscBool  gradient;       /* some rank asked for the gradient */
  PetscReal *rowxy, *rowxx, *rowyy; /* row sums of the cross pass and the two self passes (diagonal included) */
  PetscReal *gradxy, *gradxx;       /* gradient sums [dim + 1][n] of the cross pass and the self pass of x */
  PetscReal *block[2];       /* the block being used and the block being received */
  PetscReal *colacc;         /* column sums of the cross pass for this rank's y [m] */
  PetscReal *sumsend, *sumrecv; /* sums of a visiting block's rows, and of this rank's rows from another rank */
  PetscReal *scratch;        /* gradient sums of this rank's y, computed only on the way to the column gradient sums [(dim + 1) m] */
  PetscInt   blocklen;       /* reals per block */
  PetscInt   capn, capm, capblock, capdim;
} WLMLossRing;

typedef struct _WLMLossOps *WLMLossOps;
struct _WLMLossOps {
  PetscErrorCode (*setfromoptions)(WLMLoss, PetscOptionItems *);
  PetscErrorCode (*setup)(WLMLoss);
  PetscErrorCode (*view)(WLMLoss, PetscViewer);
  PetscErrorCode (*destroy)(WLMLoss);
  /*
     value; when gradx is not NULL the gradient for this rank's rows of x
     [n][dim]; when massgrad is not NULL the derivatives with respect to the
     normalized masses a_i of all N particles of x (defined up to a constant)
  */
  PetscErrorCode (*compute)(WLMLoss, PetscReal *, PetscReal *, PetscReal *);
  /*
     the same value and position gradient from the sharded clouds of loss->ring;
     sets *fallback when a sum left the range the fast kernels represent, and
     the caller then repeats the call with gathered clouds
  */
  PetscErrorCode (*computering)(WLMLoss, PetscReal *, PetscReal *, PetscBool *);
};

struct _p_WLMLoss {
  PETSCHEADER(struct _WLMLossOps);
  PetscInt        dim;       /* spatial dimension d */
  PetscInt        p;         /* exponent of the Sinkhorn cost |x - y|^p / p, 1 or 2 */
  PetscReal       blur;      /* length scale; PETSC_DEFAULT means estimated from y at every call */
  PetscReal       blur_used; /* blur of the last call */
  PetscReal       scaling;   /* ratio of successive blurs in the Sinkhorn annealing, in (0, 1) */
  PetscBool       needs_blur; /* the type uses the blur, so a missing one is estimated */
  PetscBool       setupcalled;
  WLMLossClouds   clouds;
  WLMLossExchange exchange;  /* gather or ring; auto picks the ring for large clouds on several ranks */
  PetscInt        ring_min;  /* auto: smallest N + M that uses the ring */
  PetscBool       ring_used; /* the last call used the ring */
  WLMLossRing     ring;
  WLMLossPairWork work;
  PetscReal      *blurwork; /* sample and distances of the blur estimate, capacity capblur */
  PetscInt        capblur;
  PetscReal      *massgrad; /* derivatives with respect to the normalized masses of x, capacity capmassgrad */
  PetscInt        capmassgrad;
  void           *data;     /* type-specific context */
};

/* Sample size of the blur estimate when the blur is not set. */
#define WLM_LOSS_BLUR_SAMPLE 1000

PETSC_INTERN PetscErrorCode WLMLossCloudsGather(WLMLoss, PetscInt, const PetscReal[], const PetscReal[], PetscInt, const PetscReal[], const PetscReal[], PetscBool);
PETSC_INTERN PetscErrorCode WLMLossCloudsDestroy(WLMLossClouds *);
PETSC_EXTERN PetscErrorCode WLMLossPairSums(WLMLoss, PetscInt, WLMLossPairPass[]);
PETSC_INTERN PetscErrorCode WLMLossPairBlockSums(WLMLoss, WLMLossPairPass *, PetscReal[]);
PETSC_INTERN PetscErrorCode WLMLossRingSetUp(WLMLoss, PetscInt, const PetscReal[], PetscInt, const PetscReal[], PetscBool, PetscBool *);
PETSC_INTERN PetscErrorCode WLMLossRingPasses(WLMLoss, WLMPairKernel, PetscReal, const PetscReal[], const PetscReal[], const PetscReal[], const PetscReal[]);
PETSC_INTERN PetscErrorCode WLMLossRingDestroy(WLMLossRing *);
PETSC_INTERN PetscErrorCode WLMLossPairWorkDestroy(WLMLossPairWork *);
PETSC_EXTERN void           WLMLossPairLogSumExact(const WLMLossPairPass *, PetscInt, PetscBool, PetscInt, PetscReal *, PetscReal[]);
PETSC_EXTERN PetscBool      WLMLossSumIsSafe(PetscReal);
PETSC_INTERN PetscErrorCode WLMLossBlurFromSample(WLMLoss, PetscInt, PetscInt, const PetscReal[], PetscReal *);

#endif
