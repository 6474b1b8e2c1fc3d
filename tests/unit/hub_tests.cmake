# hub_tests.cmake — unit tests for the hub protocol checks (lib/hub_proto.c); the fuzz target is in fuzz/.
weft_unit_test(test_hub_proto TEST hub_proto)
