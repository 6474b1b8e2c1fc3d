# noise_tests.cmake - cmocka unit tests for lib/noise.c, lib/replay.c and
# lib/transport.c.  Expects WEFT_NOISE_SOURCES (from lib/noise_lib.cmake) and
# enable_testing() in the including project; links libsodium and cmocka.

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
    pkg_check_modules(WEFT_NOISE_SODIUM QUIET libsodium)
    pkg_check_modules(WEFT_NOISE_CMOCKA QUIET cmocka)
endif()
# Fall back to plain library names when pkg-config does not know them.
if(NOT WEFT_NOISE_SODIUM_FOUND)
    set(WEFT_NOISE_SODIUM_LIBRARIES sodium)
endif()
if(NOT WEFT_NOISE_CMOCKA_FOUND)
    set(WEFT_NOISE_CMOCKA_LIBRARIES cmocka)
endif()

foreach(weft_noise_test noise replay transport)
    set(weft_noise_target test_${weft_noise_test})
    add_executable(${weft_noise_target}
        ${CMAKE_CURRENT_LIST_DIR}/test_${weft_noise_test}.c
        ${WEFT_NOISE_SOURCES})
    target_include_directories(${weft_noise_target} PRIVATE
        ${CMAKE_SOURCE_DIR}/lib
        ${WEFT_NOISE_SODIUM_INCLUDE_DIRS}
        ${WEFT_NOISE_CMOCKA_INCLUDE_DIRS})
    target_link_directories(${weft_noise_target} PRIVATE
        ${WEFT_NOISE_SODIUM_LIBRARY_DIRS}
        ${WEFT_NOISE_CMOCKA_LIBRARY_DIRS})
    target_link_libraries(${weft_noise_target} PRIVATE
        ${WEFT_NOISE_CMOCKA_LIBRARIES}
        ${WEFT_NOISE_SODIUM_LIBRARIES})
    set_target_properties(${weft_noise_target} PROPERTIES
        C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
    add_test(NAME ${weft_noise_target} COMMAND ${weft_noise_target})
endforeach()

# test_noise cross-checks its embedded hex against the vector file.
target_compile_definitions(test_noise PRIVATE
    WEFT_NOISE_VECTOR_FILE="${CMAKE_CURRENT_LIST_DIR}/../vectors/noise_IKpsk2_25519_ChaChaPoly_BLAKE2b.txt")
