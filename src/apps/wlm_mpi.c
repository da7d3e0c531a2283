static char help[] = "wlm_mpi: learn the mechanics of a population from snapshots (Wasserstein Lagrangian Mechanics),\n"
                     "then forecast and interpolate it.\n\n"
                     "  mpirun -n P wlm_mpi -options_file configs/<experiment>.yaml [-wlm_mode train|evaluate|forecast|probe]\n\n"
                     "Particles follow dx/dt = v, dv/dt = -gamma v + F(X)/w with F = -grad U_theta(X), a learned potential\n"
                     "energy of the whole population and a learned friction gamma.  Options are listed below by object;\n"
                     "every option can also be given in a YAML file (nested keys joined by underscores).\n\n";

/*
   The driver of wlm.  It reads the options, builds a WLMTrainer, and runs one
   of three modes:

     train     learn U_theta and gamma from -wlm_data, evaluate, write outputs
     evaluate  load -wlm_checkpoint and evaluate it on the protocol of the options
     forecast  load -wlm_checkpoint and roll a population out to -wlm_forecast_times
     probe     load -wlm_checkpoint and write the potential felt by a test particle on a grid

   Any error on any rank ends the whole job (MPI_Abort), so a batch job never
   waits in a collective for a rank that has already failed.
*/
#include <wlm/wlmtrain.h>
#include <wlm/wlmsys.h>

typedef enum {
  MODE_TRAIN,
  MODE_EVALUATE,
  MODE_FORECAST,
  MODE_PROBE
} Mode;
static const char *const Modes[] = {"train", "evaluate", "forecast", "probe", "Mode", "MODE_", NULL};

/* Reads the mode and the checkpoint used by evaluate and forecast. */
static PetscErrorCode ReadDriverOptions(Mode *mode, char checkpoint[], size_t len)
{
  PetscFunctionBeginUser;
  *mode = MODE_TRAIN;
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "wlm_mpi driver", NULL);
  PetscCall(PetscOptionsEnum("-wlm_mode", "What to run: train, evaluate (a checkpoint), forecast (from a checkpoint) or probe (the learned potential on a grid)", "", Modes, (PetscEnum)*mode, (PetscEnum *)mode, NULL));
  PetscCall(PetscOptionsString("-wlm_checkpoint", "Checkpoint to evaluate or forecast with (a checkpoint.h5 written by training)", "", checkpoint, checkpoint, len, NULL));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

static PetscErrorCode Run(void)
{
  WLMTrainer tr;
  Mode       mode;
  char       checkpoint[PETSC_MAX_PATH_LEN] = "";
  PetscBool  help;

  PetscFunctionBeginUser;
  /* 1. options: the driver's own, then every object's, so that -help lists them all */
  PetscCall(ReadDriverOptions(&mode, checkpoint, sizeof(checkpoint)));
  PetscCall(WLMTrainerCreate(PETSC_COMM_WORLD, &tr));
  PetscCall(WLMTrainerSetFromOptions(tr));
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (help) {
    /* -help lists the options of every object without loading data, then stops */
    PetscCall(WLMTrainerPrintObjectHelp(tr));
    PetscCall(WLMTrainerDestroy(&tr));
    PetscFunctionReturn(0);
  }
  if (mode != MODE_TRAIN) PetscCheck(checkpoint[0], PETSC_COMM_WORLD, PETSC_ERR_USER_INPUT, "-wlm_mode %s needs -wlm_checkpoint FILE", Modes[mode]);

  /* 2. load the data and build the models; every option has been read after this, so a misspelt one fails here, before any work */
  PetscCall(WLMTrainerSetUp(tr));
  PetscCall(WLMOptionsCheckUnused(PETSC_COMM_WORLD));
  PetscCall(WLMTrainerView(tr, NULL));

  /* 3. the work of the mode */
  switch (mode) {
  case MODE_TRAIN:
    PetscCall(WLMTrainerTrain(tr));
    break;
  case MODE_EVALUATE:
    PetscCall(WLMTrainerLoadCheckpoint(tr, checkpoint));
    PetscCall(WLMTrainerEvaluateCheckpoint(tr));
    break;
  case MODE_FORECAST:
    PetscCall(WLMTrainerLoadCheckpoint(tr, checkpoint));
    PetscCall(WLMTrainerForecast(tr));
    break;
  case MODE_PROBE:
    PetscCall(WLMTrainerLoadCheckpoint(tr, checkpoint));
    PetscCall(WLMTrainerProbe(tr));
    break;
  }

  PetscCall(WLMTrainerDestroy(&tr));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscErrorCode ierr;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(WLMPushErrorHandler());
  ierr = WLMInitializePackage();
  if (!ierr) ierr = Run();
  if (ierr) MPI_Abort(PETSC_COMM_WORLD, 1);
  PetscCall(PetscFinalize());
  return 0;
}
