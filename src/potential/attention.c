/*
   attention: a set transformer over the particles,

     h_i   = x_i W_in + b_in [+ e(t)],        e(t) = silu(t a + c) W_t + b_t   (time input only)
     for each of L blocks:
       h  += MHA(LN1(h)) W_o + b_o            multi-head self-attention over all particles
       h  += gelu(LN2(h) W_1 + b_1) W_2 + b_2
     psi_i = h_i . w_h + b_h,                 U = sum_i w_i psi_i

   with LN a LayerNorm (gain and shift per feature, epsilon 1e-5), GELU in
   its tanh form 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))), and MHA
   with H heads of width D/H whose scores are c q_i . k_j + log w_j, so
   that attention averages over partners by mass (attentionheads.c).  With
   uniform masses the acceleration F_i / w_i = -grad_{x_i} sum_j psi_j.

   There is no dropout, because the integrator's adjoint needs the products
   of the same deterministic force field that the forward rollout integrated.

   Parameter layout, in this order:
     W_in [d][D], b_in [D]
     with time input: a [E], c [E], W_t [E][D], b_t [D]
     per block: LN1 gain and shift [D] each, W_qkv [D][3D], b_qkv [3D],
       W_o [D][D], b_o [D], LN2 gain and shift [D] each, W_1 [D][F],
       b_1 [F], W_2 [F][D], b_2 [D]
     w_h [D], b_h

   Initialization: LayerNorm gains 1 and shifts 0.  Every linear map with
   fan-in k, including the attention projections and the head, draws its
   weights and biases uniformly from (-1/sqrt(k), 1/sqrt(k)), the default of
   PyTorch's nn.Linear.  PyTorch's nn.MultiheadAttention initializes its
   projections differently, but here they are plain linear layers.

   Forces, products and the parameter gradient: see attentionpass.c.
*/
#include "attention.h"
#include <wlm/private/h5util.h>

