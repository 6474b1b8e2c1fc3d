# udp_batch_tests.cmake — lib/udp_batch (batched UDP send and receive with GSO/GRO, probed, with fallback)
# over real UDP sockets on 127.0.0.1.
weft_unit_test(test_udp_batch TEST udp_batch)
