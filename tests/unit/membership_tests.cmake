# membership_tests.cmake — unit tests of mesh membership in lib/: certificates and revocations (cert),
# invite codes and base32 (invite). Their decoders' fuzz targets are in fuzz/ (fuzz_cert, fuzz_invite).
foreach(t cert invite)
  weft_unit_test(test_${t})
endforeach()
