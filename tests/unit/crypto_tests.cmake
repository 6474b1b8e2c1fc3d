# crypto_tests.cmake — unit tests for weft-crypto (services/crypto/session.c and crypto_wire.c) and the
# data plane's keys and paths (services/dataplane); the datagram decoder's fuzz target is in fuzz/.
# test_session runs the handshakes of crypto against the keyring of the data plane, in one process.
weft_unit_test(test_session INCLUDES ${CMAKE_SOURCE_DIR}/services/crypto ${CMAKE_SOURCE_DIR}/services/dataplane
  LIBS crypto_actor dataplane_actor)
# the data plane's direct paths (direct_path.c) over real sockets on 127.0.0.1, beside lib/udp_steer's shared port
weft_unit_test(test_direct_path INCLUDES ${CMAKE_SOURCE_DIR}/services/dataplane LIBS dataplane_actor)
# the data plane's keys (keyring.c): the key hand-over from the handshake side, rotation, expiry, replay
weft_unit_test(test_keyring INCLUDES ${CMAKE_SOURCE_DIR}/services/dataplane LIBS dataplane_actor)
# the key hand-over messages (lib/key_msg.c): Keypair and KeyEvent through a real ZeroMQ pair, refusals, wiping
weft_unit_test(test_key_msg)
