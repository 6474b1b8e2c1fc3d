# hub_quota_tests.cmake — the hub's fixed-window quotas (services/hub/hub_quota.c): pure logic, no sockets.
weft_unit_test(test_hub_quota TEST hub_quota SOURCES ${CMAKE_SOURCE_DIR}/services/hub/hub_quota.c INCLUDES ${CMAKE_SOURCE_DIR}/services/hub)
