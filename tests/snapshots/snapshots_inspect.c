static char help[] = "Loads a snapshot file with WLMSnapshotsLoad, prints its summary, and checks its shape.\n\
Used by the converter tests to check that files written by tools/wlm-convert load in wlm.\n\
  -file <name>               snapshot file to load\n\
  -expect_snapshots <T>      fail unless the file has T snapshots\n\
  -expect_particles <N>      fail unless every snapshot has N particles\n\
  -expect_dim <d>            fail unless the particles have d coordinates\n\
  -wlm_snapshots_distribution <sharded|replicated>\n";

#include <wlm/wlmsys.h>
#include <wlm/wlmsnapshots.h>

/* Checks one expected size given as an option; returns 1 on a mismatch. */
static PetscErrorCode CheckExpected(const char option[], PetscInt64 actual, int *failed)
{
  PetscInt  expected;
  PetscBool set;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsGetInt(NULL, NULL, option, &expected, &set));
  if (set && expected != actual) {
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "snapshots_inspect: %s %" PetscInt_FMT " expected, file has %" PetscInt64_FMT "\n", option, expected, actual));
    *failed = 1;
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  char         file[PETSC_MAX_PATH_LEN] = "";
  WLMSnapshots snap;
  PetscInt     T, dim;
  PetscInt64   nmin = -1, nmax = -1;
  int          failed = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(WLMInitializePackage());
  PetscCall(PetscOptionsGetString(NULL, NULL, "-file", file, sizeof(file), NULL));
  PetscCheck(file[0], PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "Give the snapshot file with -file");

  PetscCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, &snap));
  PetscCall(WLMSnapshotsSetFromOptions(snap));
  PetscCall(WLMSnapshotsLoad(snap, file));
  PetscCall(WLMSnapshotsView(snap, PETSC_VIEWER_STDOUT_WORLD));

  PetscCall(WLMSnapshotsGetNumSnapshots(snap, &T));
  PetscCall(WLMSnapshotsGetDimension(snap, &dim));
  for (PetscInt k = 0; k < T; k++) {
    WLMSnapshot s;

    PetscCall(WLMSnapshotsGetSnapshot(snap, k, &s));
    nmin = k == 0 ? s.N : PetscMin(nmin, (PetscInt64)s.N);
    nmax = k == 0 ? s.N : PetscMax(nmax, (PetscInt64)s.N);
  }
  PetscCall(CheckExpected("-expect_snapshots", T, &failed));
  PetscCall(CheckExpected("-expect_dim", dim, &failed));
  PetscCall(CheckExpected("-expect_particles", nmin, &failed));
  PetscCall(CheckExpected("-expect_particles", nmax, &failed));
  PetscCall(WLMSnapshotsDestroy(&snap));
  PetscCall(PetscFinalize());
  return failed;
}
