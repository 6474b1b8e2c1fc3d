# coalesce_tests.cmake - cmocka unit test for services/device/coalesce.c (receive-side GRO: merging inbound
# TCP segments into GSO super-packets for the TUN; no TUN needed), cross-checked against segment.c.
add_executable(test_coalesce
    ${CMAKE_CURRENT_LIST_DIR}/test_coalesce.c
    ${CMAKE_CURRENT_LIST_DIR}/../../services/device/coalesce.c
    ${CMAKE_CURRENT_LIST_DIR}/../../services/device/segment.c)
target_include_directories(test_coalesce PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../services/device)
target_link_libraries(test_coalesce PRIVATE weftcore PkgConfig::CMOCKA)
add_test(NAME test_coalesce COMMAND test_coalesce)
