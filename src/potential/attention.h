/*
   Internal layout of the attention potential, shared by attention.c (the
   type), attentionpass.c (embedding, blocks, head), attentionheads.c
   (multi-head self-attention over all particles, with keys and values
   gathered from all ranks) and attentionring.c (the same attention with
   key-value blocks passed around a ring of the ranks).

   Rows are particles.  Every activation buffer stacks the n primal rows of
   this rank and, when tangents are on, n tangent rows after them.
*/
#ifndef WLMATTENTION_H
#define WLMATTENTION_H

#include <wlm/private/dense.h>

/* Offsets of one block's parameters from the start of the block. */
typedef struct {
  PetscInt g1, beta1;   /* LayerNorm before attention: gain, shift [D] */
  PetscInt wqkv, bqkv;  /* [D][3D], [3D]: columns 0..D-1 queries, D..2D-1 keys, 2D..3D-1 values */
  PetscInt wo, bo;      /* attention output projection [D][D], [D] */
  PetscInt g2, beta2;   /* LayerNorm before the feed-forward layer [D] */
  PetscInt w1, b1;      /* [D][F], [F] */
  PetscInt w2, b2;      /* [F][D], [D] */
  PetscInt size;        /* parameters per block */
} AttentionBlockLayout;

/* What a block keeps from the forward pass for the reverse pass. */
typedef struct {
  PetscReal *n1, *r1, *a1; /* LayerNorm 1: normalized rows, r (and dr), output [rows][D] */
  PetscReal *qkv;          /* [rows][3D] */
  PetscReal *kv;           /* gather exchange: keys and values of all N particles [N][kvw], columns K, V, then dK, dV */
  PetscReal *o;            /* attention output before the projection [rows][D] */
  PetscReal *n2, *r2, *a2; /* LayerNorm 2 */
  PetscReal *f;            /* GELU output of the feed-forward layer [rows][F] */
  PetscReal *fd1, *fd2dz;  /* GELU s'(z) and s''(z) dz [n][F] */
  PetscReal *lse, *rs;     /* ring exchange: log-sum-exp of the scores and, with tangents, rowsum(P dS) [n][H] */
} AttentionBlockState;

/* A set of m keys and values (one rank's block, or all N) and their gradients, in the columns of HeadColumns(). */
typedef struct {
  const PetscReal *kv;  /* K [D], V [D], with tangents dK [D], dV [D]: rows of stride ld */
  PetscReal       *bkv; /* their gradients, same columns: rows of stride ldb */
  PetscInt         m, ld, ldb;
} AttentionKeys;

typedef struct {
  /* hyperparameters */
  PetscInt hidden;     /* D */
  PetscInt heads;      /* H, dividing D */
  PetscInt layers;     /* L */
  PetscInt ffn;        /* F */
  PetscInt time_width; /* E, width of the time embedding */

  /* score cache: the softmax (and its tangent) of every block and head, kept for the reverse pass when it fits */
  PetscReal  score_memory;    /* budget in MB per rank; 0 always recomputes */
  PetscReal *scores;          /* [L][H][n][N], or [L][H][n][2N] rows [dP | P] with tangents */
  PetscInt   scores_capacity; /* entries allocated in scores */
  PetscBool  cache;           /* the current call keeps its scores in at->scores */

  /* parameter layout */
  PetscInt             off_in;     /* W_in [d][D], b_in [D] */
  PetscInt             off_time;   /* a [E], c [E], W_t [E][D], b_t [D] */
  PetscInt             off_blocks; /* first block */
  PetscInt             off_head;   /* w_h [D], b_h */
  AttentionBlockLayout bl;

  /* workspace: allocations sized by the local particle count, by the key count of one pass (N, or the largest share with the ring), and by N for the gathered keys */
  PetscInt             cap_local, cap_global, tile; /* particles per rank, keys per pass, query rows per tile */
  PetscInt             cap_keys;                    /* particles whose gathered keys fit in chunk_keys */
  PetscReal           *chunk_local, *chunk_global, *chunk_keys;
  AttentionBlockState *blk;                         /* [L] */
  PetscReal           *xin;                         /* positions and cotangents [rows][d] */
  PetscReal           *h;                           /* residual stream [rows][D] */
  PetscReal           *bh, *bd, *bq, *bf, *bx;      /* reverse-pass gradients [rows][D], [rows][D], [rows][3D], [rows][F], [rows][d] */
  PetscReal           *bkv;                         /* key and value gradients of all particles [N][4D] */
  PetscReal           *kvloc;                       /* this rank's keys and values, packed for MPI [n][4D] */
  PetscReal           *PP, *BB;                     /* one tile: softmax and score gradients, rows [dX | X] of width 2N with tangents, else N */
  PetscReal           *QQ, *OB;                     /* one tile of one head: [q | dq] and output gradients packed side by side [tile][2Dh] */
  PetscReal           *KK, *VV, *KD, *VD;           /* keys and values of one head packed for tangents: [k ; dk], [v ; dv] [2N][Dh], [dk | k], [v | dv] [N][2Dh] */
  PetscReal           *dsum;                        /* per tile row: bar_o . o and its tangent [2 tile] */
  PetscReal           *mask;                        /* log w_j added to the scores [N] */
  PetscReal           *seeds;                       /* w_i [n] */
  PetscReal           *temb;                        /* time embedding: z [E], u = silu(z) [E], silu'(z) [E], e [D], column sums [D] */
  PetscMPIInt         *pcounts, *pdispls, *counts, *displs;

  /* ring exchange (attentionring.c): key-value blocks and gradient accumulators in flight, and per-row sums of the online softmax */
  PetscBool   ring;                    /* the current call passes blocks around the ring */
  PetscReal  *ring_chunk;              /* one allocation for the buffers below */
  PetscReal  *ringbuf[2];              /* key-value blocks [ring_rows][kvw + 1]: the one in use and the next */
  PetscReal  *ringgrad[3];             /* gradient accumulators [ring_rows][kvw]: received, and two in use or in flight */
  PetscReal  *runsum;                  /* running softmax denominators [n][H] */
  PetscInt    ring_rows, ring_local;   /* capacity in block rows and in local particles */
  PetscMPIInt ring_tag[2];             /* message tags of blocks and of gradient accumulators */

  /* the current call */
  PetscInt    n, N, start; /* particles on this rank, in all, first global index */
  PetscMPIInt rank, size;  /* this rank and the rank count of the communicator */
  PetscBool   tangent;     /* tangent rows are on (products) */
  PetscBool   masses;      /* mask is not constant */
} Attention;

