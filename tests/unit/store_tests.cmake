# store_tests.cmake — lib/store.c noticing a restarted Redis, against a real redis-server the test starts
# on a unix socket in a temporary directory (and stops).
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_store_restart ${CMAKE_SOURCE_DIR}/tests/unit/test_store_restart.c
    ${CMAKE_SOURCE_DIR}/tests/unit/redis_fixture.c)
target_link_libraries(test_store_restart weftcore PkgConfig::CMOCKA PkgConfig::CZMQ PkgConfig::HIREDIS PkgConfig::SODIUM)
add_test(NAME store_restart COMMAND test_store_restart)
