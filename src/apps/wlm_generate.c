static char help[] = "wlm_generate: simulates a synthetic population and writes its snapshots to an HDF5 file.\n\
\n\
Types (-wlm_generate_type):\n\
  boids     a flock at unit speed with cohesion, separation, alignment and a soft box\n\
  sde       gradient-flow SDE dX = -grad Psi(X) dt + sigma dW with five potentials Psi\n\
  harmonic  damped harmonic system dv_i/dt = -k x_i - c (x_i - mean) - gamma v_i, computed exactly\n\
\n\
Driver options:\n\
  -wlm_generate_output <file>  snapshot file to write (default: <type>.h5)\n\
  -wlm_generate_view <bool>    print a summary of the written file (default: true)\n\
\n\
The output is the same for a given seed whatever the number of MPI ranks.\n\
The options of the selected type are listed below with their current values\n\
(add -wlm_generate_type sde -help for the SDE options); the file records each\n\
of them as a root attribute (docs/file-format.md).  With -help nothing is written.\n\n";

/*
   Example:
     mpiexec -n 2 wlm_generate -wlm_generate_type sde -wlm_generate_sde_potential styblinski_tang \
       -wlm_generate_n 1000 -wlm_generate_seed 3 -wlm_generate_output sde.h5
*/
#include <wlm/wlmsys.h>
#include <wlm/wlmgenerate.h>
#include <wlm/wlmsnapshots.h>

/* The command line, arguments with spaces quoted, for the provenance attribute "command". */
static PetscErrorCode CommandLine(int argc, char **argv, char line[], size_t len)
{
  PetscFunctionBeginUser;
  line[0] = '\0';
  for (int i = 0; i < argc; i++) {
    const char *base = strrchr(argv[i], '/');
    const char *word = i == 0 && base ? base + 1 : argv[i];
    PetscBool   quote = strchr(word, ' ') ? PETSC_TRUE : PETSC_FALSE;

    PetscCall(PetscStrlcat(line, i ? " " : "", len));
    if (quote) PetscCall(PetscStrlcat(line, "'", len));
    PetscCall(PetscStrlcat(line, word, len));
    if (quote) PetscCall(PetscStrlcat(line, "'", len));
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  WLMGenerator     gen;
  WLMGeneratorType type;
  WLMSnapshots     snap;
  char             output[PETSC_MAX_PATH_LEN], command[4096];
  PetscBool        view = PETSC_TRUE, helpset;
  PetscLogDouble   t0, t1;
  PetscMPIInt      size;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(WLMInitializePackage());
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));

  /* ---------- Generator: type and parameters from the options ---------- */
  PetscCall(WLMGeneratorCreate(PETSC_COMM_WORLD, &gen));
  PetscCall(WLMGeneratorSetFromOptions(gen));
  PetscCall(WLMGeneratorGetType(gen, &type));
  PetscCall(PetscSNPrintf(output, sizeof(output), "%s.h5", type));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "wlm_generate driver options", NULL);
  PetscCall(PetscOptionsString("-wlm_generate_output", "Snapshot file to write", NULL, output, output, sizeof(output), NULL));
  PetscCall(PetscOptionsBool("-wlm_generate_view", "Print a summary of the written file", NULL, view, &view, NULL));
  PetscOptionsEnd();
  PetscCall(PetscOptionsHasHelp(NULL, &helpset));
  if (helpset) {
    PetscCall(WLMGeneratorDestroy(&gen));
    PetscCall(PetscFinalize());
    return 0;
  }
  PetscCall(WLMGeneratorSetUp(gen));

  /* ---------- Simulate: each rank adds its block of particles to every snapshot ---------- */
  PetscCall(PetscTime(&t0));
  PetscCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, &snap));
  PetscCall(WLMGeneratorGenerate(gen, snap));
  PetscCall(CommandLine(argc, argv, command, sizeof(command)));
  PetscCall(WLMSnapshotsSetAttribute(snap, "command", command));

  /* ---------- Write in parallel under a temporary name, then rename ---------- */
  PetscCall(WLMSnapshotsSave(snap, output));
  PetscCall(PetscTime(&t1));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "wlm_generate: wrote %s (%s, %d rank%s, %.2f s)\n", output, type, size, size > 1 ? "s" : "", t1 - t0));
  if (view) {
    PetscCall(WLMGeneratorView(gen, PETSC_VIEWER_STDOUT_WORLD));
    PetscCall(WLMSnapshotsView(snap, PETSC_VIEWER_STDOUT_WORLD));
  }

  PetscCall(WLMSnapshotsDestroy(&snap));
  PetscCall(WLMGeneratorDestroy(&gen));
  PetscCall(PetscFinalize());
  return 0;
}
