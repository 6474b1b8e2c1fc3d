# membership_tests.cmake — unit tests of mesh membership in lib/: certificates and revocations (cert),
# invite codes and base32 (invite). Their decoders' fuzz targets are in fuzz/ (fuzz_cert, fuzz_invite).
if(NOT TARGET PkgConfig::CMOCKA)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()
foreach(t cert invite)
  add_executable(test_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
  target_link_libraries(test_${t} weftcore PkgConfig::CMOCKA PkgConfig::SODIUM)
  add_test(NAME test_${t} COMMAND test_${t})
endforeach()
