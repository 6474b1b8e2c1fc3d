# hub_tests.cmake — unit tests for the hub protocol checks (lib/hub_proto.c); the fuzz target is in fuzz/.
# Included by the tests' CMakeLists (include(.../hub_tests.cmake)); paths are from the source root.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_hub_proto ${CMAKE_SOURCE_DIR}/tests/unit/test_hub_proto.c)
target_link_libraries(test_hub_proto weftcore PkgConfig::CMOCKA)
add_test(NAME hub_proto COMMAND test_hub_proto)
