# crypto_tests.cmake — unit tests for weft-crypto (services/crypto/session.c and crypto_wire.c); the
# datagram decoder's fuzz target is in fuzz/.
weft_unit_test(test_session INCLUDES ${CMAKE_SOURCE_DIR}/services/crypto LIBS crypto_actor)