PETSC_INTERN PetscErrorCode AttentionReserve(WLMPotential, PetscInt, PetscInt);
PETSC_INTERN PetscErrorCode AttentionReserveKeys(WLMPotential, PetscInt);
PETSC_INTERN PetscErrorCode AttentionFreeWorkspace(Attention *);
PETSC_INTERN PetscErrorCode AttentionBeginCall(WLMPotential, PetscInt, const PetscReal[], PetscBool);
PETSC_INTERN PetscErrorCode AttentionForward(WLMPotential, PetscReal, const PetscReal[], const PetscReal[], PetscReal *);
PETSC_INTERN PetscErrorCode AttentionReverse(WLMPotential, PetscReal, PetscReal[]);
PETSC_INTERN PetscErrorCode AttentionHeadsForward(WLMPotential, AttentionBlockState *);
PETSC_INTERN PetscErrorCode AttentionFreeScores(Attention *);
PETSC_INTERN PetscErrorCode AttentionHeadsReverse(WLMPotential, AttentionBlockState *, const PetscReal[], PetscReal[]);
PETSC_INTERN PetscErrorCode AttentionGatherKeys(WLMPotential, AttentionBlockState *);
PETSC_INTERN void           AttentionCopyRows(PetscInt, PetscInt, const PetscReal *, PetscInt, PetscReal *, PetscInt);
PETSC_INTERN void           AttentionPackHead(Attention *, const AttentionKeys *, PetscInt);
PETSC_INTERN void           AttentionRowDots(Attention *, AttentionBlockState *, const PetscReal *, PetscInt, PetscInt, PetscInt);
PETSC_INTERN void           AttentionTileReverse(Attention *, AttentionBlockState *, const AttentionKeys *, const PetscReal *, const PetscReal *, PetscReal *, PetscInt, PetscInt, PetscInt, PetscReal);
PETSC_INTERN void           AttentionTileReverseTangent(Attention *, AttentionBlockState *, const AttentionKeys *, const PetscReal *, const PetscReal *, PetscReal *, PetscInt, PetscInt, PetscInt, PetscReal);
PETSC_INTERN PetscErrorCode AttentionRingReserve(WLMPotential, PetscInt, PetscInt);
PETSC_INTERN PetscErrorCode AttentionRingFree(Attention *);
PETSC_INTERN PetscErrorCode AttentionRingForward(WLMPotential, AttentionBlockState *);
PETSC_INTERN PetscErrorCode AttentionRingReverse(WLMPotential, AttentionBlockState *, const PetscReal[], PetscReal[]);

#endif
