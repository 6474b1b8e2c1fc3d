# Docs that must match the build: docs/cli.md is generated from the commands' --help
# (scripts/gen-cli-doc.sh; the test says how to regenerate it), and docs/weft.example.yaml passes
# `weft config check`.
add_test(NAME cli_doc_current COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/gen-cli-doc.sh --check ${CMAKE_BINARY_DIR}/bin)
add_test(NAME config_example_check
  COMMAND ${CMAKE_BINARY_DIR}/bin/weft config check ${CMAKE_SOURCE_DIR}/docs/weft.example.yaml --home /nonexistent-weft-home)
set_tests_properties(cli_doc_current config_example_check PROPERTIES LABELS docs)
