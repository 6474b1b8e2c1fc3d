# noise_tests.cmake - cmocka unit tests for lib/noise.c, lib/replay.c and
# lib/transport.c.
foreach(t noise replay transport)
  weft_unit_test(test_${t})
endforeach()
target_compile_definitions(test_noise PRIVATE
  WEFT_NOISE_VECTOR_FILE="${CMAKE_SOURCE_DIR}/tests/vectors/noise_IKpsk2_25519_ChaChaPoly_BLAKE2b.txt")
