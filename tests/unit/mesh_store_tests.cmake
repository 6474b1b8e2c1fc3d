# mesh_store_tests.cmake — the hub's managed-mesh store (services/hub/mesh_store.c) against a real
# redis-server the test starts on a unix socket in a temporary directory (and stops).
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_mesh_store ${CMAKE_SOURCE_DIR}/tests/unit/test_mesh_store.c
    ${CMAKE_SOURCE_DIR}/tests/unit/redis_fixture.c
                               ${CMAKE_SOURCE_DIR}/services/hub/mesh_store.c
                               ${CMAKE_SOURCE_DIR}/services/hub/members.c)
target_include_directories(test_mesh_store PRIVATE ${CMAKE_SOURCE_DIR}/services/hub)
target_link_libraries(test_mesh_store weftcore PkgConfig::CMOCKA PkgConfig::CZMQ PkgConfig::HIREDIS PkgConfig::SODIUM)
add_test(NAME mesh_store COMMAND test_mesh_store)
