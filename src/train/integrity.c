/*
   Identity records of checkpoints.  A checkpoint stores, as attributes of its
   root group:

     content_sha256  SHA-256 of (step, adam_t, params, m, v, ema), serialized
                     as little-endian int64 and IEEE double values, so the
                     digest does not depend on the byte order of the machine
     data_size       size in bytes of the data file the run trained on
     data_sha256     SHA-256 of that file, as printed by sha256sum
     model           the model's structure as its view prints it (type,
                     sizes, widths, activation, time input, friction mode),
                     without lines that report parameter values or memory
                     limits

   A restart recomputes all three.  A content mismatch means the file is
   damaged and is always an error.  A different data file or model structure
   is an error unless -wlm_restart_force is given.  The structure is compared
   rather than the options as given, so a restart may leave an option at its
   default where the original run set the same value explicitly.  Evaluate,
   forecast and probe runs may use other data than the training data on
   purpose, so for them a data mismatch is only reported.
*/
#define _POSIX_C_SOURCE 200809L /* open_memstream under -std=c11 */
#include <wlm/private/integrity.h>
#include <stdlib.h>
#include <stdio.h>

/* Whether a line of the model description reports a value that training or the run's resources change, not the model's structure. */
static PetscBool IsVaryingLine(const char line[], size_t n)
{
  while (n > 0 && (*line == ' ' || *line == '\t')) {
    line++;
    n--;
  }
  /* the harmonic potential prints its parameters k and c; attention prints its memory limit */
  return (PetscBool)((n >= 4 && !strncmp(line, "k = ", 4)) || (n >= 12 && !strncmp(line, "keeps scores", 12)));
}

/* Returns the description of the model's structure: the potential's view without its varying lines, and the friction mode. */
static PetscErrorCode DescribeModel(WLMTrainer tr, char **text)
{
  char              *raw = NULL;
  size_t             size = 0, length = 0;
  FILE              *fp;
  PetscViewer        viewer;
  WLMFrictionVariant variant;

  PetscFunctionBeginUser;
  fp = open_memstream(&raw, &size);
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_MEM, "Could not open a memory stream for the model description");
  PetscCall(PetscViewerASCIIOpenWithFILE(PETSC_COMM_SELF, fp, &viewer));
  PetscCall(WLMPotentialView(tr->pot, viewer));
  PetscCall(PetscViewerDestroy(&viewer));
  PetscCall(WLMDynamicsGetFrictionVariant(tr->dyn, &variant));
  fprintf(fp, "friction %s, variant %s\n", tr->learn_friction ? "learned" : "fixed", WLMFrictionVariants[variant]);
  fclose(fp);

  PetscCall(PetscCalloc1(size + 1, text));
  for (const char *s = raw; *s;) {
    const char  *end = strchr(s, '\n');
    const size_t n   = end ? (size_t)(end - s) + 1 : strlen(s);

    if (!IsVaryingLine(s, n)) {
      memcpy(*text + length, s, n);
      length += n;
    }
    s += n;
  }
  free(raw); /* allocated by open_memstream */
  PetscFunctionReturn(0);
}

/* Whether text contains the n characters of line as one whole line. */
static PetscBool ContainsLine(const char text[], const char line[], size_t n)
{
  for (const char *s = text; *s;) {
    const char  *end = strchr(s, '\n');
    const size_t m   = end ? (size_t)(end - s) : strlen(s);

    if (m == n && !strncmp(s, line, n)) return PETSC_TRUE;
    if (!end) break;
    s = end + 1;
  }
  return PETSC_FALSE;
}

/* Copies the first line of a that b lacks into line (empty when b has every line of a). */
static PetscErrorCode FirstMissingLine(const char a[], const char b[], char line[], size_t len)
{
  PetscFunctionBeginUser;
  line[0] = '\0';
  for (const char *s = a; *s;) {
    const char  *end = strchr(s, '\n');
    const size_t n   = end ? (size_t)(end - s) : strlen(s);

    if (!ContainsLine(b, s, n)) {
      PetscCall(PetscStrncpy(line, s, PetscMin(len, n + 1)));
      PetscFunctionReturn(0);
    }
    if (!end) break;
    s = end + 1;
  }
  PetscFunctionReturn(0);
}

