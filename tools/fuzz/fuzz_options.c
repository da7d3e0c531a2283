/*
   libFuzzer harness of the options path of wlm_mpi.  Each input is read as a
   YAML options file (as -options_file reads configs/*.yaml) and inserted into
   an empty options database.  A WLMTrainer is then set up from it on the
   small ocean vortex data, whatever file the input names.  This runs the
   option parsing, the checks of every option, the snapshot split and the
   model set-up.  An input must be accepted or rejected with a PETSc error;
   libFuzzer reports a crash, a sanitizer finding or a hang over 10 s as a
   failure.  WLM_FUZZ_DATA names the data
   file (run.sh sets it).
*/
#include <wlm/wlmsys.h>
#include <wlm/wlmtrain.h>
#include <stdlib.h>
#include <string.h>

static const char *data_file;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  data_file = getenv("WLM_FUZZ_DATA");
  if (!data_file) {
    fprintf(stderr, "fuzz_options: set WLM_FUZZ_DATA to a snapshot file, for example configs/data/ocean_vortex_small.h5\n");
    abort();
  }
  if (PetscInitializeNoArguments() || WLMInitializePackage()) abort();
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char      *text = malloc(size + 1);
  WLMTrainer tr;

  if (!text) abort();
  memcpy(text, data, size);
  text[size] = '\0';
  if (PetscOptionsClear(NULL)) abort();
  /* a short run, so that set-up stays cheap; the input may override the step count */
  if (PetscOptionsSetValue(NULL, "-wlm_steps", "1")) abort();
  /* the data file is set after the input, because the seed configs name large data sets whose set-up exceeds the time limit */
  if (!PetscOptionsInsertStringYAML(NULL, text) && !PetscOptionsSetValue(NULL, "-wlm_data", data_file) && !WLMTrainerCreate(PETSC_COMM_SELF, &tr)) {
    if (!WLMTrainerSetFromOptions(tr)) (void)WLMTrainerSetUp(tr);
    /* NOTE: RSS grows by roughly 40 KB per input for a reason not found yet (LeakSanitizer reports no leak for one input), so run.sh restarts it every 120 s */
    (void)WLMTrainerDestroy(&tr);
  }
  free(text);
  return 0;
}
