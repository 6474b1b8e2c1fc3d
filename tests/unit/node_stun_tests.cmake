# node_stun_tests.cmake — lib/node_stun (which STUN servers a node asks: nat.stun_servers, else the
# hub's): address from hub.endpoint, fallback and reasons; pure logic, no Redis.
weft_unit_test(test_node_stun)
