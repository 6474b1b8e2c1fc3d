# sas_tests.cmake — unit test of the short authentication string `weft verify` shows (services/cli/sas.c,
# the CLI's own module: built here from its source, as the CLI has no library).
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
add_executable(test_sas ${CMAKE_CURRENT_LIST_DIR}/test_sas.c ${CMAKE_SOURCE_DIR}/services/cli/sas.c)
target_include_directories(test_sas PRIVATE ${CMAKE_SOURCE_DIR}/services/cli)
target_link_libraries(test_sas weftcore PkgConfig::CMOCKA PkgConfig::SODIUM)
add_test(NAME test_sas COMMAND test_sas)
