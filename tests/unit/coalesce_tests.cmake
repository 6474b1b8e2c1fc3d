# coalesce_tests.cmake - cmocka unit test for lib/coalesce.c (receive-side GRO: merging inbound
# TCP segments into GSO super-packets for the TUN; no TUN needed), cross-checked against segment.c.
weft_unit_test(test_coalesce INCLUDES ${CMAKE_SOURCE_DIR}/services/device LIBS device_actor)
