/*
   Same seed, same file whatever the rank count: every generator type runs on
   rank 0 alone (PETSC_COMM_SELF) and on all ranks, both results are saved,
   loaded back, and compared bitwise, attributes included.  Run with 1, 2 and
   3 ranks; 37 particles split unevenly over 2 and 3 ranks.
*/
#include "wlmtest.h"
#include <wlm/wlmgenerate.h>

static PetscErrorCode GenerateAndSave(MPI_Comm comm, WLMGeneratorType type, const char file[])
{
  WLMGenerator gen;
  WLMSnapshots snap;

  PetscFunctionBeginUser;
  PetscCall(WLMGeneratorCreate(comm, &gen));
  PetscCall(WLMGeneratorSetType(gen, type));
  PetscCall(WLMGeneratorSetNumParticles(gen, 37));
  PetscCall(WLMGeneratorSetSnapshots(gen, 5, 0.05));
  PetscCall(WLMGeneratorSetSeed(gen, 11));
  if (!strcmp(type, WLMGENERATORBOIDS)) PetscCall(WLMGeneratorBoidsSetNoise(gen, 0.1));
  if (!strcmp(type, WLMGENERATORSDE)) {
    PetscCall(WLMGeneratorSDESetMode(gen, WLM_SDE_INDEPENDENT));
    PetscCall(WLMGeneratorSetVelocities(gen, PETSC_TRUE));
  }
  PetscCall(WLMSnapshotsCreate(comm, &snap));
  PetscCall(WLMGeneratorGenerate(gen, snap));
  PetscCall(WLMSnapshotsSave(snap, file));
  PetscCall(WLMSnapshotsDestroy(&snap));
  PetscCall(WLMGeneratorDestroy(&gen));
  PetscFunctionReturn(0);
}

static void LoadReplicated(const char file[], WLMSnapshots *snap)
{
  WLMTestCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, snap));
  WLMTestCall(WLMSnapshotsSetDistribution(*snap, WLM_SNAPSHOTS_REPLICATED));
  WLMTestCall(WLMSnapshotsLoad(*snap, file));
}

START_TEST(test_same_file_any_rank_count)
{
  const WLMGeneratorType types[3] = {WLMGENERATORBOIDS, WLMGENERATORSDE, WLMGENERATORHARMONIC};
  const WLMGeneratorType type     = types[_i];
  char                   serial[PETSC_MAX_PATH_LEN], parallel[PETSC_MAX_PATH_LEN];
  WLMSnapshots           a, b;
  PetscInt               Ta, Tb, na, nb;

  PetscSNPrintf(serial, sizeof(serial), "generate-%s-serial-np%d.h5", type, wlm_test_size);
  PetscSNPrintf(parallel, sizeof(parallel), "generate-%s-parallel-np%d.h5", type, wlm_test_size);
  if (wlm_test_rank == 0) WLMTestCall(GenerateAndSave(PETSC_COMM_SELF, type, serial));
  WLMTestCall(GenerateAndSave(PETSC_COMM_WORLD, type, parallel));
  MPI_Barrier(PETSC_COMM_WORLD);
  LoadReplicated(serial, &a);
  LoadReplicated(parallel, &b);

  WLMTestCall(WLMSnapshotsGetNumSnapshots(a, &Ta));
  WLMTestCall(WLMSnapshotsGetNumSnapshots(b, &Tb));
  ck_assert_int_eq(Ta, 5);
  ck_assert_int_eq(Tb, Ta);
  for (PetscInt k = 0; k < Ta; k++) {
    WLMSnapshot sa, sb;

    WLMTestCall(WLMSnapshotsGetSnapshot(a, k, &sa));
    WLMTestCall(WLMSnapshotsGetSnapshot(b, k, &sb));
    ck_assert_int_eq(sa.N, 37);
    ck_assert_int_eq(sb.N, sa.N);
    ck_assert_mem_eq(&sa.t, &sb.t, sizeof(PetscReal));
    ck_assert_mem_eq(sa.x, sb.x, sizeof(PetscReal) * 2 * sa.N);
    ck_assert_ptr_nonnull(sa.v);
    ck_assert_ptr_nonnull(sb.v);
    ck_assert_mem_eq(sa.v, sb.v, sizeof(PetscReal) * 2 * sa.N);
  }
  WLMTestCall(WLMSnapshotsGetNumAttributes(a, &na));
  WLMTestCall(WLMSnapshotsGetNumAttributes(b, &nb));
  ck_assert_int_eq(na, nb);
  ck_assert_int_gt(na, 8);
  for (PetscInt i = 0; i < na; i++) {
    const char *name, *va, *vb;

    WLMTestCall(WLMSnapshotsGetAttributeName(a, i, &name));
    WLMTestCall(WLMSnapshotsGetAttribute(a, name, &va));
    WLMTestCall(WLMSnapshotsGetAttribute(b, name, &vb));
    ck_assert_ptr_nonnull(vb);
    ck_assert_str_eq(va, vb);
  }
  WLMTestCall(WLMSnapshotsDestroy(&a));
  WLMTestCall(WLMSnapshotsDestroy(&b));
  MPI_Barrier(PETSC_COMM_WORLD);
  if (wlm_test_rank == 0) {
    remove(serial);
    remove(parallel);
  }
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("generate_determinism");
  TCase *tc = tcase_create("determinism");

  tcase_add_loop_test(tc, test_same_file_any_rank_count, 0, 3);
  suite_add_tcase(s, tc);
  return s;
}
