# crypto_tests.cmake — unit tests for weft-crypto (services/crypto/session.c and crypto_wire.c); the
# datagram decoder's fuzz target is in fuzz/. Included by the tests' CMakeLists after weftcore exists;
# expects enable_testing() there.
set(WEFT_CRYPTO_DIR ${CMAKE_CURRENT_LIST_DIR}/../../services/crypto)
set(WEFT_CRYPTO_LIB_SOURCES ${WEFT_CRYPTO_DIR}/session.c ${WEFT_CRYPTO_DIR}/crypto_wire.c
  ${WEFT_CRYPTO_DIR}/cookie.c ${WEFT_CRYPTO_DIR}/ratelimit.c)

if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

add_executable(test_session ${CMAKE_CURRENT_LIST_DIR}/test_session.c ${WEFT_CRYPTO_LIB_SOURCES})
target_include_directories(test_session PRIVATE ${WEFT_CRYPTO_DIR})
target_link_libraries(test_session weftcore PkgConfig::CMOCKA PkgConfig::SODIUM)
add_test(NAME test_session COMMAND test_session)
