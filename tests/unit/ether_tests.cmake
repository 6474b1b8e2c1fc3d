# ether_tests.cmake - cmocka unit test for services/device/ether.c (device.mode tap: Ethernet header
# strip/add and the ARP answers for overlay addresses; no TAP device needed).
add_executable(test_ether
    ${CMAKE_CURRENT_LIST_DIR}/test_ether.c
    ${CMAKE_CURRENT_LIST_DIR}/../../services/device/ether.c)
target_include_directories(test_ether PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../services/device ${CMAKE_SOURCE_DIR}/lib)
target_link_libraries(test_ether PRIVATE PkgConfig::CMOCKA)
add_test(NAME test_ether COMMAND test_ether)
