/* Registration of the WLMTrainer class, its log events and the names of its enumerations. */
#include <wlm/private/trainimpl.h>

PetscClassId  WLMTRAINER_CLASSID;
PetscLogEvent WLMTRAIN_Step, WLMTRAIN_Rollout, WLMTRAIN_Loss, WLMTRAIN_Adjoint, WLMTRAIN_Allreduce, WLMTRAIN_Evaluate, WLMTRAIN_Checkpoint, WLMTRAIN_Fetch;

const char *const WLMProtocols[]             = {"forecast", "interpolate", "WLMProtocol", "WLM_PROTOCOL_", NULL};
const char *const WLMRolloutStarts[]         = {"first", "any", "WLMRolloutStart", "WLM_ROLLOUT_START_", NULL};
const char *const WLMDataDistributions[]     = {"auto", "replicated", "sharded", "WLMDataDistribution", "WLM_DATA_", NULL};

static PetscBool WLMTrainPackageInitialized = PETSC_FALSE;

/*@
  WLMTrainInitializePackage - Registers the trainer class and its log events; called by WLMInitializePackage().
@*/
PetscErrorCode WLMTrainInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMTrainPackageInitialized) PetscFunctionReturn(0);
  WLMTrainPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("WLMTrainer", &WLMTRAINER_CLASSID));
  PetscCall(PetscLogEventRegister("WLMTrainStep", WLMTRAINER_CLASSID, &WLMTRAIN_Step));
  PetscCall(PetscLogEventRegister("WLMTrainRollout", WLMTRAINER_CLASSID, &WLMTRAIN_Rollout));
  PetscCall(PetscLogEventRegister("WLMTrainLoss", WLMTRAINER_CLASSID, &WLMTRAIN_Loss));
  PetscCall(PetscLogEventRegister("WLMTrainAdjoint", WLMTRAINER_CLASSID, &WLMTRAIN_Adjoint));
  PetscCall(PetscLogEventRegister("WLMTrainAllreduce", WLMTRAINER_CLASSID, &WLMTRAIN_Allreduce));
  PetscCall(PetscLogEventRegister("WLMTrainEvaluate", WLMTRAINER_CLASSID, &WLMTRAIN_Evaluate));
  PetscCall(PetscLogEventRegister("WLMTrainCheckpoint", WLMTRAINER_CLASSID, &WLMTRAIN_Checkpoint));
  PetscCall(PetscLogEventRegister("WLMTrainFetch", WLMTRAINER_CLASSID, &WLMTRAIN_Fetch));
  PetscFunctionReturn(0);
}
