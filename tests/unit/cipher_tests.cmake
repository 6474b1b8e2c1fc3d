# cipher_tests.cmake — the transport cipher (lib/transport.c): the AES-256-GCM / ChaCha20-Poly1305 choice,
# crypto.cipher, and both AEADs sealing and opening packets. The negotiation inside the handshake is tested
# in test_session.c.
weft_unit_test(test_cipher)
# bench-aead (bench/aead.c): one core's seal/open rate of each cipher, in Gbit/s. A program, not a test (no
# timed tests); built here beside the tests of the code it measures, never installed.
add_executable(bench-aead ${CMAKE_SOURCE_DIR}/bench/aead.c)
target_link_libraries(bench-aead PRIVATE weftcore)
