# nat_predict_tests.cmake — cmocka unit test for weft-nat's extra ICE candidates: candidate lines
# (services/nat/candidate_line.c), the port prediction's classification and predicted lines
# (services/nat/predict.c), and libnice accepting every line we add (parsed by a real NiceAgent).
# The port mappings themselves need a gateway: tests/integration/test_portmap.sh runs them against miniupnpd.
weft_unit_test(test_nat_predict INCLUDES ${CMAKE_SOURCE_DIR}/services/nat LIBS nat_actor)

# the SSDP answer parser of the gateway search (services/nat/ssdp.c; its fuzz target is fuzz_ssdp)
weft_unit_test(test_nat_ssdp INCLUDES ${CMAKE_SOURCE_DIR}/services/nat LIBS nat_actor)
