# device_subnets_tests.cmake — weft-device's subnet routes and an advertiser's forwarding
# (services/device/subnet_routes.c, subnet_forward.c): pure parts always; real kernel routes on a TUN device,
# ip_forward and the nftables masquerade table in a network namespace of the test's own when root.
weft_unit_test(test_device_subnets TEST device_subnets INCLUDES ${CMAKE_SOURCE_DIR}/services/device LIBS device_actor)