static PetscErrorCode CheckSizes(MPI_Comm comm, PetscInt hidden, PetscInt heads, PetscInt layers, PetscInt ffn, PetscInt time_width)
{
  PetscFunctionBeginUser;
  PetscCheck(hidden >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "Attention hidden width %" PetscInt_FMT " is invalid; it must be at least 1", hidden);
  PetscCheck(heads >= 1 && hidden % heads == 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "%" PetscInt_FMT " attention heads do not divide the hidden width %" PetscInt_FMT "; choose a divisor", heads, hidden);
  PetscCheck(layers >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "Attention block count %" PetscInt_FMT " is invalid; it must be at least 1", layers);
  PetscCheck(ffn >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "Feed-forward width %" PetscInt_FMT " is invalid; it must be at least 1", ffn);
  PetscCheck(time_width >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "Time embedding width %" PetscInt_FMT " is invalid; it must be at least 1", time_width);
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetUp_Attention(WLMPotential pot)
{
  Attention            *at = (Attention *)pot->data;
  AttentionBlockLayout *bl = &at->bl;
  const PetscInt        D = at->hidden, F = at->ffn, E = at->time_width, d = pot->dim;

  PetscFunctionBeginUser;
  PetscCall(CheckSizes(PetscObjectComm((PetscObject)pot), at->hidden, at->heads, at->layers, at->ffn, at->time_width));
  PetscCall(AttentionFreeWorkspace(at));
  PetscCall(AttentionFreeScores(at));
  bl->g1         = 0;
  bl->beta1      = D;
  bl->wqkv       = 2 * D;
  bl->bqkv       = bl->wqkv + 3 * D * D;
  bl->wo         = bl->bqkv + 3 * D;
  bl->bo         = bl->wo + D * D;
  bl->g2         = bl->bo + D;
  bl->beta2      = bl->g2 + D;
  bl->w1         = bl->beta2 + D;
  bl->b1         = bl->w1 + D * F;
  bl->w2         = bl->b1 + F;
  bl->b2         = bl->w2 + F * D;
  bl->size       = bl->b2 + D;
  at->off_in     = 0;
  at->off_time   = d * D + D;
  at->off_blocks = at->off_time + (pot->time_input ? 2 * E + E * D + D : 0);
  at->off_head   = at->off_blocks + at->layers * bl->size;
  pot->nparam    = at->off_head + D + 1;
  if (pot->max_global > 0) {
    PetscBool ring;

    /* with the ring no buffer contains all particles, because the blocks are at most the largest local share */
    PetscCall(WLMPotentialUseRing(pot, pot->max_global, &ring));
    PetscCall(AttentionReserve(pot, pot->max_local, ring ? pot->max_local : pot->max_global));
    if (!ring) PetscCall(AttentionReserveKeys(pot, pot->max_global));
  }
  PetscFunctionReturn(0);
}

/* Draws a linear map with fan-in k (weights then bias, nout outputs) from its own stream. */
static void InitializeLinear(uint64_t seed, uint64_t stream, PetscInt k, PetscInt nout, PetscReal *p)
{
  WLMRandom rng;

  WLMRandomSeed(&rng, seed, stream);
  WLMDenseUniform(&rng, (k + 1) * nout, 1.0 / PetscSqrtReal((PetscReal)k), p);
}

static PetscErrorCode WLMPotentialInitialize_Attention(WLMPotential pot, uint64_t seed)
{
  Attention                  *at = (Attention *)pot->data;
  const AttentionBlockLayout *bl = &at->bl;
  const PetscInt              D = at->hidden, F = at->ffn, E = at->time_width, d = pot->dim;
  PetscReal                  *theta = pot->theta;

  PetscFunctionBeginUser;
  InitializeLinear(seed, 0, d, D, theta + at->off_in);
  if (pot->time_input) {
    InitializeLinear(seed, 1, 1, E, theta + at->off_time);
    InitializeLinear(seed, 2, E, D, theta + at->off_time + 2 * E);
  }
  for (PetscInt l = 0; l < at->layers; l++) {
    PetscReal *p = theta + at->off_blocks + l * bl->size;

    for (PetscInt k = 0; k < D; k++) {
      p[bl->g1 + k]    = 1.0;
      p[bl->beta1 + k] = 0.0;
      p[bl->g2 + k]    = 1.0;
      p[bl->beta2 + k] = 0.0;
    }
    InitializeLinear(seed, 3 + 4 * l, D, 3 * D, p + bl->wqkv);
    InitializeLinear(seed, 4 + 4 * l, D, D, p + bl->wo);
    InitializeLinear(seed, 5 + 4 * l, D, F, p + bl->w1);
    InitializeLinear(seed, 6 + 4 * l, F, D, p + bl->w2);
  }
  InitializeLinear(seed, 3 + 4 * at->layers, D, 1, theta + at->off_head);
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialEnergy_Attention(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U)
{
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCall(AttentionBeginCall(pot, n, w, PETSC_FALSE));
  PetscCall(AttentionForward(pot, t, x, NULL, U));
  PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
  if (size > 1) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, U, 1, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)pot)));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialForces_Attention(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U, PetscReal *F)
{
  Attention  *at = (Attention *)pot->data;
  PetscReal   Ulocal;
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCall(AttentionBeginCall(pot, n, w, PETSC_FALSE));
  PetscCall(AttentionForward(pot, t, x, NULL, &Ulocal));
  PetscCall(AttentionReverse(pot, t, NULL));
  for (PetscInt e = 0; e < n * pot->dim; e++) F[e] = -at->bx[e];
  if (U) {
    *U = Ulocal;
    PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
    if (size > 1) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, U, 1, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)pot)));
  }
  PetscFunctionReturn(0);
}

/* The reverse-tangent pass gives dU/dx in its primal rows, so U and F come with the products. */
static PetscErrorCode WLMPotentialForcesProducts_Attention(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscReal *U, PetscReal *F, PetscReal *gradx, PetscReal *gradtheta)
{
  Attention  *at = (Attention *)pot->data;
  PetscReal   Ulocal;
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCall(AttentionBeginCall(pot, n, w, PETSC_TRUE));
  PetscCall(AttentionForward(pot, t, x, lambda, &Ulocal));
  PetscCall(AttentionReverse(pot, t, gradtheta));
  if (F) {
    for (PetscInt e = 0; e < n * pot->dim; e++) F[e] = -at->bx[e];
  }
  if (gradx) {
    for (PetscInt e = 0; e < n * pot->dim; e++) gradx[e] = -at->bx[n * pot->dim + e];
  }
  if (U) {
    *U = Ulocal;
    PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
    if (size > 1) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, U, 1, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)pot)));
  }
  PetscFunctionReturn(0);
}

