/*
   Primal network simplex for the transportation problem between N supply
   nodes (masses A_i > 0) and M demand nodes (masses B_j > 0), sum A = sum B,
   with an arc i -> j of cost c_ij = |x_i - y_j|^p (p = 1 or 2) for every
   pair:

     min sum_ij F_ij c_ij   over F >= 0 with  sum_j F_ij = A_i,  sum_i F_ij = B_j.

   Masses and flows are 64-bit integers, so flows are exact and the tests of
   zero flow that keep the basis strongly feasible are exact too.  Costs are
   never stored: the solver computes c_ij from the coordinates when it needs
   one, so memory is O(N + M).

   Basis.  A spanning tree on the N + M nodes and an extra root node r, with
   artificial arcs i -> r and r -> j of cost ART = (N + M) cmax + 1 (cmax
   bounds every c_ij, so no optimal solution routes mass through r).  The
   start is the tree of all artificial arcs, carrying A_i and B_j.  Each node
   v stores the tree arc to its parent.  Real arcs go from supply to demand
   nodes, so that arc points from v to the parent when v is a supply node and
   from the parent to v when v is a demand node.  With node potentials pi the
   reduced cost of i -> j is rc_ij = c_ij + pi_i - pi_j, zero on tree arcs.

   Pivot.
     1. Entering arc: block search.  Reduced costs are priced in blocks of
        about sqrt(N M) arcs, cyclically over all arcs, and the most negative
        arc of the first block that has one below -tol enters.  When a full
        round finds none, the potentials are recomputed from the tree and the
        prices checked once more, so rounding in the potentials cannot stop
        the solver early.
     2. Leaving arc: the arc i -> j closes a cycle with the tree paths from i
        and j to their common ancestor (the apex).  Mass moves along i -> j,
        up from j to the apex and down from the apex to i, so the blocking
        arcs are the tree arcs of demand nodes on the j side and of supply
        nodes on the i side.  Of those with the least flow, the last one met
        when walking the cycle from the apex in the direction of the moving
        mass leaves.  This rule of Cunningham (1976) keeps every zero-flow tree
        arc pointing away from the root (a strongly feasible tree), which
        rules out cycling.
     3. Update: move the flow, swap the arcs, reverse the parent links on
        the path from the entering arc's endpoint to the leaving arc, and
        shift the potentials (and depths) of the subtree that was re-hung.

   Optimality: all reduced costs >= -tol, with tol = 1e-12 cmax unless the
   potentials are larger than about 4.5 cmax (then 2.2e-13 times the largest
   potential, the level of their rounding), so the cost is within
   tol * sum A of the optimum.
*/
#include "networksimplex.h"

/* On x86-64 the pricing loop is compiled for AVX-512, AVX2+FMA and the baseline, and the loader picks one for the CPU. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && __GNUC__ >= 11
  #define WLM_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
  #define WLM_VECTOR_CLONES
#endif

typedef struct {
  PetscInt         N, M, V, root, dim, p;
  const PetscReal *xt, *yt;   /* coordinates transposed, [dim][N] and [dim][M] */
  PetscInt        *parent;    /* parent in the tree; -1 for the root */
  PetscInt        *depth;     /* edges from the root */
  PetscInt        *first, *next, *prev; /* children as doubly linked lists */
  PetscInt        *stack;     /* traversal workspace */
  int64_t         *flow;      /* flow on the tree arc of each node */
  PetscReal       *pi;        /* node potentials */
  PetscReal       *rc;        /* reduced costs of one row segment */
  PetscReal        cmax;      /* bound on the cost of a real arc */
  PetscReal        art;       /* cost of an artificial arc */
  PetscReal        tol;       /* reduced costs below -tol are negative */
  PetscInt64       block;     /* arcs per pricing block */
  PetscInt         row, col;  /* where the next pricing block starts */
} Simplex;

/* Cost of the arc from supply node i to demand j. */
static inline PetscReal ArcCost(const Simplex *ns, PetscInt i, PetscInt j)
{
  PetscReal c = 0;

  for (PetscInt k = 0; k < ns->dim; k++) {
    const PetscReal d = ns->xt[k * ns->N + i] - ns->yt[k * ns->M + j];

    c += d * d;
  }
  return ns->p == 1 ? PetscSqrtReal(c) : c;
}

/* Cost of the tree arc between v and its parent. */
static inline PetscReal TreeArcCost(const Simplex *ns, PetscInt v)
{
  const PetscInt u = ns->parent[v];

  if (u == ns->root) return ns->art;
  return v < ns->N ? ArcCost(ns, v, u - ns->N) : ArcCost(ns, u, v - ns->N);
}

