# Turns the verb schema into a C++ source file holding its text.
file(READ ${INPUT} SCHEMA_TEXT)
file(WRITE ${OUTPUT} "// Generated from verbs/schema.json; do not edit.\n"
  "#include <string_view>\nnamespace gdr {\n"
  "extern const std::string_view kSchemaText;\n"
  "const std::string_view kSchemaText = R\"gdrschema(${SCHEMA_TEXT})gdrschema\";\n}\n")
