# hub_quota_tests.cmake — the hub's fixed-window quotas (services/hub/hub_quota.c): pure logic, no sockets.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_hub_quota ${CMAKE_SOURCE_DIR}/tests/unit/test_hub_quota.c
                              ${CMAKE_SOURCE_DIR}/services/hub/hub_quota.c)
target_include_directories(test_hub_quota PRIVATE ${CMAKE_SOURCE_DIR}/services/hub)
target_link_libraries(test_hub_quota PkgConfig::CMOCKA)
add_test(NAME hub_quota COMMAND test_hub_quota)
