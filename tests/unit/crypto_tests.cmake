# crypto_tests.cmake — unit tests for weft-crypto (services/crypto/session.c and crypto_wire.c); the
# datagram decoder's fuzz target is in fuzz/.
weft_unit_test(test_session INCLUDES ${CMAKE_SOURCE_DIR}/services/crypto LIBS crypto_actor)
# crypto's direct paths (direct_path.c) over real sockets on 127.0.0.1, beside lib/udp_steer's shared port
weft_unit_test(test_direct_path INCLUDES ${CMAKE_SOURCE_DIR}/services/crypto LIBS crypto_actor)
# the data plane's keys (keyring.c): the key hand-over from the handshake side, rotation, expiry, replay
weft_unit_test(test_keyring INCLUDES ${CMAKE_SOURCE_DIR}/services/crypto LIBS crypto_actor)
# the key hand-over messages (key_msg.c): Keypair and KeyEvent through a real ZeroMQ pair, refusals, wiping
weft_unit_test(test_key_msg INCLUDES ${CMAKE_SOURCE_DIR}/services/crypto LIBS crypto_actor)
