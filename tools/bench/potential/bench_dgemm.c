static char help[] = "Measures the cblas_dgemm rate of this machine (row-major, double precision).\n\
  -m <1000>, -n <1000>, -k <1000>  matrix sizes: C [m][n] = A [m][k] B [k][n]\n\
  -seconds <1>                     minimum time to run\n";

/*
   Reference rate for the potential benchmarks: the GFLOP/s of one
   cblas_dgemm call of the given shape on one rank (2 m n k flops per call),
   repeated for at least -seconds.  Run it with OPENBLAS_NUM_THREADS=1 to get
   the rate of one core.
*/
#include <petscsys.h>
#include <petsctime.h>
#include <cblas.h>

int main(int argc, char **argv)
{
  PetscInt       m = 1000, n = 1000, k = 1000, calls = 0;
  PetscReal      seconds = 1.0, *A, *B, *C;
  PetscLogDouble t0, t1;

  PetscCall(PetscInitialize(&argc, &argv, NULL, help));
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "dgemm rate options", NULL);
  PetscCall(PetscOptionsInt("-m", "Rows of C", NULL, m, &m, NULL));
  PetscCall(PetscOptionsInt("-n", "Columns of C", NULL, n, &n, NULL));
  PetscCall(PetscOptionsInt("-k", "Inner dimension", NULL, k, &k, NULL));
  PetscCall(PetscOptionsReal("-seconds", "Minimum run time in seconds", NULL, seconds, &seconds, NULL));
  PetscOptionsEnd();
  PetscCall(PetscMalloc3(m * k, &A, k * n, &B, m * n, &C));
  for (PetscInt i = 0; i < m * k; i++) A[i] = 1e-3 * (i % 7);
  for (PetscInt i = 0; i < k * n; i++) B[i] = 1e-3 * (i % 5);

  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, A, k, B, n, 0.0, C, n);
  PetscCall(PetscTime(&t0));
  do {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, A, k, B, n, 0.0, C, n);
    calls++;
    PetscCall(PetscTime(&t1));
  } while (t1 - t0 < seconds);
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "dgemm %" PetscInt_FMT " x %" PetscInt_FMT " x %" PetscInt_FMT ": %.2f GFLOP/s over %" PetscInt_FMT " calls\n", m, n, k, 2.0 * m * n * k * calls / (t1 - t0) * 1e-9, calls));
  PetscCall(PetscFree3(A, B, C));
  PetscCall(PetscFinalize());
  return 0;
}
