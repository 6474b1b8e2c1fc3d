# noise_lib.cmake - source list of the Noise IKpsk2 handshake, the anti-replay
# window and the transport cipher; defines only WEFT_NOISE_SOURCES (link libsodium).
set(WEFT_NOISE_SOURCES ${CMAKE_CURRENT_LIST_DIR}/noise.c ${CMAKE_CURRENT_LIST_DIR}/replay.c ${CMAKE_CURRENT_LIST_DIR}/transport.c)
