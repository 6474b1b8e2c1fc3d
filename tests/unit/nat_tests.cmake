# nat_tests.cmake — unit tests of weft-nat's pieces (server lists, probe datagrams, the STUN probe's answer
# check, path_probe) and of the hub's TURN REST credentials (HMAC-SHA1 with the RFC 2202 vectors).
weft_unit_test(test_nat_bits INCLUDES ${CMAKE_SOURCE_DIR}/services/nat LIBS nat_actor)

pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
weft_unit_test(test_turn_creds SOURCES ${CMAKE_SOURCE_DIR}/services/hub/turn_creds.c
  INCLUDES ${CMAKE_SOURCE_DIR}/services/hub ${CMAKE_SOURCE_DIR}/services/discovery LIBS discovery_actor PkgConfig::LIBCRYPTO)
