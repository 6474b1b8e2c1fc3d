# mesh_store_tests.cmake — the hub's managed-mesh store (services/hub/mesh_store.c) against a real
# redis-server the test starts on a unix socket in a temporary directory (and stops).
weft_unit_test(test_mesh_store TEST mesh_store
  SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/redis_fixture.c ${CMAKE_SOURCE_DIR}/services/hub/mesh_store.c ${CMAKE_SOURCE_DIR}/services/hub/members.c
  INCLUDES ${CMAKE_SOURCE_DIR}/services/hub)
