# store_tests.cmake — lib/store.c noticing a restarted Redis, against a real redis-server the test starts
# on a unix socket in a temporary directory (and stops).
weft_unit_test(test_store_restart TEST store_restart SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/redis_fixture.c)