static inline void AddChild(Simplex *ns, PetscInt u, PetscInt v)
{
  const PetscInt f = ns->first[u];

  ns->next[v] = f;
  ns->prev[v] = -1;
  if (f >= 0) ns->prev[f] = v;
  ns->first[u] = v;
}

static inline void RemoveChild(Simplex *ns, PetscInt u, PetscInt v)
{
  if (ns->prev[v] >= 0) ns->next[ns->prev[v]] = ns->next[v];
  else ns->first[u] = ns->next[v];
  if (ns->next[v] >= 0) ns->prev[ns->next[v]] = ns->prev[v];
}

/*
   Potentials from the tree: pi_v = pi_u - c for a supply node v below u,
   pi_u + c for a demand node.  The root gets +ART or -ART, whichever puts
   most of its children at 0: in the last pivots only zero-flow arcs i -> r
   remain on the root, so the potentials are then of the size of the costs
   and keep their precision.  The tolerance follows the size of the
   potentials, because rounding in them shows up in the reduced costs.
*/
static void RecomputePotentials(Simplex *ns)
{
  PetscInt  top = 0, nsupply = 0;
  PetscReal largest = 0;

  for (PetscInt c = ns->first[ns->root]; c >= 0; c = ns->next[c]) {
    ns->stack[top++] = c;
    if (c < ns->N) nsupply++;
  }
  ns->pi[ns->root] = 2 * nsupply >= top ? ns->art : -ns->art;
  while (top > 0) {
    const PetscInt  v = ns->stack[--top];
    const PetscReal c = TreeArcCost(ns, v);

    ns->pi[v] = v < ns->N ? ns->pi[ns->parent[v]] - c : ns->pi[ns->parent[v]] + c;
    largest   = PetscMax(largest, PetscAbsReal(ns->pi[v]));
    for (PetscInt w = ns->first[v]; w >= 0; w = ns->next[w]) ns->stack[top++] = w;
  }
  ns->tol = PetscMax(1e-12 * ns->cmax, 1e3 * PETSC_MACHINE_EPSILON * largest);
}

/* Reduced costs of arcs (i, j0 .. j0 + len - 1) into ns->rc; returns the smallest and its offset. */
WLM_VECTOR_CLONES
static PetscReal PriceSegment(Simplex *ns, PetscInt i, PetscInt j0, PetscInt len, PetscInt *arg)
{
  const PetscInt   N = ns->N, M = ns->M;
  const PetscReal *pj = ns->pi + N + j0;
  PetscReal       *rc = ns->rc, low = PETSC_MAX_REAL;

#pragma omp simd
  for (PetscInt j = 0; j < len; j++) rc[j] = 0;
  for (PetscInt k = 0; k < ns->dim; k++) {
    const PetscReal  xk = ns->xt[k * N + i];
    const PetscReal *yk = ns->yt + k * M + j0;

#pragma omp simd
    for (PetscInt j = 0; j < len; j++) rc[j] += (xk - yk[j]) * (xk - yk[j]);
  }
  if (ns->p == 1) {
#pragma omp simd
    for (PetscInt j = 0; j < len; j++) rc[j] = PetscSqrtReal(rc[j]);
  }
  {
    const PetscReal pii = ns->pi[i];

#pragma omp simd reduction(min : low)
    for (PetscInt j = 0; j < len; j++) {
      rc[j] += pii - pj[j];
      low = PetscMin(low, rc[j]);
    }
  }
  *arg = 0;
  if (low < -ns->tol) {
    for (PetscInt j = 0; j < len; j++) {
      if (rc[j] == low) {
        *arg = j;
        break;
      }
    }
  }
  return low;
}

/*
   Block search for an entering arc.  Returns PETSC_FALSE when a whole round
   over the N M arcs found no reduced cost below -tol.
*/
static PetscBool FindEntering(Simplex *ns, PetscInt *ei, PetscInt *ej, PetscReal *erc, WLMTransportStats *stats)
{
  const PetscInt64 total = (PetscInt64)ns->N * ns->M;
  PetscInt64       scanned = 0, inblock = 0;
  PetscInt         i = ns->row, j = ns->col, bi = -1, bj = -1;
  PetscReal        best = -ns->tol;

  while (scanned < total) {
    const PetscInt len = (PetscInt)PetscMin((PetscInt64)(ns->M - j), PetscMin(ns->block - inblock, total - scanned));
    PetscInt       arg;
    PetscReal      low = PriceSegment(ns, i, j, len, &arg);

    if (low < best) {
      best = low;
      bi   = i;
      bj   = j + arg;
    }
    scanned += len;
    inblock += len;
    j += len;
    if (j == ns->M) {
      j = 0;
      i = i + 1 == ns->N ? 0 : i + 1;
    }
    if (inblock == ns->block) {
      if (bi >= 0) break;
      inblock = 0;
    }
  }
  stats->priced += scanned;
  ns->row = i;
  ns->col = j;
  *ei     = bi;
  *ej     = bj;
  *erc    = best;
  return bi >= 0 ? PETSC_TRUE : PETSC_FALSE;
}

