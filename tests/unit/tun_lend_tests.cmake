# tun_lend_tests.cmake — services/device/tun_lend.c (weft-device's TUN lending socket: "tun?" -> the fd with
# its tag, one client at a time) over a real unix socket in /tmp, a pipe standing for the TUN fd.
weft_unit_test(test_tun_lend TEST tun_lend INCLUDES ${CMAKE_SOURCE_DIR}/services/device LIBS device_actor)
