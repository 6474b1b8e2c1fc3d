# node_view_tests.cmake — lib/node_view.c's routes and peers, /metrics' routing families (api_actor) and
# `weft routes` / `weft peers` (the built weft, run on a home whose redis.url is the test's own server),
# against a real redis-server the test starts on a unix socket in a temporary directory (and stops).
pkg_check_modules(WEFT_NODE_VIEW_TEST_CJSON REQUIRED IMPORTED_TARGET libcjson)
weft_unit_test(test_node_view TEST api_node_view SOURCES ${CMAKE_SOURCE_DIR}/tests/unit/redis_fixture.c
  LIBS api_actor PkgConfig::WEFT_NODE_VIEW_TEST_CJSON)
target_compile_definitions(test_node_view PRIVATE WEFT_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
add_dependencies(test_node_view weft)