/* Adds 8 bytes of an int64 or IEEE double in little-endian order. */
static void UpdateLittleEndian64(WLMSHA256 *h, uint64_t bits)
{
  unsigned char bytes[8];

  for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)(bits >> (8 * i));
  WLMSHA256Update(h, bytes, 8);
}

static void UpdateReals(WLMSHA256 *h, PetscInt n, const PetscReal x[])
{
  for (PetscInt i = 0; i < n; i++) {
    double   value = (double)x[i];
    uint64_t bits;

    memcpy(&bits, &value, sizeof(bits));
    UpdateLittleEndian64(h, bits);
  }
}

/*@C
  WLMTrainerChecksumState - Computes the SHA-256 of the training state that a checkpoint restores.

  Not Collective

  Notes:
  The digest covers step and adam_t (int64) followed by params, m, v and ema
  (nparams doubles each), all little-endian.
@*/
PetscErrorCode WLMTrainerChecksumState(WLMTrainer tr, PetscInt64 step, PetscInt64 adam_t, char hex[65])
{
  WLMSHA256 h;

  PetscFunctionBeginUser;
  WLMSHA256Init(&h);
  UpdateLittleEndian64(&h, (uint64_t)step);
  UpdateLittleEndian64(&h, (uint64_t)adam_t);
  UpdateReals(&h, tr->nparams, tr->params);
  UpdateReals(&h, tr->nparams, tr->opt->m);
  UpdateReals(&h, tr->nparams, tr->opt->v);
  UpdateReals(&h, tr->nparams, tr->opt->ema);
  WLMSHA256Final(&h, hex);
  PetscFunctionReturn(0);
}

/*@C
  WLMTrainerComputeDataIdentity - Computes the size and SHA-256 of the data file once; later calls do nothing.

  Collective (rank 0 reads the file and broadcasts the result)
@*/
PetscErrorCode WLMTrainerComputeDataIdentity(WLMTrainer tr)
{
  MPI_Comm    comm = PetscObjectComm((PetscObject)tr);
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  if (tr->data_sha256[0]) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) PetscCall(WLMSHA256File(tr->data_file, tr->data_sha256, &tr->data_size));
  PetscCallMPI(MPI_Bcast(tr->data_sha256, 65, MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(&tr->data_size, 1, MPIU_INT64, 0, comm));
  PetscFunctionReturn(0);
}

/*@C
  WLMTrainerWriteCheckpointIdentity - Writes the content checksum, the data file's size and SHA-256, and the model description.

  Not Collective (rank 0 writes the checkpoint)

  Notes:
  WLMTrainerComputeDataIdentity() must have run on every rank before.
@*/
PetscErrorCode WLMTrainerWriteCheckpointIdentity(WLMTrainer tr, hid_t file)
{
  char  hex[65];
  char *model;

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerChecksumState(tr, tr->step, tr->opt->t, hex));
  PetscCall(WLMH5WriteAttributeString(file, "content_sha256", hex));
  PetscCall(WLMH5WriteAttributeInt(file, "data_size", tr->data_size));
  PetscCall(WLMH5WriteAttributeString(file, "data_sha256", tr->data_sha256));
  PetscCall(DescribeModel(tr, &model));
  PetscCall(WLMH5WriteAttributeString(file, "model", model));
  PetscCall(PetscFree(model));
  PetscFunctionReturn(0);
}

/* Fails unless the recorded data file matches -wlm_data; with -wlm_restart_force, or outside a restart, only reports the difference. */
static PetscErrorCode VerifyData(WLMTrainer tr, hid_t file, const char path[], PetscBool restarting)
{
  MPI_Comm   comm = PetscObjectComm((PetscObject)tr);
  PetscInt64 size;
  char      *hex, *original;
  PetscBool  same;

  PetscFunctionBeginUser;
  PetscCall(WLMTrainerComputeDataIdentity(tr));
  PetscCall(WLMH5ReadAttributeInt(file, "data_size", &size));
  PetscCall(WLMH5ReadAttributeString(file, "data_sha256", &hex));
  PetscCall(WLMH5ReadAttributeString(file, "data", &original));
  PetscCall(PetscStrcmp(hex, tr->data_sha256, &same));
  same = (PetscBool)(same && size == tr->data_size);
  if (!same && restarting && !tr->restart_force) {
    SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED,
            "Checkpoint \"%s\" was trained on \"%s\" (%" PetscInt64_FMT " bytes, SHA-256 %s), but -wlm_data \"%s\" has %" PetscInt64_FMT " bytes and SHA-256 %s. Pass the original data file, or -wlm_restart_force to continue training on this one",
            path, original, size, hex, tr->data_file, tr->data_size, tr->data_sha256);
  }
  if (!same) PetscCall(PetscPrintf(comm, "Note: checkpoint \"%s\" was trained on other data (\"%s\", %" PetscInt64_FMT " bytes, SHA-256 %.16s...) than -wlm_data \"%s\"\n", path, original, size, hex, tr->data_file));
  PetscCall(PetscFree(hex));
  PetscCall(PetscFree(original));
  PetscFunctionReturn(0);
}

