# Unit tests of the core library (lib/): config, wire (protobuf + batches), identity, socket address text.
foreach(t config wire identity sockaddr_text udp_guard)
  weft_unit_test(test_${t})
  target_compile_definitions(test_${t} PRIVATE WEFT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endforeach()
