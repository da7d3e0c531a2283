/* Registration of the log events of the exact transport solvers. */
#include <wlm/wlmtransport.h>
#include "networksimplex.h"

PetscLogEvent WLMTRANSPORT_Solve, WLMTRANSPORT_Gather;

static PetscBool WLMTransportPackageInitialized = PETSC_FALSE;

/*@
  WLMTransportInitializePackage - Registers the transport log events; called by WLMInitializePackage().
@*/
PetscErrorCode WLMTransportInitializePackage(void)
{
  PetscClassId classid;

  PetscFunctionBeginUser;
  if (WLMTransportPackageInitialized) PetscFunctionReturn(0);
  WLMTransportPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("WLMTransport", &classid));
  PetscCall(PetscLogEventRegister("WLMTransportSolve", classid, &WLMTRANSPORT_Solve));
  PetscCall(PetscLogEventRegister("WLMTransportGather", classid, &WLMTRANSPORT_Gather));
  PetscFunctionReturn(0);
}
