# udp_steer_tests.cmake — lib/udp_steer (a steering socket in a SO_REUSEPORT group beside another owner's UDP
# socket, weft transport datagrams steered to it by a reuseport cBPF) over real UDP sockets on 127.0.0.1 and ::1.
weft_unit_test(test_udp_steer TEST udp_steer)
