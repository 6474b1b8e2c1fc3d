# sas_tests.cmake — unit test of the short authentication string `weft verify` shows (services/cli/sas.c,
# the CLI's own module: compiled in from its source, as the CLI has no library).
weft_unit_test(test_sas SOURCES ${CMAKE_SOURCE_DIR}/services/cli/sas.c INCLUDES ${CMAKE_SOURCE_DIR}/services/cli)
