# prom_text_tests.cmake — lib/prom_text (the Prometheus text both /metrics write): escaping, families
# written once, bad names left out; pure logic, no server.
weft_unit_test(test_prom_text)
