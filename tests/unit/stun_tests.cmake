# Unit tests of STUN and NAT discovery: the codec (lib/stun.c), Binding transactions (lib/stun_client.c) and
# the probe's classification (lib/natprobe.c).
foreach(t stun stun_client natprobe)
  add_executable(test_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
  target_link_libraries(test_${t} weftcore PkgConfig::CMOCKA)
  add_test(NAME test_${t} COMMAND test_${t})
endforeach()
