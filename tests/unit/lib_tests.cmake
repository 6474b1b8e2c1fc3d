# Unit tests of the core library (lib/): config, wire (protobuf + batches), identity.
foreach(t config wire identity)
  add_executable(test_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
  target_link_libraries(test_${t} weftcore PkgConfig::CMOCKA)
  target_compile_definitions(test_${t} PRIVATE WEFT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME test_${t} COMMAND test_${t})
endforeach()
