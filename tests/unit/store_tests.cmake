# store_tests.cmake — lib/store.c noticing a restarted Redis, against a real redis-server the test starts
# on a unix socket in a temporary directory (and stops).
weft_unit_test(test_store_restart TEST store_restart SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/redis_fixture.c)
# lib/store_link.c: the services' one lazy Redis connection and its back-off, against the same real Redis
weft_unit_test(test_store_link TEST store_link SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/redis_fixture.c)
