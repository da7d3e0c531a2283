static char help[] = "Measures the write and read rate of snapshot files (WLMSnapshotsSave, WLMSnapshotsLoad).\n\
  -n <10000000>       particles over all snapshots and ranks\n\
  -snapshots <10>     snapshots (the particles are split evenly among them)\n\
  -dim <3>            coordinates per particle\n\
  -velocities <bool>  also write and read velocities (default: false)\n\
  -repeat <3>         timed write-then-read rounds; the median is reported\n\
  -drop_cache <bool>  evict the file from the page cache before each read (default: true)\n\
  -file <name>        file to write (default: bench-snapshots.h5, removed at the end)\n";

/*
   Rate = bytes of the position (and velocity) datasets / wall time of the
   call, in MB/s (1 MB = 1e6 bytes), timed from a barrier before the call to a
   barrier after it.  Save includes the rename; Load includes the metadata
   checks on rank 0 and the finite-value checks of every row.  Before each
   read the file is synced and evicted from the page cache with
   posix_fadvise(POSIX_FADV_DONTNEED), so reads come from the device unless
   -drop_cache 0 is given.
*/
#define _POSIX_C_SOURCE 200112L
#include <wlm/wlmsys.h>
#include <wlm/wlmsnapshots.h>
#include <fcntl.h>
#include <unistd.h>

/* Writes a file's dirty pages to the device and advises the kernel to drop its cached pages. */
static PetscErrorCode DropFromPageCache(const char file[])
{
  int fd;

  PetscFunctionBeginUser;
  fd = open(file, O_RDONLY);
  PetscCheck(fd >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "Cannot open %s to evict it from the page cache", file);
  (void)fsync(fd);
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
  PetscFunctionReturn(0);
}

static int CompareDoubles(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
  PetscInt       n = 10000000, T = 10, dim = 3, repeat = 3;
  PetscBool      velocities = PETSC_FALSE, drop = PETSC_TRUE;
  char           file[PETSC_MAX_PATH_LEN] = "bench-snapshots.h5";
  PetscMPIInt    size, rank;
  WLMSnapshots   snap;
  PetscReal     *x;
  PetscLogDouble twrite[16], tread[16], bytes;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscCall(WLMInitializePackage());
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "Snapshot I/O benchmark", NULL);
  PetscCall(PetscOptionsInt("-n", "Particles over all snapshots", NULL, n, &n, NULL));
  PetscCall(PetscOptionsInt("-snapshots", "Snapshots", NULL, T, &T, NULL));
  PetscCall(PetscOptionsInt("-dim", "Coordinates per particle", NULL, dim, &dim, NULL));
  PetscCall(PetscOptionsBool("-velocities", "Also write and read velocities", NULL, velocities, &velocities, NULL));
  PetscCall(PetscOptionsInt("-repeat", "Timed rounds (at most 16)", NULL, repeat, &repeat, NULL));
  PetscCall(PetscOptionsBool("-drop_cache", "Evict the file from the page cache before each read", NULL, drop, &drop, NULL));
  PetscCall(PetscOptionsString("-file", "File to write", NULL, file, file, sizeof(file), NULL));
  PetscOptionsEnd();
  PetscCheck(repeat >= 1 && repeat <= 16, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-repeat %" PetscInt_FMT " is invalid; use 1 to 16", repeat);

  /* ---------- Build the set: snapshot k contains n/T particles, each rank an even block ---------- */
  PetscCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, &snap));
  PetscCall(WLMSnapshotsSetDimension(snap, dim));
  {
    const PetscInt N = n / T, local = N / size + (rank < N % size), start = rank * (N / size) + PetscMin(rank, N % size);

    PetscCall(PetscMalloc1((size_t)local * dim + 1, &x));
    for (PetscInt k = 0; k < T; k++) {
      for (PetscInt i = 0; i < local * dim; i++) x[i] = (PetscReal)(start * dim + i) * 1e-7 + k;
      PetscCall(WLMSnapshotsAddSnapshot(snap, k, local, x, velocities ? x : NULL, NULL, NULL));
    }
    bytes = (PetscLogDouble)N * T * dim * sizeof(PetscReal) * (velocities ? 2 : 1);
  }
  PetscCall(PetscFree(x));

  /* ---------- Timed rounds: save, evict, load ---------- */
  for (PetscInt r = 0; r < repeat; r++) {
    WLMSnapshots   loaded;
    PetscLogDouble t0, t1;

    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    PetscCall(PetscTime(&t0));
    PetscCall(WLMSnapshotsSave(snap, file));
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    PetscCall(PetscTime(&t1));
    twrite[r] = t1 - t0;
    if (drop && rank == 0) PetscCall(DropFromPageCache(file));

    PetscCall(WLMSnapshotsCreate(PETSC_COMM_WORLD, &loaded));
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    PetscCall(PetscTime(&t0));
    PetscCall(WLMSnapshotsLoad(loaded, file));
    PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
    PetscCall(PetscTime(&t1));
    tread[r] = t1 - t0;
    PetscCall(WLMSnapshotsDestroy(&loaded));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "round %" PetscInt_FMT ": write %.3f s (%.0f MB/s), read %.3f s (%.0f MB/s)\n", r, twrite[r], bytes / twrite[r] / 1e6, tread[r], bytes / tread[r] / 1e6));
  }
  qsort(twrite, (size_t)repeat, sizeof(twrite[0]), CompareDoubles);
  qsort(tread, (size_t)repeat, sizeof(tread[0]), CompareDoubles);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "ranks %d, particles %" PetscInt_FMT ", snapshots %" PetscInt_FMT ", dim %" PetscInt_FMT ", velocities %s, %.0f MB of data, page cache %s: median write %.0f MB/s, median read %.0f MB/s\n", size, n / T * T, T, dim, velocities ? "yes" : "no", bytes / 1e6, drop ? "dropped" : "kept", bytes / twrite[repeat / 2] / 1e6, bytes / tread[repeat / 2] / 1e6));

  if (rank == 0) remove(file);
  PetscCall(WLMSnapshotsDestroy(&snap));
  PetscCall(PetscFinalize());
  return 0;
}
