# api_tests.cmake — cmocka unit test of the HTTP APIs' pieces that need no server: the per-address token
# bucket (lib/http_rate.c), path checks and listen-address parsing (lib/http_server.c), and the hub
# API's body and id decoders (services/hub/hub_api_body.c).
pkg_check_modules(WEFT_API_TEST_CJSON REQUIRED IMPORTED_TARGET libcjson)
add_executable(test_api_http ${CMAKE_CURRENT_LIST_DIR}/test_api_http.c
  ${CMAKE_SOURCE_DIR}/services/hub/hub_api_body.c)
target_include_directories(test_api_http PRIVATE ${CMAKE_SOURCE_DIR}/services/hub)
target_link_libraries(test_api_http weft_http PkgConfig::WEFT_API_TEST_CJSON PkgConfig::CMOCKA)
add_test(NAME test_api_http COMMAND test_api_http)
