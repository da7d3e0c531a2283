/*
   SHA-256: the example digests of FIPS 180-4 (the NIST "Examples with
   Intermediate Values" for SHA-256), agreement of split and one-shot
   updates at every block boundary, and agreement of WLMSHA256File() with
   /usr/bin/sha256sum on files of several sizes.  Also the parsing of
   WLM_TEST_FAIL by the failure injection.
*/
#define _POSIX_C_SOURCE 200809L /* mkstemp, popen, setenv */
#include "wlmtest.h"
#include <wlm/wlmsys.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void Digest(const void *data, size_t len, char hex[65])
{
  WLMSHA256 h;

  WLMSHA256Init(&h);
  WLMSHA256Update(&h, data, len);
  WLMSHA256Final(&h, hex);
}

START_TEST(test_fips_vectors)
{
  const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  char        hex[65];

  Digest("abc", 3, hex);
  ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Digest("", 0, hex);
  ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Digest(two_blocks, strlen(two_blocks), hex);
  ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

/* One million repetitions of 'a', fed in pieces of 1000 bytes. */
START_TEST(test_million_a)
{
  char      piece[1000], hex[65];
  WLMSHA256 h;

  memset(piece, 'a', sizeof(piece));
  WLMSHA256Init(&h);
  for (int i = 0; i < 1000; i++) WLMSHA256Update(&h, piece, sizeof(piece));
  WLMSHA256Final(&h, hex);
  ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

/* Padding lands in one or two blocks depending on len mod 64; every split point must give the one-shot digest. */
START_TEST(test_split_updates)
{
  unsigned char data[200];
  char          whole[65], split[65];

  for (size_t i = 0; i < sizeof(data); i++) data[i] = (unsigned char)(i * 37 + 11);
  for (size_t len = 0; len <= sizeof(data); len++) {
    Digest(data, len, whole);
    for (size_t cut = 0; cut <= len; cut += 7) {
      WLMSHA256 h;

      WLMSHA256Init(&h);
      WLMSHA256Update(&h, data, cut);
      WLMSHA256Update(&h, data + cut, len - cut);
      WLMSHA256Final(&h, split);
      ck_assert_msg(!strcmp(whole, split), "length %zu split at %zu: %s != %s", len, cut, split, whole);
    }
  }
}
END_TEST

START_TEST(test_file_matches_sha256sum)
{
  const size_t sizes[] = {0, 55, 56, 64, 65536, 65537, 200003};
  char         path[] = "/tmp/wlm_sha256_XXXXXX";
  int          fd     = mkstemp(path);

  ck_assert_int_ge(fd, 0);
  close(fd);
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    FILE      *fp = fopen(path, "wb");
    char       hex[65], expected[65] = "", command[PETSC_MAX_PATH_LEN + 64];
    PetscInt64 size;

    ck_assert_ptr_nonnull(fp);
    for (size_t i = 0; i < sizes[k]; i++) fputc((int)((i * 2654435761u) >> 13 & 0xff), fp);
    fclose(fp);
    WLMTestCall(WLMSHA256File(path, hex, &size));
    ck_assert_int_eq(size, (PetscInt64)sizes[k]);
    snprintf(command, sizeof(command), "/usr/bin/sha256sum %s", path);
    fp = popen(command, "r");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fscanf(fp, "%64s", expected), 1);
    pclose(fp);
    ck_assert_msg(!strcmp(hex, expected), "size %zu: %s, sha256sum gives %s", sizes[k], hex, expected);
  }
  unlink(path);
}
END_TEST

START_TEST(test_file_missing)
{
  char hex[65];

  WLMTestExpectError(WLMSHA256File("/nonexistent/wlm.h5", hex, NULL), PETSC_ERR_FILE_OPEN, "/nonexistent/wlm.h5");
}
END_TEST

START_TEST(test_failure_injection_parsing)
{
  PetscMPIInt rank;
  char        spec[64];

  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  unsetenv("WLM_TEST_FAIL");
  ck_assert(!WLMTestFailureRequested("step"));
  WLMTestCall(WLMTestFailureInject("step"));

  snprintf(spec, sizeof(spec), "load:%d,step:%d", rank + 1, rank);
  setenv("WLM_TEST_FAIL", spec, 1);
  ck_assert(WLMTestFailureRequested("step"));
  ck_assert(!WLMTestFailureRequested("load"));
  ck_assert(!WLMTestFailureRequested("ste"));
  WLMTestExpectError(WLMTestFailureInject("step"), PETSC_ERR_LIB, "Injected test failure at point \"step\"");
  WLMTestCall(WLMTestFailureInject("eval"));

  /* a third field skips that many passes of the point before failing */
  snprintf(spec, sizeof(spec), "checkpoint:%d:2", rank);
  setenv("WLM_TEST_FAIL", spec, 1);
  ck_assert(!WLMTestFailureRequested("checkpoint"));
  ck_assert(!WLMTestFailureRequested("checkpoint"));
  ck_assert(WLMTestFailureRequested("checkpoint"));
  unsetenv("WLM_TEST_FAIL");
}
END_TEST

Suite *WLMTestSuite(void)
{
  Suite *s  = suite_create("sha256");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, test_fips_vectors);
  tcase_add_test(tc, test_million_a);
  tcase_add_test(tc, test_split_updates);
  tcase_add_test(tc, test_file_matches_sha256sum);
  tcase_add_test(tc, test_file_missing);
  tcase_add_test(tc, test_failure_injection_parsing);
  suite_add_tcase(s, tc);
  return s;
}
