# mesh_frame_tests.cmake - cmocka unit test for lib/mesh_frame.c (the forward header of mesh frames:
# round trip, and the frames the parser refuses).
weft_unit_test(test_mesh_frame)
