# hub_tests.cmake — unit tests and the fuzz target for the hub protocol checks (lib/hub_proto.c).
# Included by the tests' CMakeLists (include(.../hub_tests.cmake)); paths are from the source root.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_hub_proto ${CMAKE_SOURCE_DIR}/tests/unit/test_hub_proto.c)
target_link_libraries(test_hub_proto weftcore PkgConfig::CMOCKA)
add_test(NAME hub_proto COMMAND test_hub_proto)

# libFuzzer target: bytes into the hub's request decoder and validator. Clang only.
if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
  add_executable(fuzz_hub_request ${CMAKE_SOURCE_DIR}/fuzz/fuzz_hub_request.c)
  target_compile_options(fuzz_hub_request PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_hub_request PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_hub_request weftcore)
endif()
