# Fails when docs/API.md differs from what gdr-apidoc generates now.
execute_process(COMMAND ${APIDOC} OUTPUT_VARIABLE GENERATED RESULT_VARIABLE RC)
if(NOT RC EQUAL 0)
  message(FATAL_ERROR "gdr-apidoc failed (${RC})")
endif()
file(READ ${EXPECTED} CURRENT)
if(NOT GENERATED STREQUAL CURRENT)
  message(FATAL_ERROR "docs/API.md is stale; regenerate it: build/bin/gdr-apidoc > docs/API.md")
endif()
