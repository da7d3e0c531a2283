/*
   libFuzzer harness of the snapshot-file reader on raw bytes.  Each input is
   written to a temporary file and loaded with WLMSnapshotsLoad(); the reader
   must either load it or return an error.  Mutated HDF5 files mostly
   exercise the HDF5 library's own parser, and HDF5 1.10.8 (Debian 12) reads
   out of bounds on some damaged object headers within seconds of fuzzing
   (tools/fuzz/hdf5-crashes contains one such input).  wlm cannot catch that, so
   this harness is not part of the CI run; fuzz_snapshots.c fuzzes wlm's own
   checks with well-formed HDF5 files instead.
*/
#define _POSIX_C_SOURCE 200809L /* mkstemp under -std=c11 */
#include <wlm/wlmsys.h>
#include <wlm/wlmsnapshots.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char path[] = "/tmp/wlm_fuzz_snapshots_XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  int fd;

  (void)argc;
  (void)argv;
  /* PetscInitializeNoArguments keeps libFuzzer's -flags out of the PETSc options database */
  if (PetscInitializeNoArguments() || WLMInitializePackage()) abort();
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  fd = mkstemp(path);
  if (fd < 0) abort();
  close(fd);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  FILE        *fp = fopen(path, "wb");
  WLMSnapshots snap;

  if (!fp || fwrite(data, 1, size, fp) != size) abort();
  fclose(fp);
  if (WLMSnapshotsCreate(PETSC_COMM_SELF, &snap)) abort();
  (void)WLMSnapshotsLoad(snap, path); /* an error is the expected outcome for most inputs */
  if (WLMSnapshotsDestroy(&snap)) abort();
  return 0;
}
