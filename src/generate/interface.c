/*
   WLMGenerator life cycle: Create, SetType, the common parameters (particles,
   snapshots, time between snapshots, dimension, seed, velocities),
   SetFromOptions, SetUp, Generate, View and Destroy.  Types live in boids.c,
   sde.c and harmonic.c.
*/
#include "generateimpl.h"

PetscClassId      WLMGENERATOR_CLASSID;
PetscFunctionList WLMGeneratorList = NULL;
PetscLogEvent     WLMGENERATOR_Generate, WLMGENERATOR_Step;

PETSC_EXTERN PetscErrorCode WLMGeneratorCreate_Boids(WLMGenerator);
PETSC_EXTERN PetscErrorCode WLMGeneratorCreate_SDE(WLMGenerator);
PETSC_EXTERN PetscErrorCode WLMGeneratorCreate_Harmonic(WLMGenerator);

static PetscBool WLMGeneratorPackageInitialized = PETSC_FALSE;

static PetscErrorCode WLMGeneratorFinalizePackage(void)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFunctionListDestroy(&WLMGeneratorList));
  WLMGeneratorPackageInitialized = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorInitializePackage - Registers the WLMGenerator class, its types and its log events; WLMGeneratorCreate() calls it.
@*/
PetscErrorCode WLMGeneratorInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMGeneratorPackageInitialized) PetscFunctionReturn(0);
  WLMGeneratorPackageInitialized = PETSC_TRUE;
  PetscCall(WLMSnapshotsInitializePackage());
  PetscCall(PetscClassIdRegister("WLMGenerator", &WLMGENERATOR_CLASSID));
  PetscCall(WLMGeneratorRegister(WLMGENERATORBOIDS, WLMGeneratorCreate_Boids));
  PetscCall(WLMGeneratorRegister(WLMGENERATORSDE, WLMGeneratorCreate_SDE));
  PetscCall(WLMGeneratorRegister(WLMGENERATORHARMONIC, WLMGeneratorCreate_Harmonic));
  PetscCall(PetscLogEventRegister("WLMGenerate", WLMGENERATOR_CLASSID, &WLMGENERATOR_Generate));
  PetscCall(PetscLogEventRegister("WLMGenStep", WLMGENERATOR_CLASSID, &WLMGENERATOR_Step));
  PetscCall(PetscRegisterFinalize(WLMGeneratorFinalizePackage));
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorRegister - Adds a generator type, selectable with WLMGeneratorSetType() and -wlm_generate_type.
@*/
PetscErrorCode WLMGeneratorRegister(const char name[], PetscErrorCode (*create)(WLMGenerator))
{
  PetscFunctionBeginUser;
  PetscCall(WLMGeneratorInitializePackage());
  PetscCall(PetscFunctionListAdd(&WLMGeneratorList, name, create));
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorCreate - Creates a generator with no type.

  Collective

  Input Parameter:
. comm - ranks that share the particles; each rank simulates a contiguous block of them

  Output Parameter:
. gen - the generator

  Level: beginner

.seealso: WLMGeneratorSetType(), WLMGeneratorSetFromOptions(), WLMGeneratorGenerate()
@*/
PetscErrorCode WLMGeneratorCreate(MPI_Comm comm, WLMGenerator *gen)
{
  WLMGenerator g;

  PetscFunctionBeginUser;
  PetscValidPointer(gen, 2);
  PetscCall(WLMGeneratorInitializePackage());
  PetscCall(PetscHeaderCreate(g, WLMGENERATOR_CLASSID, "WLMGenerator", "Synthetic population generator", "WLMGenerator", comm, WLMGeneratorDestroy, WLMGeneratorView));
  g->N          = -1; /* -1: the type's default */
  g->T          = -1;
  g->dt         = -1;
  g->dim        = 2;
  g->seed       = 0;
  g->velocities = PETSC_TRUE;
  *gen          = g;
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSetType - Selects the population: boids, sde or harmonic.

  Collective

  Notes:
  The type fills in its defaults for the particle count, snapshot count,
  time between snapshots and velocities where they were not set.

  Options Database Key:
. -wlm_generate_type <boids|sde|harmonic> - the generator type
@*/
PetscErrorCode WLMGeneratorSetType(WLMGenerator gen, WLMGeneratorType type)
{
  PetscErrorCode (*create)(WLMGenerator);
  PetscBool same;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscCall(PetscObjectTypeCompare((PetscObject)gen, type, &same));
  if (same) PetscFunctionReturn(0);
  PetscCall(PetscFunctionListFind(WLMGeneratorList, type, &create));
  PetscCheck(create, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_UNKNOWN_TYPE, "Unknown generator type \"%s\"; use boids, sde or harmonic", type);
  if (gen->ops->destroy) PetscCall((*gen->ops->destroy)(gen));
  PetscCall(PetscMemzero(gen->ops, sizeof(struct _WLMGeneratorOps)));
  gen->data        = NULL;
  gen->setupcalled = PETSC_FALSE;
  PetscCall(PetscObjectChangeTypeName((PetscObject)gen, type));
  PetscCall((*create)(gen));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMGeneratorGetType(WLMGenerator gen, WLMGeneratorType *type)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  *type = ((PetscObject)gen)->type_name;
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSetNumParticles - Sets the number N of particles over all ranks.

  Logically Collective

  Options Database Key:
. -wlm_generate_n <N> - particles
@*/
PetscErrorCode WLMGeneratorSetNumParticles(WLMGenerator gen, PetscInt N)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscCheck(N >= 1, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_OUTOFRANGE, "Particle count %" PetscInt_FMT " is invalid; generate at least 1 particle", N);
  gen->N           = N;
  gen->nset        = PETSC_TRUE;
  gen->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSetSnapshots - Sets the number of snapshots and the time between them; snapshot k is taken at t = k dt.

  Logically Collective

  Options Database Keys:
+ -wlm_generate_snapshots <T> - snapshots, including the initial one at t = 0
- -wlm_generate_dt <dt>       - time between snapshots
@*/
PetscErrorCode WLMGeneratorSetSnapshots(WLMGenerator gen, PetscInt T, PetscReal dt)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscCheck(T >= 1, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_OUTOFRANGE, "Snapshot count %" PetscInt_FMT " is invalid; generate at least 1 snapshot", T);
  PetscCheck(dt > 0, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_OUTOFRANGE, "Time between snapshots %.6g is invalid; it must be positive", (double)dt);
  gen->T           = T;
  gen->dt          = dt;
  gen->snapshotsset = PETSC_TRUE;
  gen->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSetDimension - Sets the dimension d of the particles (default 2).

  Logically Collective

  Options Database Key:
. -wlm_generate_dim <d> - coordinates per particle
@*/
PetscErrorCode WLMGeneratorSetDimension(WLMGenerator gen, PetscInt dim)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscCheck(dim >= 1, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_OUTOFRANGE, "Dimension %" PetscInt_FMT " is invalid; particles need at least 1 coordinate", dim);
  gen->dim         = dim;
  gen->setupcalled = PETSC_FALSE;
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSetSeed - Sets the seed of the random streams (default 0); the output depends on the seed only, not on the rank count.

  Logically Collective

  Options Database Key:
. -wlm_generate_seed <seed> - non-negative seed
@*/
PetscErrorCode WLMGeneratorSetSeed(WLMGenerator gen, PetscInt seed)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscCheck(seed >= 0, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_OUTOFRANGE, "Seed %" PetscInt_FMT " is invalid; use a non-negative seed", seed);
  gen->seed = seed;
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSetVelocities - Chooses whether the snapshots carry velocities.

  Logically Collective

  Options Database Key:
. -wlm_generate_velocities <bool> - write velocities (default: true for boids and harmonic, false for sde)
@*/
PetscErrorCode WLMGeneratorSetVelocities(WLMGenerator gen, PetscBool flg)
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  gen->velocities    = flg;
  gen->velocitiesset = PETSC_TRUE;
  gen->setupcalled   = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode WLMGeneratorSetOptionsPrefix(WLMGenerator gen, const char prefix[])
{
  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscCall(PetscObjectSetOptionsPrefix((PetscObject)gen, prefix));
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSetFromOptions - Reads the generator's options.

  Collective

  Options Database Keys:
+ -wlm_generate_type <boids>       - boids, sde or harmonic
. -wlm_generate_n <N>              - particles (default by type)
. -wlm_generate_snapshots <T>      - snapshots, the first at t = 0 (default by type)
. -wlm_generate_dt <dt>            - time between snapshots (default by type)
. -wlm_generate_dim <2>            - coordinates per particle
. -wlm_generate_seed <0>           - seed of the random streams
- -wlm_generate_velocities <bool>  - write velocities

  Each type adds its own options; run with -help to list them.
@*/
PetscErrorCode WLMGeneratorSetFromOptions(WLMGenerator gen)
{
  char      type[256];
  PetscBool flg, flg2;
  PetscInt  N, T, dim, seed;
  PetscReal dt;
  PetscBool velocities;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscObjectOptionsBegin((PetscObject)gen);
  PetscCall(PetscOptionsFList("-wlm_generate_type", "Population to generate", "WLMGeneratorSetType", WLMGeneratorList, ((PetscObject)gen)->type_name ? ((PetscObject)gen)->type_name : WLMGENERATORBOIDS, type, sizeof(type), &flg));
  if (flg || !((PetscObject)gen)->type_name) PetscCall(WLMGeneratorSetType(gen, flg ? type : WLMGENERATORBOIDS));
  N          = gen->N;
  T          = gen->T;
  dt         = gen->dt;
  dim        = gen->dim;
  seed       = gen->seed;
  velocities = gen->velocities;
  PetscCall(PetscOptionsInt("-wlm_generate_n", "Particles over all ranks", "WLMGeneratorSetNumParticles", N, &N, &flg));
  if (flg) PetscCall(WLMGeneratorSetNumParticles(gen, N));
  PetscCall(PetscOptionsInt("-wlm_generate_snapshots", "Snapshots, the first at t = 0", "WLMGeneratorSetSnapshots", T, &T, &flg));
  PetscCall(PetscOptionsReal("-wlm_generate_dt", "Time between snapshots", "WLMGeneratorSetSnapshots", dt, &dt, &flg2));
  if (flg || flg2) PetscCall(WLMGeneratorSetSnapshots(gen, T, dt));
  PetscCall(PetscOptionsInt("-wlm_generate_dim", "Coordinates per particle", "WLMGeneratorSetDimension", dim, &dim, &flg));
  if (flg) PetscCall(WLMGeneratorSetDimension(gen, dim));
  PetscCall(PetscOptionsInt("-wlm_generate_seed", "Seed of the random streams (the output does not depend on the rank count)", "WLMGeneratorSetSeed", seed, &seed, &flg));
  if (flg) PetscCall(WLMGeneratorSetSeed(gen, seed));
  PetscCall(PetscOptionsBool("-wlm_generate_velocities", "Write velocities", "WLMGeneratorSetVelocities", velocities, &velocities, &flg));
  if (flg) PetscCall(WLMGeneratorSetVelocities(gen, velocities));
  if (gen->ops->setfromoptions) PetscCall((*gen->ops->setfromoptions)(gen, PetscOptionsObject));
  PetscCall(PetscObjectProcessOptionsHandlers((PetscObject)gen, PetscOptionsObject));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorSetUp - Checks the parameters and assigns each rank its block of particles.

  Collective

  Notes:
  Rank r of p simulates particles start .. start + n - 1 with n = N/p (plus one
  for the first N mod p ranks), the split that WLMSnapshotsLoad() uses.
@*/
PetscErrorCode WLMGeneratorSetUp(WLMGenerator gen)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject)gen);
  PetscMPIInt size, rank;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  if (gen->setupcalled) PetscFunctionReturn(0);
  PetscCheck(((PetscObject)gen)->type_name, comm, PETSC_ERR_ARG_WRONGSTATE, "Generator type is not set; call WLMGeneratorSetType() or pass -wlm_generate_type");
  PetscCheck(gen->N >= 1 && gen->T >= 1 && gen->dt > 0, comm, PETSC_ERR_PLIB, "Generator type %s left N, T or dt unset", ((PetscObject)gen)->type_name);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  gen->n     = gen->N / size + (rank < gen->N % size ? 1 : 0);
  gen->start = rank * (gen->N / size) + PetscMin(rank, gen->N % size);
  if (gen->ops->setup) PetscCall((*gen->ops->setup)(gen));
  gen->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* The common parameters as root attributes, named like their options without "-wlm_". */
static PetscErrorCode WriteAttributes(WLMGenerator gen, WLMSnapshots snap)
{
  const char *version, *revision;
  char        text[256];

  PetscFunctionBeginUser;
  PetscCall(WLMGetVersion(&version, &revision));
  PetscCall(PetscSNPrintf(text, sizeof(text), "wlm %s (%s)", version, revision));
  PetscCall(WLMSnapshotsSetAttribute(snap, "created_by", text));
  PetscCall(WLMSnapshotsSetAttribute(snap, "generate_type", ((PetscObject)gen)->type_name));
  PetscCall(WLMSnapshotsSetAttributeInt(snap, "generate_n", gen->N));
  PetscCall(WLMSnapshotsSetAttributeInt(snap, "generate_snapshots", gen->T));
  PetscCall(WLMSnapshotsSetAttributeReal(snap, "generate_dt", gen->dt));
  PetscCall(WLMSnapshotsSetAttributeInt(snap, "generate_dim", gen->dim));
  PetscCall(WLMSnapshotsSetAttributeInt(snap, "generate_seed", gen->seed));
  PetscCall(WLMSnapshotsSetAttributeInt(snap, "generate_velocities", gen->velocities));
  if (gen->ops->attributes) PetscCall((*gen->ops->attributes)(gen, snap));
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorGenerate - Simulates the population and adds its T snapshots to an empty set.

  Collective

  Input Parameters:
+ gen  - the generator
- snap - an empty sharded set on the same communicator; it receives the snapshots and the parameters as attributes

  Notes:
  Snapshot k is taken at t = k dt.  Each rank adds its own block of
  particles, so the set is sharded like one read by WLMSnapshotsLoad().
@*/
PetscErrorCode WLMGeneratorGenerate(WLMGenerator gen, WLMSnapshots snap)
{
  PetscInt                 T;
  WLMSnapshotsDistribution dist;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  PetscCall(WLMGeneratorSetUp(gen));
  PetscCall(WLMSnapshotsGetNumSnapshots(snap, &T));
  PetscCall(WLMSnapshotsGetDistribution(snap, &dist));
  PetscCheck(T == 0, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_WRONGSTATE, "The set already contains %" PetscInt_FMT " snapshots; generate into an empty set", T);
  PetscCheck(dist == WLM_SNAPSHOTS_SHARDED, PetscObjectComm((PetscObject)gen), PETSC_ERR_ARG_WRONGSTATE, "Generate into a sharded set; each rank adds only its own particles");
  PetscCall(WLMSnapshotsSetDimension(snap, gen->dim));
  PetscCall(PetscLogEventBegin(WLMGENERATOR_Generate, gen, 0, 0, 0));
  PetscCall((*gen->ops->generate)(gen, snap));
  PetscCall(PetscLogEventEnd(WLMGENERATOR_Generate, gen, 0, 0, 0));
  PetscCall(WriteAttributes(gen, snap));
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorView - Prints the type and every parameter.

  Collective
@*/
PetscErrorCode WLMGeneratorView(WLMGenerator gen, PetscViewer viewer)
{
  PetscBool isascii;

  PetscFunctionBeginUser;
  PetscValidHeaderSpecific(gen, WLMGENERATOR_CLASSID, 1);
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(PetscObjectComm((PetscObject)gen), &viewer));
  PetscCall(PetscObjectTypeCompare((PetscObject)viewer, PETSCVIEWERASCII, &isascii));
  if (!isascii) PetscFunctionReturn(0);
  PetscCall(PetscObjectPrintClassNamePrefixType((PetscObject)gen, viewer));
  PetscCall(PetscViewerASCIIPushTab(viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "%" PetscInt_FMT " particles in %" PetscInt_FMT " dimensions, %" PetscInt_FMT " snapshots %.6g apart, seed %" PetscInt_FMT ", velocities %s\n", gen->N, gen->dim, gen->T, (double)gen->dt, gen->seed, gen->velocities ? "yes" : "no"));
  if (gen->ops->view) PetscCall((*gen->ops->view)(gen, viewer));
  PetscCall(PetscViewerASCIIPopTab(viewer));
  PetscFunctionReturn(0);
}

/*@
  WLMGeneratorDestroy - Frees a generator.

  Collective
@*/
PetscErrorCode WLMGeneratorDestroy(WLMGenerator *gen)
{
  PetscFunctionBeginUser;
  if (!*gen) PetscFunctionReturn(0);
  PetscValidHeaderSpecific(*gen, WLMGENERATOR_CLASSID, 1);
  if (--((PetscObject)(*gen))->refct > 0) {
    *gen = NULL;
    PetscFunctionReturn(0);
  }
  if ((*gen)->ops->destroy) PetscCall((*(*gen)->ops->destroy)(*gen));
  PetscCall(PetscHeaderDestroy(gen));
  PetscFunctionReturn(0);
}

PetscErrorCode WLMGeneratorGatherAll(WLMGenerator gen, PetscInt width, const PetscReal local[], PetscReal all[])
{
  MPI_Comm     comm = PetscObjectComm((PetscObject)gen);
  PetscMPIInt  size, mine;
  PetscMPIInt *counts, *displs;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck((PetscInt64)gen->N * width <= PETSC_MPI_INT_MAX, comm, PETSC_ERR_SUP, "Gathering %" PetscInt_FMT " particles of %" PetscInt_FMT " values exceeds the MPI count limit; use fewer particles", gen->N, width);
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  mine = (PetscMPIInt)(gen->n * width);
  PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, comm));
  displs[0] = 0;
  for (PetscMPIInt r = 1; r < size; r++) displs[r] = displs[r - 1] + counts[r - 1];
  PetscCallMPI(MPI_Allgatherv(local, mine, MPIU_REAL, all, counts, displs, MPIU_REAL, comm));
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(0);
}
