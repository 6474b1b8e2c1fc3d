# router_tests.cmake - cmocka unit test for services/router/route_table.c (route table and IPv4 header
# check). Included by the tests' CMakeLists; expects the weftcore target and enable_testing().
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
    pkg_check_modules(WEFT_ROUTER_CMOCKA QUIET cmocka)
endif()
if(NOT WEFT_ROUTER_CMOCKA_FOUND)
    set(WEFT_ROUTER_CMOCKA_LIBRARIES cmocka)
endif()

add_executable(test_router_table
    ${CMAKE_CURRENT_LIST_DIR}/test_router_table.c
    ${CMAKE_CURRENT_LIST_DIR}/../../services/router/route_table.c)
target_include_directories(test_router_table PRIVATE
    ${CMAKE_CURRENT_LIST_DIR}/../../services/router
    ${WEFT_ROUTER_CMOCKA_INCLUDE_DIRS})
target_link_directories(test_router_table PRIVATE ${WEFT_ROUTER_CMOCKA_LIBRARY_DIRS})
target_link_libraries(test_router_table PRIVATE weftcore ${WEFT_ROUTER_CMOCKA_LIBRARIES})
add_test(NAME test_router_table COMMAND test_router_table)