/* The reverse pass without tangents accumulates grad_theta U in its parameter part. */
static PetscErrorCode WLMPotentialParameterGradient_Attention(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, PetscReal *U, PetscReal *gradtheta)
{
  PetscReal   Ulocal;
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCall(AttentionBeginCall(pot, n, w, PETSC_FALSE));
  PetscCall(AttentionForward(pot, t, x, NULL, &Ulocal));
  PetscCall(AttentionReverse(pot, t, gradtheta));
  if (U) {
    *U = Ulocal;
    PetscCallMPI(MPI_Comm_size(PetscObjectComm((PetscObject)pot), &size));
    if (size > 1) PetscCall(MPIU_Allreduce(MPI_IN_PLACE, U, 1, MPIU_REAL, MPIU_SUM, PetscObjectComm((PetscObject)pot)));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialProducts_Attention(WLMPotential pot, PetscReal t, PetscInt n, const PetscReal *x, const PetscReal *w, const PetscReal *lambda, PetscReal *gradx, PetscReal *gradtheta)
{
  PetscFunctionBeginUser;
  PetscCall(WLMPotentialForcesProducts_Attention(pot, t, n, x, w, lambda, NULL, NULL, gradx, gradtheta));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSetFromOptions_Attention(WLMPotential pot, PetscOptionItems *PetscOptionsObject)
{
  Attention *at = (Attention *)pot->data;

  PetscFunctionBeginUser;
  PetscOptionsHeadBegin(PetscOptionsObject, "Attention potential options");
  PetscCall(PetscOptionsInt("-wlm_potential_attention_hidden", "Hidden width D of the transformer", "WLMPotentialAttentionSetSizes", at->hidden, &at->hidden, NULL));
  PetscCall(PetscOptionsInt("-wlm_potential_attention_heads", "Attention heads H; must divide the hidden width", "WLMPotentialAttentionSetSizes", at->heads, &at->heads, NULL));
  PetscCall(PetscOptionsInt("-wlm_potential_attention_layers", "Transformer blocks L", "WLMPotentialAttentionSetSizes", at->layers, &at->layers, NULL));
  PetscCall(PetscOptionsInt("-wlm_potential_attention_ffn", "Width F of the feed-forward layer of each block", "WLMPotentialAttentionSetSizes", at->ffn, &at->ffn, NULL));
  PetscCall(PetscOptionsInt("-wlm_potential_attention_time_width", "Width E of the time embedding (used with time input)", "WLMPotentialAttentionSetSizes", at->time_width, &at->time_width, NULL));
  PetscCall(PetscOptionsReal("-wlm_potential_attention_score_memory", "Memory in MB per rank for keeping attention scores between the forward and reverse passes with the gather exchange; 0 recomputes them, and the ring exchange always recomputes them", "WLMPotentialAttentionSetScoreMemory", at->score_memory, &at->score_memory, NULL));
  PetscOptionsHeadEnd();
  PetscCall(CheckSizes(PetscObjectComm((PetscObject)pot), at->hidden, at->heads, at->layers, at->ffn, at->time_width));
  PetscCheck(at->score_memory >= 0, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "Score memory %g MB is invalid; give a size >= 0", (double)at->score_memory);
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialView_Attention(WLMPotential pot, PetscViewer viewer)
{
  Attention *at = (Attention *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(PetscViewerASCIIPrintf(viewer, "hidden width %" PetscInt_FMT ", %" PetscInt_FMT " heads, %" PetscInt_FMT " blocks, feed-forward width %" PetscInt_FMT ", time embedding width %" PetscInt_FMT "%s\n", at->hidden, at->heads, at->layers, at->ffn, at->time_width, pot->time_input ? "" : " (no time input)"));
  PetscCall(PetscViewerASCIIPrintf(viewer, "pre-LayerNorm blocks, GELU (tanh form), scores shifted by log mass\n"));
  PetscCall(PetscViewerASCIIPrintf(viewer, "keeps scores between passes within %g MB per rank (gather exchange only)\n", (double)at->score_memory));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialSave_Attention(WLMPotential pot, hid_t group)
{
  Attention *at = (Attention *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(WLMH5WriteAttributeInt(group, "attention_hidden", at->hidden));
  PetscCall(WLMH5WriteAttributeInt(group, "attention_heads", at->heads));
  PetscCall(WLMH5WriteAttributeInt(group, "attention_layers", at->layers));
  PetscCall(WLMH5WriteAttributeInt(group, "attention_ffn", at->ffn));
  PetscCall(WLMH5WriteAttributeInt(group, "attention_time_width", at->time_width));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialLoad_Attention(WLMPotential pot, hid_t group)
{
  PetscInt64 v[5];

  PetscFunctionBeginUser;
  PetscCall(WLMH5ReadAttributeInt(group, "attention_hidden", &v[0]));
  PetscCall(WLMH5ReadAttributeInt(group, "attention_heads", &v[1]));
  PetscCall(WLMH5ReadAttributeInt(group, "attention_layers", &v[2]));
  PetscCall(WLMH5ReadAttributeInt(group, "attention_ffn", &v[3]));
  PetscCall(WLMH5ReadAttributeInt(group, "attention_time_width", &v[4]));
  PetscCall(WLMPotentialAttentionSetSizes(pot, (PetscInt)v[0], (PetscInt)v[1], (PetscInt)v[2], (PetscInt)v[3], (PetscInt)v[4]));
  PetscFunctionReturn(0);
}

static PetscErrorCode WLMPotentialDestroy_Attention(WLMPotential pot)
{
  Attention *at = (Attention *)pot->data;

  PetscFunctionBeginUser;
  PetscCall(AttentionFreeWorkspace(at));
  PetscCall(AttentionFreeScores(at));
  PetscCall(PetscFree4(at->pcounts, at->pdispls, at->counts, at->displs));
  PetscCall(PetscFree(pot->data));
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialAttentionSetSizes - Sets the sizes of the attention model.

  Logically Collective

  Input Parameters:
+ pot        - the model, of type attention
. hidden     - hidden width D
. heads      - attention heads H, a divisor of D
. layers     - transformer blocks L
. ffn        - width F of each feed-forward layer
- time_width - width E of the time embedding, used with time input

  Options Database Keys:
+ -wlm_potential_attention_hidden <64>     - D
. -wlm_potential_attention_heads <4>       - H
. -wlm_potential_attention_layers <4>      - L
. -wlm_potential_attention_ffn <512>       - F
- -wlm_potential_attention_time_width <16> - E

  Notes:
  Common sizes: D 64, H 4, L 4, F 512 (flocks, gradient flows); D 256, H 1, L 4, F 64 (ocean drifters).
@*/
PetscErrorCode WLMPotentialAttentionSetSizes(WLMPotential pot, PetscInt hidden, PetscInt heads, PetscInt layers, PetscInt ffn, PetscInt time_width)
{
  Attention *at;
  PetscBool  is;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(PetscObjectTypeCompare((PetscObject)pot, WLMPOTENTIALATTENTION, &is));
  PetscCheck(is, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONG, "WLMPotentialAttentionSetSizes() needs an attention potential, not %s", ((PetscObject)pot)->type_name ? ((PetscObject)pot)->type_name : "one without a type");
  PetscCheck(!pot->setupcalled, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONGSTATE, "Call WLMPotentialAttentionSetSizes() before WLMPotentialSetUp()");
  PetscCall(CheckSizes(PetscObjectComm((PetscObject)pot), hidden, heads, layers, ffn, time_width));
  at             = (Attention *)pot->data;
  at->hidden     = hidden;
  at->heads      = heads;
  at->layers     = layers;
  at->ffn        = ffn;
  at->time_width = time_width;
  PetscFunctionReturn(0);
}

/*@
  WLMPotentialAttentionSetScoreMemory - Sets how much memory an attention model may use to keep its attention scores between the forward and reverse passes.

  Logically Collective

  Input Parameters:
+ pot - the model, of type attention
- mb  - budget in MB per rank; 0 recomputes the scores in the reverse pass

  Options Database Key:
. -wlm_potential_attention_score_memory <256> - the budget

  Notes:
  A call keeps the softmax of every block and head, L H n N doubles (twice
  that for products), when that fits the budget; otherwise the reverse pass
  recomputes it tile by tile.  Both give the same results; keeping saves
  about one GEMM and one softmax per tile.  Can be changed at any time.
  The budget applies to the gather exchange only: with
  -wlm_potential_exchange ring the reverse pass always recomputes the
  softmax from the log-sum-exp of each row.
@*/
PetscErrorCode WLMPotentialAttentionSetScoreMemory(WLMPotential pot, PetscReal mb)
{
  PetscBool is;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(pot, WLMPOTENTIAL_CLASSID, 1);
  PetscCall(PetscObjectTypeCompare((PetscObject)pot, WLMPOTENTIALATTENTION, &is));
  PetscCheck(is, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_WRONG, "WLMPotentialAttentionSetScoreMemory() needs an attention potential, not %s", ((PetscObject)pot)->type_name ? ((PetscObject)pot)->type_name : "one without a type");
  PetscCheck(mb >= 0, PetscObjectComm((PetscObject)pot), PETSC_ERR_ARG_OUTOFRANGE, "Score memory %g MB is invalid; give a size >= 0", (double)mb);
  ((Attention *)pot->data)->score_memory = mb;
  PetscFunctionReturn(0);
}

/*MC
  WLMPOTENTIALATTENTION - "attention": a set transformer giving one scalar psi_i per particle, U = sum_i w_i psi_i.

  Options Database Keys:
+ -wlm_potential_attention_hidden <64>     - hidden width
. -wlm_potential_attention_heads <4>       - attention heads
. -wlm_potential_attention_layers <4>      - blocks
. -wlm_potential_attention_ffn <512>       - feed-forward width
. -wlm_potential_attention_time_width <16> - time embedding width
- -wlm_potential_attention_score_memory <256> - MB per rank for keeping scores between passes (gather exchange only)

  Notes:
  A force evaluation costs O(L N^2 D) for the attention and O(L N D F) for
  the rest; the products cost about three times as much.  With the gather
  exchange each rank stores the keys and values of all N particles and
  their tangents for every block (32 L N D bytes), its own activations
  (about 16 L n (8D + 2F) bytes), and score tiles of about 32k entries per
  head.  It keeps the n x N softmax of every block and head only within the
  score-memory budget.  With -wlm_potential_exchange ring (attentionring.c)
  the buffers sized by N are sized by the largest share M instead, no
  buffer contains the keys of all particles, and no score is kept.  The
  key-value blocks and gradient accumulators in flight take about
  8 (20 D + 2) M bytes.
M*/
PETSC_EXTERN PetscErrorCode WLMPotentialCreate_Attention(WLMPotential pot)
{
  Attention *at;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&at));
  at->hidden                  = 64;
  at->heads                   = 4;
  at->layers                  = 4;
  at->ffn                     = 512;
  at->time_width              = 16;
  at->score_memory            = 256.0;
  pot->data                   = at;
  pot->ops->setfromoptions    = WLMPotentialSetFromOptions_Attention;
  pot->ops->setup             = WLMPotentialSetUp_Attention;
  pot->ops->initialize        = WLMPotentialInitialize_Attention;
  pot->ops->energy            = WLMPotentialEnergy_Attention;
  pot->ops->forces            = WLMPotentialForces_Attention;
  pot->ops->products          = WLMPotentialProducts_Attention;
  pot->ops->forcesproducts    = WLMPotentialForcesProducts_Attention;
  pot->ops->parametergradient = WLMPotentialParameterGradient_Attention;
  pot->ops->view              = WLMPotentialView_Attention;
  pot->ops->save              = WLMPotentialSave_Attention;
  pot->ops->load              = WLMPotentialLoad_Attention;
  pot->ops->destroy           = WLMPotentialDestroy_Attention;
  PetscFunctionReturn(0);
}
