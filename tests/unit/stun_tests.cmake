# Unit tests of STUN and NAT discovery: the codec (lib/stun.c), Binding transactions (lib/stun_client.c) and
# the probe's classification (lib/natprobe.c).
foreach(t stun stun_client natprobe)
  weft_unit_test(test_${t})
endforeach()