/*
   Reverses the parent links on the path from a up to out, the node whose
   tree arc leaves, and hangs a below b with flow enter.  Then shifts the
   potentials of the re-hung subtree by shift and resets its depths.
*/
static void Rehang(Simplex *ns, PetscInt a, PetscInt b, PetscInt out, int64_t enter, PetscReal shift)
{
  PetscInt v = a, newparent = b, top = 0;
  int64_t  newflow = enter;

  for (;;) {
    const PetscInt oldparent = ns->parent[v];
    const int64_t  oldflow   = ns->flow[v];

    RemoveChild(ns, oldparent, v);
    AddChild(ns, newparent, v);
    ns->parent[v] = newparent;
    ns->flow[v]   = newflow;
    if (v == out) break;
    newparent = v;
    newflow   = oldflow;
    v         = oldparent;
  }
  ns->stack[top++] = a;
  while (top > 0) {
    const PetscInt w = ns->stack[--top];

    ns->pi[w] += shift;
    ns->depth[w] = ns->depth[ns->parent[w]] + 1;
    for (PetscInt c = ns->first[w]; c >= 0; c = ns->next[c]) ns->stack[top++] = c;
  }
}

/* One pivot on the entering arc from supply i to demand j with reduced cost rc < 0. */
static PetscErrorCode Pivot(Simplex *ns, PetscInt i, PetscInt j, PetscReal rc, WLMTransportStats *stats)
{
  const PetscInt vi = i, vj = ns->N + j;
  PetscInt       u = vi, w = vj, apex, outi = -1, outj = -1;
  int64_t        deltai = INT64_MAX, deltaj = INT64_MAX;

  PetscFunctionBeginUser;
  while (u != w) {
    if (ns->depth[u] > ns->depth[w]) u = ns->parent[u];
    else if (ns->depth[w] > ns->depth[u]) w = ns->parent[w];
    else {
      u = ns->parent[u];
      w = ns->parent[w];
    }
  }
  apex = u;

  /* blocking arcs; ties: nearest to i on the i side, nearest to the apex on the j side, and the j side first */
  for (PetscInt v = vi; v != apex; v = ns->parent[v]) {
    if (v < ns->N && ns->flow[v] < deltai) {
      deltai = ns->flow[v];
      outi   = v;
    }
  }
  for (PetscInt v = vj; v != apex; v = ns->parent[v]) {
    if (v >= ns->N && ns->flow[v] <= deltaj) {
      deltaj = ns->flow[v];
      outj   = v;
    }
  }
  PetscCheck(outi >= 0 || outj >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Network simplex found a cycle without a blocking arc");

  {
    const PetscBool jside = (PetscBool)(deltaj <= deltai);
    const int64_t   delta = jside ? deltaj : deltai;

    if (delta > 0) {
      for (PetscInt v = vi; v != apex; v = ns->parent[v]) ns->flow[v] += v < ns->N ? -delta : delta;
      for (PetscInt v = vj; v != apex; v = ns->parent[v]) ns->flow[v] += v < ns->N ? delta : -delta;
    } else stats->degenerate++;
    if (jside) Rehang(ns, vj, vi, outj, delta, rc);
    else Rehang(ns, vi, vj, outi, delta, -rc);
  }
  stats->pivots++;
  PetscFunctionReturn(0);
}

/* Largest cost: the diagonal of the bounding box of both clouds, to the power p. */
static PetscReal CostBound(const Simplex *ns)
{
  PetscReal diag2 = 0;

  for (PetscInt k = 0; k < ns->dim; k++) {
    PetscReal lo = ns->xt[k * ns->N], hi = lo;

    for (PetscInt i = 0; i < ns->N; i++) {
      lo = PetscMin(lo, ns->xt[k * ns->N + i]);
      hi = PetscMax(hi, ns->xt[k * ns->N + i]);
    }
    for (PetscInt j = 0; j < ns->M; j++) {
      lo = PetscMin(lo, ns->yt[k * ns->M + j]);
      hi = PetscMax(hi, ns->yt[k * ns->M + j]);
    }
    diag2 += (hi - lo) * (hi - lo);
  }
  return ns->p == 1 ? PetscSqrtReal(diag2) : diag2;
}

/* The tree of artificial arcs: every node hangs on the root and carries its mass. */
static void StartTree(Simplex *ns, const int64_t A[], const int64_t B[])
{
  ns->parent[ns->root] = -1;
  ns->depth[ns->root]  = 0;
  ns->flow[ns->root]   = 0;
  ns->first[ns->root]  = -1;
  for (PetscInt v = 0; v < ns->root; v++) {
    ns->parent[v] = ns->root;
    ns->depth[v]  = 1;
    ns->flow[v]   = v < ns->N ? A[v] : B[v - ns->N];
    ns->first[v]  = -1;
    AddChild(ns, ns->root, v);
  }
  RecomputePotentials(ns);
}

/*
  WLMTransportNetworkSimplex - Solves the transportation problem; returns sum_ij F_ij c_ij for the optimal integer flow F.

  Input Parameters:
+ p      - exponent of the cost |x - y|^p, 1 or 2
. dim    - dimension
. N, xt  - supply nodes and their coordinates [dim][N]
. A      - supplies, all positive
. M, yt  - demand nodes and their coordinates [dim][M]
- B      - demands, all positive, with the same total as A

  Output Parameters:
+ cost  - the optimal cost in units of mass times cost
- stats - counters of the solve
*/
PetscErrorCode WLMTransportNetworkSimplex(PetscInt p, PetscInt dim, PetscInt N, const PetscReal xt[], const int64_t A[], PetscInt M, const PetscReal yt[], const int64_t B[], PetscReal *cost, WLMTransportStats *stats)
{
  Simplex   ns;
  PetscReal cmax, sum = 0, comp = 0;
  PetscInt  i, j;
  PetscReal rc;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(stats, sizeof(*stats)));
  ns.N    = N;
  ns.M    = M;
  ns.V    = N + M + 1;
  ns.root = N + M;
  ns.dim  = dim;
  ns.p    = p;
  ns.xt   = xt;
  ns.yt   = yt;
  cmax    = CostBound(&ns);
  if (cmax == 0) {
    /* every point of both clouds is the same point */
    *cost = 0;
    PetscFunctionReturn(0);
  }
  ns.cmax  = cmax;
  ns.art   = (N + M) * cmax + 1;
  ns.block = PetscMax(16, (PetscInt64)PetscSqrtReal((PetscReal)N * (PetscReal)M));
  ns.row   = 0;
  ns.col   = 0;
  PetscCall(PetscMalloc6(ns.V, &ns.parent, ns.V, &ns.depth, ns.V, &ns.first, ns.V, &ns.next, ns.V, &ns.prev, ns.V, &ns.stack));
  PetscCall(PetscMalloc3(ns.V, &ns.flow, ns.V, &ns.pi, M, &ns.rc));
  StartTree(&ns, A, B);

  for (;;) {
    if (!FindEntering(&ns, &i, &j, &rc, stats)) {
      /* confirm optimality with potentials free of accumulated rounding */
      RecomputePotentials(&ns);
      stats->recomputes++;
      if (!FindEntering(&ns, &i, &j, &rc, stats)) break;
    }
    PetscCall(Pivot(&ns, i, j, rc, stats));
    if (stats->pivots % ns.V == 0) {
      RecomputePotentials(&ns);
      stats->recomputes++;
    }
  }

  /* cost of the real tree arcs (Neumaier's compensated sum); artificial arcs must be empty */
  for (PetscInt v = 0; v < ns.root; v++) {
    PetscReal term, t;

    if (ns.parent[v] == ns.root) {
      PetscCheck(ns.flow[v] == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "Network simplex ended with mass %" PetscInt64_FMT " on an artificial arc", (PetscInt64)ns.flow[v]);
      continue;
    }
    term = (PetscReal)ns.flow[v] * TreeArcCost(&ns, v);
    t    = sum + term;
    comp += PetscAbsReal(sum) >= PetscAbsReal(term) ? (sum - t) + term : (term - t) + sum;
    sum = t;
  }
  *cost = sum + comp;
  PetscCall(PetscLogFlops((3.0 * dim + 2.0) * (PetscReal)stats->priced));
  PetscCall(PetscFree6(ns.parent, ns.depth, ns.first, ns.next, ns.prev, ns.stack));
  PetscCall(PetscFree3(ns.flow, ns.pi, ns.rc));
  PetscFunctionReturn(0);
}
