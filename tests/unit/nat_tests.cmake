# nat_tests.cmake — unit tests of weft-nat's pieces (server lists, probe datagrams, the STUN probe's answer
# check, path_probe) and of the hub's TURN REST credentials (HMAC-SHA1 with the RFC 2202 vectors).
add_executable(test_nat_bits ${CMAKE_CURRENT_LIST_DIR}/test_nat_bits.c)
target_include_directories(test_nat_bits PRIVATE ${CMAKE_SOURCE_DIR}/services/nat)
target_link_libraries(test_nat_bits nat_actor PkgConfig::CMOCKA)
add_test(NAME test_nat_bits COMMAND test_nat_bits)

pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
add_executable(test_turn_creds ${CMAKE_CURRENT_LIST_DIR}/test_turn_creds.c ${CMAKE_SOURCE_DIR}/services/hub/turn_creds.c
  ${CMAKE_SOURCE_DIR}/services/discovery/discovery_turn.c)
target_include_directories(test_turn_creds PRIVATE ${CMAKE_SOURCE_DIR}/services/hub ${CMAKE_SOURCE_DIR}/services/discovery)
target_link_libraries(test_turn_creds weftcore PkgConfig::LIBCRYPTO PkgConfig::SODIUM PkgConfig::CMOCKA)
add_test(NAME test_turn_creds COMMAND test_turn_creds)
