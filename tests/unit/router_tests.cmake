# router_tests.cmake - cmocka unit test for lib/route_table.c (route table and IPv4 header
# check).
weft_unit_test(test_router_table INCLUDES ${CMAKE_SOURCE_DIR}/services/router LIBS router_actor)
