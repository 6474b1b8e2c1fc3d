# ether_tests.cmake - cmocka unit test for services/device/ether.c (device.mode tap: Ethernet header
# strip/add and the ARP answers for overlay addresses; no TAP device needed).
weft_unit_test(test_ether INCLUDES ${CMAKE_SOURCE_DIR}/services/device LIBS device_actor)
