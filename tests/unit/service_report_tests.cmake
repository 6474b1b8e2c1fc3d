# service_report_tests.cmake — unit test of lib/service_report.c: what the supervisor records about a child's
# restarts and why it ended, read back for `weft up --wait` and `weft status`.
weft_unit_test(test_service_report)
