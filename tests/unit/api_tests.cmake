# api_tests.cmake — cmocka unit test of the HTTP APIs' pieces that need no server: the per-address token
# bucket (lib/http_rate.c), path checks and listen-address parsing (lib/http_server.c), and the hub
# API's body and id decoders (services/hub/hub_api_body.c).
pkg_check_modules(WEFT_API_TEST_CJSON REQUIRED IMPORTED_TARGET libcjson)
weft_unit_test(test_api_http SOURCES ${CMAKE_SOURCE_DIR}/services/hub/hub_api_body.c INCLUDES ${CMAKE_SOURCE_DIR}/services/hub
  LIBS weft_http PkgConfig::WEFT_API_TEST_CJSON)
