# nat_predict_tests.cmake — cmocka unit test for weft-nat's extra ICE candidates: candidate lines
# (services/nat/candidate_line.c), the port prediction's classification and predicted lines
# (services/nat/predict.c), and libnice accepting every line we add (parsed by a real NiceAgent).
# The port mappings themselves need a gateway: tests/integration/test_portmap.sh runs them against miniupnpd.
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
set(WEFT_NAT_DIR ${CMAKE_SOURCE_DIR}/services/nat)
add_executable(test_nat_predict ${CMAKE_CURRENT_LIST_DIR}/test_nat_predict.c ${WEFT_NAT_DIR}/predict.c
    ${WEFT_NAT_DIR}/candidate_line.c)
target_include_directories(test_nat_predict PRIVATE ${WEFT_NAT_DIR})
target_link_libraries(test_nat_predict weftcore PkgConfig::CMOCKA PkgConfig::NICE PkgConfig::GLIB)
add_test(NAME test_nat_predict COMMAND test_nat_predict)

# the SSDP answer parser of the gateway search (services/nat/ssdp.c; its fuzz target is fuzz_ssdp)
add_executable(test_nat_ssdp ${CMAKE_CURRENT_LIST_DIR}/test_nat_ssdp.c ${WEFT_NAT_DIR}/ssdp.c)
target_include_directories(test_nat_ssdp PRIVATE ${WEFT_NAT_DIR})
target_link_libraries(test_nat_ssdp weftcore PkgConfig::CMOCKA)
add_test(NAME test_nat_ssdp COMMAND test_nat_ssdp)
