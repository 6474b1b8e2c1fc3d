# segment_tests.cmake - cmocka unit test for services/device/segment.c (TCP segmentation and checksum
# completion of packets read from a TUN with offloads; no TUN needed) and the device.offload key.
add_executable(test_segment
    ${CMAKE_CURRENT_LIST_DIR}/test_segment.c
    ${CMAKE_CURRENT_LIST_DIR}/../../services/device/segment.c)
target_include_directories(test_segment PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../services/device)
target_link_libraries(test_segment PRIVATE weftcore PkgConfig::CMOCKA)
add_test(NAME test_segment COMMAND test_segment)