/* Fails unless the model recorded in the checkpoint has the structure of this run's model, or reports the difference with -wlm_restart_force. */
static PetscErrorCode VerifyModel(WLMTrainer tr, hid_t file, const char path[])
{
  MPI_Comm comm = PetscObjectComm((PetscObject)tr);
  char    *saved, *current, only_saved[256], only_current[256];

  PetscFunctionBeginUser;
  PetscCall(WLMH5ReadAttributeString(file, "model", &saved));
  PetscCall(DescribeModel(tr, &current));
  PetscCall(FirstMissingLine(saved, current, only_saved, sizeof(only_saved)));
  PetscCall(FirstMissingLine(current, saved, only_current, sizeof(only_current)));
  PetscCall(PetscFree(saved));
  PetscCall(PetscFree(current));
  if (!only_saved[0] && !only_current[0]) PetscFunctionReturn(0);
  PetscCheck(tr->restart_force, comm, PETSC_ERR_FILE_UNEXPECTED,
             "Checkpoint \"%s\" was written by a different model: it has \"%s\" where this run has \"%s\". Use the model options of the original run (its options.txt), or -wlm_restart_force when the change keeps the parameters' meaning",
             path, only_saved, only_current);
  PetscCall(PetscPrintf(comm, "Warning: -wlm_restart_force accepts checkpoint \"%s\" although its model differs (\"%s\" there, \"%s\" here)\n", path, only_saved, only_current));
  PetscFunctionReturn(0);
}

/*@C
  WLMTrainerVerifyCheckpoint - Checks a loaded checkpoint's content checksum, data file and model structure.

  Collective

  Input Parameters:
+ tr     - trainer whose params and optimizer moments were just read from the file
. file   - the open checkpoint
. path   - its name, for messages
. step   - step attribute read from the file
- adam_t - adam_t attribute read from the file

  Notes:
  Checkpoints written before these records existed have no content_sha256;
  they load with a warning.
@*/
PetscErrorCode WLMTrainerVerifyCheckpoint(WLMTrainer tr, hid_t file, const char path[], PetscInt64 step, PetscInt64 adam_t)
{
  MPI_Comm  comm = PetscObjectComm((PetscObject)tr);
  char      hex[65], *saved;
  PetscBool has, same, restarting;

  PetscFunctionBeginUser;
  PetscCall(WLMH5AttributeExists(file, "content_sha256", &has));
  if (!has) {
    PetscCall(PetscPrintf(comm, "Warning: checkpoint \"%s\" has no checksum (written by an older wlm); its content, data file and model options are not verified\n", path));
    PetscFunctionReturn(0);
  }
  PetscCall(WLMH5ReadAttributeString(file, "content_sha256", &saved));
  PetscCall(WLMTrainerChecksumState(tr, step, adam_t, hex));
  PetscCall(PetscStrcmp(saved, hex, &same));
  PetscCall(PetscFree(saved));
  PetscCheck(same, comm, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint \"%s\" is damaged: the SHA-256 of its step, parameters and optimizer state does not match the one recorded when it was written. Restart from an older copy or from step 0 (-wlm_restart_force does not accept a damaged checkpoint)", path);

  restarting = PETSC_FALSE;
  if (tr->restart[0]) PetscCall(PetscStrcmp(tr->restart, path, &restarting));
  PetscCall(VerifyData(tr, file, path, restarting));
  PetscCall(VerifyModel(tr, file, path));
  PetscFunctionReturn(0);
}
