# hub_stun_tests.cmake — the hub's STUN server (services/hub/hub_stun.c): answers built from lib/stun.c's
# decoder and builder, and a real UDP socket on loopback.
weft_unit_test(test_hub_stun SOURCES ${CMAKE_SOURCE_DIR}/services/hub/hub_stun.c INCLUDES ${CMAKE_SOURCE_DIR}/services/hub)
