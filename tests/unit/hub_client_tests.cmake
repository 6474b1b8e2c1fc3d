# hub_client_tests.cmake — unit test of lib/hub_client (the CURVE connection to a hub of the CLI and
# discovery) against a real CURVE ROUTER on loopback.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
add_executable(test_hub_client ${CMAKE_CURRENT_LIST_DIR}/test_hub_client.c)
target_link_libraries(test_hub_client weftcore PkgConfig::CMOCKA PkgConfig::SODIUM)
add_test(NAME test_hub_client COMMAND test_hub_client)
