/* Registration of the WLMSnapshots class and its log events. */
#include "snapshotsimpl.h"

PetscClassId  WLMSNAPSHOTS_CLASSID;
PetscLogEvent WLMSNAPSHOTS_Load, WLMSNAPSHOTS_Save;

static PetscBool WLMSnapshotsPackageInitialized = PETSC_FALSE;

/*@
  WLMSnapshotsInitializePackage - Registers the WLMSnapshots class and its log events; called by WLMInitializePackage().
@*/
PetscErrorCode WLMSnapshotsInitializePackage(void)
{
  PetscFunctionBeginUser;
  if (WLMSnapshotsPackageInitialized) PetscFunctionReturn(0);
  WLMSnapshotsPackageInitialized = PETSC_TRUE;
  PetscCall(PetscClassIdRegister("WLMSnapshots", &WLMSNAPSHOTS_CLASSID));
  PetscCall(PetscLogEventRegister("WLMSnapLoad", WLMSNAPSHOTS_CLASSID, &WLMSNAPSHOTS_Load));
  PetscCall(PetscLogEventRegister("WLMSnapSave", WLMSNAPSHOTS_CLASSID, &WLMSNAPSHOTS_Save));
  PetscFunctionReturn(0);
}
