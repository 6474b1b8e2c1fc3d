# mesh_routes_tests.cmake - cmocka unit test for lib/mesh_routes.c (mesh routing's distance-vector core:
# several nodes passing announcements to each other in one process).
weft_unit_test(test_mesh_routes)
