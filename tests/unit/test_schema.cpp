#include <gtest/gtest.h>

#include "core/errors.h"
#include "core/json_util.h"
#include "core/schema.h"

namespace gdr {
namespace {

const char* const kSchema = R"({
  "version": "t", "namespaces": {"VM": {"doc": "vm"}},
  "verbs": [{"namespace": "VM", "name": "snapshot", "doc": "snap",
    "params": [
      {"name": "vmID", "type": "string", "minLength": 1, "required": true, "doc": "vm"},
      {"name": "snapDrives", "type": "array", "doc": "drives", "maxLength": 2,
       "items": {"type": "object", "properties": [
          {"name": "name", "type": "string", "required": true, "doc": "target"},
          {"name": "overlayPath", "type": "string", "doc": "path"}]}},
      {"name": "quiesce", "type": "boolean", "default": true, "doc": "q"},
      {"name": "bandwidth", "type": "integer", "minimum": 1, "maximum": 10000, "doc": "MiB/s"},
      {"name": "verify", "type": "string", "enum": ["none", "sample", "full"], "default": "none", "doc": "v"},
      {"name": "extra", "type": "any", "doc": "anything"}],
    "returns": {"type": "object", "doc": "r"}}]})";

class SchemaTest : public ::testing::Test {
 protected:
  Json::Value validate(const std::string& params) {
    return schema_.validate(*schema_.find("VM.snapshot"), *json::parse(params));
  }
  std::string rejected(const std::string& params) {
    try {
      validate(params);
    } catch (const AgentError& e) {
      EXPECT_EQ(e.code(), Code::InvalidParams);
      return e.data().get("param", "").asString() + ": " + e.what();
    }
    ADD_FAILURE() << "accepted " << params;
    return {};
  }
  Schema schema_ = Schema::parse(kSchema);
};

TEST_F(SchemaTest, FillsDefaults) {
  const Json::Value out = validate(R"({"vmID": "a"})");
  EXPECT_EQ(out["quiesce"], true);
  EXPECT_EQ(out["verify"], "none");
  EXPECT_FALSE(out.isMember("bandwidth"));
  EXPECT_FALSE(out.isMember("snapDrives"));
}

TEST_F(SchemaTest, NestedObjectsAreChecked) {
  const Json::Value out = validate(R"({"vmID": "a", "snapDrives": [{"name": "vda", "overlayPath": "/x"}]})");
  EXPECT_EQ(out["snapDrives"][0]["name"], "vda");
  EXPECT_EQ(rejected(R"({"vmID": "a", "snapDrives": [{"overlayPath": "/x"}]})").substr(0, 18), "snapDrives[0].name");
  EXPECT_EQ(rejected(R"({"vmID": "a", "snapDrives": [{"name": "vda", "bogus": 1}]})").substr(0, 19), "snapDrives[0].bogus");
  EXPECT_EQ(rejected(R"({"vmID": "a", "snapDrives": [1]})").substr(0, 13), "snapDrives[0]");
}

TEST_F(SchemaTest, Constraints) {
  EXPECT_EQ(rejected(R"({"vmID": ""})").substr(0, 4), "vmID");
  EXPECT_EQ(rejected(R"({"vmID": 5})").substr(0, 4), "vmID");
  EXPECT_EQ(rejected(R"({"vmID": "a", "bandwidth": 0})").substr(0, 9), "bandwidth");
  EXPECT_EQ(rejected(R"({"vmID": "a", "bandwidth": 10001})").substr(0, 9), "bandwidth");
  EXPECT_EQ(rejected(R"({"vmID": "a", "bandwidth": 2.5})").substr(0, 9), "bandwidth");
  EXPECT_EQ(rejected(R"({"vmID": "a", "bandwidth": true})").substr(0, 9), "bandwidth");
  EXPECT_EQ(rejected(R"({"vmID": "a", "quiesce": "yes"})").substr(0, 7), "quiesce");
  EXPECT_EQ(rejected(R"({"vmID": "a", "verify": "most"})").substr(0, 6), "verify");
  EXPECT_EQ(rejected(R"({"vmID": "a", "snapDrives": [{"name":"a"},{"name":"b"},{"name":"c"}]})").substr(0, 10),
            "snapDrives");
  EXPECT_NO_THROW(validate(R"({"vmID": "a", "bandwidth": 100.0, "extra": [1, {"x": null}]})"));
}

TEST_F(SchemaTest, MessagesSayWhatWasExpected) {
  const std::string message = rejected(R"({"vmID": "a", "snapDrives": "vda"})");
  EXPECT_NE(message.find("expected array of object"), std::string::npos) << message;
  EXPECT_NE(message.find("got \"vda\""), std::string::npos) << message;
}

TEST(SchemaParse, RejectsMalformedSchemas) {
  auto bad = [](const std::string& verbs) {
    return R"({"version":"t","namespaces":{"A":{"doc":"a"}},"verbs":[)" + verbs + "]}";
  };
  EXPECT_THROW(Schema::parse("[]"), std::runtime_error);
  EXPECT_THROW(Schema::parse(bad(R"({"namespace":"B","name":"x","doc":"d","returns":{"type":"object"}})")), std::runtime_error);
  EXPECT_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","returns":{"type":"object"}})")), std::runtime_error);
  EXPECT_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","doc":"d"})")), std::runtime_error);
  EXPECT_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","doc":"d","returns":{"type":"object"},
      "params":[{"name":"p","type":"strnig","doc":"d"}]})")), std::runtime_error);
  EXPECT_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","doc":"d","returns":{"type":"object"},
      "params":[{"name":"p","type":"array","doc":"d"}]})")), std::runtime_error);
  EXPECT_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","doc":"d","returns":{"type":"object"},
      "params":[{"name":"p","type":"string"}]})")), std::runtime_error);
  EXPECT_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","doc":"d","returns":{"type":"object"}},
      {"namespace":"A","name":"x","doc":"d","returns":{"type":"object"}})")), std::runtime_error);
  EXPECT_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","doc":"d","returns":{"type":"object"},"execution":"async"})")),
               std::runtime_error);
  // A pattern needs a length limit (std::regex recurses per character).
  EXPECT_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","doc":"d","returns":{"type":"object"},
      "params":[{"name":"p","type":"string","pattern":"^a*$","doc":"d"}]})")), std::runtime_error);
  EXPECT_NO_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","doc":"d","returns":{"type":"object"},
      "params":[{"name":"p","type":"string","pattern":"^a*$","maxLength":64,"doc":"d"}]})")));
  // The result is a schema too, not prose.
  EXPECT_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","doc":"d","returns":{"doc":"an object"}})")),
               std::runtime_error);
  EXPECT_NO_THROW(Schema::parse(bad(R"({"namespace":"A","name":"x","doc":"d","returns":{"type":"object"}})")));
}

TEST(SchemaParse, BuiltinSchemaLoadsAndDocumentsEverything) {
  const Schema& schema = builtinSchema();
  EXPECT_NE(schema.find("Host.ping"), nullptr);
  for (const auto& verb : schema.verbs()) {
    EXPECT_FALSE(verb.doc.empty()) << verb.fullName();
    EXPECT_TRUE(verb.returns.isMember("doc")) << verb.fullName();
  }
}

}  // namespace
}  // namespace gdr
