# hub_client_tests.cmake — unit test of lib/hub_client (the CURVE connection to a hub of the CLI and
# discovery) against a real CURVE ROUTER on loopback.
weft_unit_test(test_hub_client)
# lib/hub_key: the hub key's hex form and the old Z85 form read alike, junk refused with a clear message.
weft_unit_test(test_hub_key)
