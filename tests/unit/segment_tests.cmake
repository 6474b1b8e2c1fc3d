# segment_tests.cmake - cmocka unit test for lib/segment.c (TCP segmentation and checksum
# completion of packets read from a TUN with offloads; no TUN needed) and the device.offload key.
weft_unit_test(test_segment INCLUDES ${CMAKE_SOURCE_DIR}/services/device LIBS device_actor)
