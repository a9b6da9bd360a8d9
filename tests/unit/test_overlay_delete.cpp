// The overlay guards, the qcow2 header parser and volume paths, on a fake
// volume: every refusal deletes nothing.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "core/errors.h"
#include "core/json_util.h"
#include "core/sha256.h"
#include "gfapi/overlay_delete.h"
#include "gfapi/qcow2.h"
#include "gfapi/recovery_points.h"
#include "gfapi/volume_path.h"

namespace gdr::gfapi {
namespace {

using volpath::Components;

std::string be32(std::uint32_t v) {
  std::string out(4, '\0');
  for (int i = 3; i >= 0; --i, v >>= 8) out[i] = char(v & 0xff);
  return out;
}
std::string be64(std::uint64_t v) { return be32(std::uint32_t(v >> 32)) + be32(std::uint32_t(v)); }

// A version 3 qcow2 header, optionally with a backing file name.
std::string qcow2Image(const std::string& backing = "", std::uint64_t size = 1 << 30, std::uint32_t version = 3) {
  std::string h = "QFI\xfb" + be32(version);
  h += be64(backing.empty() ? 0 : 112) + be32(std::uint32_t(backing.size()));
  h += be32(16) + be64(size);  // cluster_bits, size
  h += std::string(version == 3 ? 104 - h.size() : 72 - h.size(), '\0');
  if (version == 3) h.replace(100, 4, be32(104));
  h.resize(112, '\0');
  h += backing;
  h.resize(4096, '\0');
  return h;
}

class FakeVolume : public Volume {
 public:
  struct Node {
    EntryInfo::Type type;
    std::string content;
  };
  std::map<std::string, Node> nodes;  // volume-relative path -> node
  std::vector<std::string> unlinked;
  int lookups = 0;
  int reads = 0;

  void file(const std::string& path, std::string content) {
    nodes[path] = {EntryInfo::Type::Regular, std::move(content)};
    mkdirs(path);
  }
  void node(const std::string& path, EntryInfo::Type type) {
    nodes[path] = {type, ""};
    mkdirs(path);
  }

  std::optional<EntryInfo> lookup(const Components& path) override {
    ++lookups;
    std::string walked;
    for (size_t i = 0; i < path.size(); ++i) {
      walked += (walked.empty() ? "" : "/") + path[i];
      auto it = nodes.find(walked);
      if (it == nodes.end()) return std::nullopt;
      if (i + 1 < path.size() && it->second.type != EntryInfo::Type::Directory) {
        throw AgentError(Code::NotRegularFile, walked + " is not a directory");
      }
    }
    const Node& n = nodes.at(walked);
    EntryInfo info;
    info.type = n.type;
    info.size = n.content.size();
    return info;
  }
  std::string readPrefix(const Components& path, size_t length) override {
    ++reads;
    return nodes.at(volpath::join(path)).content.substr(0, length);
  }
  std::vector<std::pair<std::string, EntryInfo>> list(const Components& dir) override {
    const std::string prefix = dir.empty() ? "" : volpath::join(dir) + "/";
    std::vector<std::pair<std::string, EntryInfo>> out;
    for (const auto& [path, n] : nodes) {
      if (path.rfind(prefix, 0) == 0 && path.find('/', prefix.size()) == std::string::npos) {
        EntryInfo info;
        info.type = n.type;
        info.size = n.content.size();
        info.version = std::to_string(std::hash<std::string>()(n.content));
        out.emplace_back(path.substr(prefix.size()), info);
      }
    }
    return out;
  }
  bool unlink(const Components& path) override {
    unlinked.push_back(volpath::join(path));
    nodes.erase(volpath::join(path));
    return true;  // a sharded volume
  }
  void touch(const Components&) override {}
  void writeFile(const Components& path, const std::string& content) override {
    if (path.size() > 1 && !lookup(Components(path.begin(), path.end() - 1))) {
      throw AgentError(Code::FileNotFound, "no directory for " + volpath::join(path));
    }
    file(volpath::join(path), content);
  }
  size_t markForGeoRepResync(const Components& path, const std::vector<std::uint64_t>& offsets) override {
    marked.push_back(volpath::join(path));
    markedOffsets = offsets;
    return offsets.empty() ? 1 : offsets.size();
  }
  std::vector<std::uint64_t> markedOffsets;
  std::vector<std::string> marked;
  std::map<std::string, ShardLayout> layouts;
  ShardLayout shardLayout(const Components& path) override { return layouts.at(volpath::join(path)); }
  // Reads of this file from this byte on fail as gfapi's would, with this errno.
  std::optional<std::tuple<std::string, std::uint64_t, int>> failingRead;
  // Reads of this file end at this byte, its size as looked up unchanged.
  std::optional<std::pair<std::string, std::uint64_t>> shortRead;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> rangeReads;  // (offset, length) asked of readRange
  std::uint64_t readRange(const Components& path, std::uint64_t offset, std::uint64_t length,
                          const std::function<void(const char*, size_t)>& sink) override {
    rangeReads.emplace_back(offset, length);
    if (failingRead && std::get<0>(*failingRead) == volpath::join(path) &&
        offset + length > std::get<1>(*failingRead)) {
      Json::Value data;
      data["errno"] = std::get<2>(*failingRead);
      throw AgentError(Code::GfapiIOError,
                       "cannot read '" + volpath::join(path) + "' at byte " + std::to_string(offset) + ": " +
                           std::strerror(std::get<2>(*failingRead)),
                       data);
    }
    std::string content = nodes.at(volpath::join(path)).content;
    if (shortRead && shortRead->first == volpath::join(path)) content.resize(shortRead->second);
    if (offset >= content.size()) return 0;
    const std::string part = content.substr(offset, length);
    sink(part.data(), part.size());
    return part.size();
  }

 private:
  void mkdirs(const std::string& path) {
    for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
      nodes.emplace(path.substr(0, slash), Node{EntryInfo::Type::Directory, ""});
    }
  }
};

class OverlayDeleteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    volume.file("images/vm1.qcow2", qcow2Image());
    volume.file("images/.gdr-snapshots/vm1.1.qcow2", qcow2Image("/mnt/primary/images/vm1.qcow2"));
    volume.file("images/.gdr-snapshots/vm2.1.qcow2", qcow2Image("../vm2.qcow2"));
    volume.file("images/vm2.qcow2", qcow2Image());
  }

  Code refusal(OverlayDeleteRequest request) {
    try {
      api::encode(deleteOverlays(volume, request));
    } catch (const AgentError& e) {
      EXPECT_TRUE(volume.unlinked.empty()) << "deleted despite refusal";
      EXPECT_NE(std::string(e.what()).find("nothing was deleted"), std::string::npos) << e.what();
      return e.code();
    }
    ADD_FAILURE() << "not refused";
    return Code::GeneralException;
  }

  FakeVolume volume;
};

TEST_F(OverlayDeleteTest, DeletesOverlaysAndReportsSharding) {
  OverlayDeleteRequest request;
  request.paths = {"images/.gdr-snapshots/vm1.1.qcow2", "images/.gdr-snapshots/vm2.1.qcow2"};
  const Json::Value out = api::encode(deleteOverlays(volume, request));
  ASSERT_EQ(out["results"].size(), 2u);
  EXPECT_EQ(out["results"][0]["deleted"], true);
  EXPECT_EQ(out["results"][0]["bytes"].asUInt64(), 4096u);
  EXPECT_EQ(out["sharded"], true);
  EXPECT_NE(out["note"].asString().find("background"), std::string::npos);
  EXPECT_EQ(volume.unlinked.size(), 2u);
  EXPECT_TRUE(volume.nodes.count("images/vm1.qcow2"));
}

TEST_F(OverlayDeleteTest, NeverWhatARunningVmHasOpen) {
  OverlayDeleteRequest request;
  request.paths = {"images/.gdr-snapshots/vm2.1.qcow2", "images/.gdr-snapshots/vm1.1.qcow2"};
  request.openByVms = {{"images/.gdr-snapshots/vm1.1.qcow2", "vm1 (0f0e0d0c-0b0a-4908-8706-050403020100)"}};
  EXPECT_EQ(refusal(request), Code::ImageOpenByVM);
  request.openByVms = {{"images/.gdr-snapshots/other.qcow2", "vm9 (x)"}};  // another file: no effect
  EXPECT_EQ(api::encode(deleteOverlays(volume, request))["results"][1]["deleted"], true);
}

TEST_F(OverlayDeleteTest, ExpectedBackingAbsoluteOrRelative) {
  OverlayDeleteRequest request;
  request.paths = {"images/.gdr-snapshots/vm1.1.qcow2"};
  request.expectedBacking = "images/vm1.qcow2";
  EXPECT_EQ(api::encode(deleteOverlays(volume, request))["results"][0]["deleted"], true);
  request.paths = {"images/.gdr-snapshots/vm2.1.qcow2"};
  request.expectedBacking = "images/vm2.qcow2";
  EXPECT_EQ(api::encode(deleteOverlays(volume, request))["results"][0]["deleted"], true);
}

TEST_F(OverlayDeleteTest, AbsentIsIdempotentSuccess) {
  OverlayDeleteRequest request;
  request.paths = {"images/.gdr-snapshots/gone.qcow2", "images/.gdr-snapshots/vm1.1.qcow2"};
  Json::Value out = api::encode(deleteOverlays(volume, request));
  EXPECT_EQ(out["results"][0]["deleted"], false);
  EXPECT_EQ(out["results"][0]["reason"], "absent");
  out = api::encode(deleteOverlays(volume, request));  // again: both absent now
  EXPECT_EQ(out["results"][1]["reason"], "absent");
}

TEST_F(OverlayDeleteTest, DryRunDeletesNothing) {
  OverlayDeleteRequest request;
  request.paths = {"images/.gdr-snapshots/vm1.1.qcow2"};
  request.dryRun = true;
  EXPECT_EQ(api::encode(deleteOverlays(volume, request))["results"][0]["deleted"], false);
  EXPECT_TRUE(volume.unlinked.empty());
}

TEST_F(OverlayDeleteTest, EveryGuardRefusesWithItsOwnCode) {
  volume.node("images/.gdr-snapshots/link.qcow2", EntryInfo::Type::Symlink);
  volume.node("images/.gdr-snapshots/dir.qcow2", EntryInfo::Type::Directory);
  volume.file("images/.gdr-snapshots/base.qcow2", qcow2Image());
  volume.file("images/.gdr-snapshots/notes.txt", "just text");
  volume.file("images/outside.qcow2", qcow2Image("vm1.qcow2"));
  volume.file("images/.gdr-snapshots/chain-1.qcow2", qcow2Image("../vm1.qcow2"));
  volume.file("images/.gdr-snapshots/chain-2.qcow2", qcow2Image("chain-1.qcow2"));
  volume.node("images/.gdr-snapshots/linkdir", EntryInfo::Type::Symlink);

  auto one = [](std::string path, std::optional<std::string> backing = std::nullopt) {
    OverlayDeleteRequest r;
    r.paths = {"images/.gdr-snapshots/vm1.1.qcow2", std::move(path)};  // a valid one first: still nothing deleted
    r.expectedBacking = std::move(backing);
    return r;
  };
  EXPECT_EQ(refusal(one("../x")), Code::PathRejected);
  EXPECT_EQ(refusal(one("/images/.gdr-snapshots/vm1.1.qcow2")), Code::PathRejected);
  EXPECT_EQ(refusal(one("images//.gdr-snapshots/x.qcow2")), Code::PathRejected);
  EXPECT_EQ(refusal(one("images/.gdr-snapshots/./x")), Code::PathRejected);
  EXPECT_EQ(refusal(one(std::string("images/.gdr-snapshots/a\0b", 26))), Code::PathRejected);
  EXPECT_EQ(refusal(one("images/outside.qcow2")), Code::PathOutsidePrefix);
  EXPECT_EQ(refusal(one("images/.gdr-snapshots/link.qcow2")), Code::NotRegularFile);
  EXPECT_EQ(refusal(one("images/.gdr-snapshots/dir.qcow2")), Code::NotRegularFile);
  EXPECT_EQ(refusal(one("images/.gdr-snapshots/linkdir/.gdr-snapshots/x")), Code::NotRegularFile);
  EXPECT_EQ(refusal(one("images/.gdr-snapshots/base.qcow2")), Code::ImageIsBase);
  EXPECT_EQ(refusal(one("images/.gdr-snapshots/notes.txt")), Code::NotQcow2);
  EXPECT_EQ(refusal(one("images/.gdr-snapshots/vm2.1.qcow2", "images/vm1.qcow2")), Code::BackingMismatch);
  EXPECT_EQ(refusal(one("images/.gdr-snapshots/chain-1.qcow2")), Code::ImageInUse);
  // The top of the chain is fine.
  ASSERT_TRUE(volume.unlinked.empty());
  OverlayDeleteRequest top;
  top.paths = {"images/.gdr-snapshots/chain-2.qcow2"};
  EXPECT_EQ(api::encode(deleteOverlays(volume, top))["results"][0]["deleted"], true);
}

TEST_F(OverlayDeleteTest, ConfiguredPrefixes) {
  volume.file("vms/overlays/a.qcow2", qcow2Image("../disk.qcow2"));
  OverlayDeleteRequest request;
  request.paths = {"vms/overlays/a.qcow2"};
  request.allowedPrefixes = {"vms/overlays"};
  EXPECT_EQ(api::encode(deleteOverlays(volume, request))["results"][0]["deleted"], true);
  volume.unlinked.clear();
  request.paths = {"images/.gdr-snapshots/vm1.1.qcow2"};
  EXPECT_EQ(refusal(request), Code::PathOutsidePrefix);
  request.paths = {"vms/overlays"};  // the prefix itself is not inside it
  EXPECT_EQ(refusal(request), Code::PathOutsidePrefix);
}

TEST_F(OverlayDeleteTest, SiblingHeadersAreCachedUntilTheyChange) {
  for (int i = 0; i < 20; ++i) {
    volume.file("images/.gdr-snapshots/s" + std::to_string(i) + ".qcow2", qcow2Image("../vm1.qcow2"));
  }
  HeaderCache cache;
  OverlayDeleteRequest request;
  request.cache = &cache;
  request.cacheScope = "vol";
  request.paths = {"images/.gdr-snapshots/s0.qcow2"};
  api::encode(deleteOverlays(volume, request));
  const int coldReads = volume.reads;
  EXPECT_GE(coldReads, 20);
  request.paths = {"images/.gdr-snapshots/s1.qcow2"};
  api::encode(deleteOverlays(volume, request));
  EXPECT_LE(volume.reads - coldReads, 1);  // only the target itself
  // A sibling rewritten to be backed by s2 is read again, and protects s2.
  volume.file("images/.gdr-snapshots/s3.qcow2", qcow2Image("s2.qcow2"));
  request.paths = {"images/.gdr-snapshots/s2.qcow2"};
  volume.unlinked.clear();
  EXPECT_EQ(refusal(request), Code::ImageInUse);
}

TEST_F(OverlayDeleteTest, ChecksumsWholeFilesAndRanges) {
  volume.file("data.bin", "abc");
  EXPECT_EQ(api::encode(fileChecksum(volume, "data.bin", 0, std::nullopt))["sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const Json::Value part = api::encode(fileChecksum(volume, "data.bin", 1, 1));
  EXPECT_EQ(part["bytes"].asUInt64(), 1u);
  EXPECT_EQ(part["sha256"], "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d");  // "b"
}

TEST(Sampling, OneRangeInEveryStrideAtVaryingPositions) {
  const Sampling sampling{1 << 20, 64 << 10};
  const auto ranges = sampleRanges(10 * (1 << 20) + 100, sampling);
  ASSERT_EQ(ranges.size(), 11u);
  std::set<std::uint64_t> positions;
  for (size_t i = 0; i < ranges.size(); ++i) {
    const auto [at, length] = ranges[i];
    EXPECT_GE(at, i * sampling.stride);
    EXPECT_LE(at + length, std::min<std::uint64_t>((i + 1) * sampling.stride, 10 * (1 << 20) + 100));
    EXPECT_EQ(at % 4096, 0u);
    if (i < 10) {
      EXPECT_EQ(length, sampling.length);
    }
    positions.insert(at - i * sampling.stride);
  }
  EXPECT_GE(positions.size(), 8u);  // not the same spot in every stride
  EXPECT_EQ(ranges.back().second, 100u);
  EXPECT_EQ(sampleRanges(10 * (1 << 20) + 100, sampling), ranges);  // the same on every call
  EXPECT_TRUE(sampleRanges(0, sampling).empty());
}

TEST_F(OverlayDeleteTest, SampledChecksumsSeeAPieceMissingAsAWhole) {
  // 4 "shards" of 64 KiB; in the copy the third arrived empty (zeros).
  std::string original;
  for (int i = 0; i < 4 * 64 * 1024; ++i) original += char('a' + i % 26);
  std::string copy = original;
  std::fill(copy.begin() + 2 * 64 * 1024, copy.begin() + 3 * 64 * 1024, '\0');
  volume.file("original.bin", original);
  volume.file("copy.bin", copy);
  const Sampling sampling{64 * 1024, 4096};
  const Json::Value a = api::encode(fileChecksum(volume, "original.bin", 0, std::nullopt, sampling));
  const Json::Value b = api::encode(fileChecksum(volume, "copy.bin", 0, std::nullopt, sampling));
  EXPECT_EQ(a["ranges"].asUInt64(), 4u);
  EXPECT_EQ(a["bytes"].asUInt64(), 4u * 4096);
  EXPECT_NE(a["sha256"], b["sha256"]);
  // The per-range digests point at the emptied piece, and only at it.
  ASSERT_EQ(a["rangeSums"].size(), 4u);
  for (Json::ArrayIndex i = 0; i < 4; ++i) EXPECT_EQ(a["rangeSums"][i] != b["rangeSums"][i], i == 2) << i;
  volume.file("same.bin", original);
  EXPECT_EQ(api::encode(fileChecksum(volume, "same.bin", 0, std::nullopt, sampling))["sha256"], a["sha256"]);
}

// A read that ends before the file does is an error, never a checksum of
// fewer bytes (which would differ from a whole copy's at every check).
TEST_F(OverlayDeleteTest, AChecksumOfAFileThatReadsShortIsAnError) {
  volume.file("delta.qcow2", std::string(3 * 65536, 'd'));
  volume.shortRead = {{"delta.qcow2", 65536 + 100}};
  const Sampling whole{65536, 65536};
  try {
    fileChecksum(volume, "delta.qcow2", 0, std::nullopt, whole);
    FAIL() << "a short read passed";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::GfapiIOError);
    EXPECT_EQ(e.data()["offset"].asUInt64(), 65536u + 100);
    EXPECT_EQ(e.data()["errno"].asInt(), EIO);
  }
  EXPECT_THROW(fileChecksum(volume, "delta.qcow2", 0, std::nullopt), AgentError);
  // Past the point where reads end, and a range that asks beyond the end
  // of a whole file, are read as before.
  EXPECT_EQ(fileChecksum(volume, "delta.qcow2", 0, 65536).bytes, 65536u);
  volume.shortRead.reset();
  EXPECT_EQ(fileChecksum(volume, "delta.qcow2", 65536, 1 << 20).bytes, 2u * 65536);
  EXPECT_EQ(fileChecksum(volume, "delta.qcow2", 0, std::nullopt, whole).bytes, 3u * 65536);
}

TEST_F(OverlayDeleteTest, MarksOnlyRegularFilesForResync) {
  volume.file("images/base.qcow2", "x");
  EXPECT_EQ(api::encode(markForGeoRepResync(volume, "images/base.qcow2"))["marked"].asUInt64(), 1u);
  EXPECT_EQ(volume.marked, std::vector<std::string>{"images/base.qcow2"});
  auto code = [&](const std::string& path) {
    try {
      api::encode(markForGeoRepResync(volume, path));
    } catch (const AgentError& e) {
      return e.code();
    }
    return Code::GeneralException;
  };
  EXPECT_EQ(code("images/nosuch.qcow2"), Code::FileNotFound);
  EXPECT_EQ(code("images"), Code::NotRegularFile);
  EXPECT_EQ(volume.marked.size(), 1u);
  EXPECT_EQ(api::encode(markForGeoRepResync(volume, "images/base.qcow2", {4u << 20, 12u << 20}))["marked"].asUInt64(),
            2u);
  EXPECT_EQ(volume.markedOffsets, (std::vector<std::uint64_t>{4u << 20, 12u << 20}));
}

TEST_F(OverlayDeleteTest, ShardLayoutListsEachPieceWithItsOffset) {
  volume.file("images/base.qcow2", qcow2Image());
  ShardLayout layout;
  layout.gfid = "9de8badb-1062-484b-91e0-d36658f0c076";
  layout.size = 10u << 20;
  layout.blockSize = 4u << 20;
  layout.pieces = {{0, {layout.gfid, 1796575889542395512u}},
                   {2, {"7158cabb-45e6-405e-bdc4-677f083590d7", 1796575889000000001u}}};  // shard 1: a hole
  volume.layouts["images/base.qcow2"] = layout;
  const Json::Value out = api::encode(shardLayout(volume, "images/base.qcow2"));
  EXPECT_EQ(out["gfid"], layout.gfid);
  EXPECT_EQ(out["shardBlockSize"].asUInt64(), 4u << 20);
  EXPECT_EQ(out["size"].asUInt64(), 10u << 20);
  ASSERT_EQ(out["pieces"].size(), 2u);
  EXPECT_EQ(out["pieces"][1]["index"].asUInt64(), 2u);
  EXPECT_EQ(out["pieces"][1]["offset"].asUInt64(), 8u << 20);
  EXPECT_EQ(out["pieces"][1]["gfid"], "7158cabb-45e6-405e-bdc4-677f083590d7");
  EXPECT_EQ(out["pieces"][1]["mtimeNs"].asUInt64(), 1796575889000000001u);  // to the nanosecond
  EXPECT_EQ(out["pieces"][0]["mtimeNs"].asUInt64(), 1796575889542395512u);
  try {
    api::encode(shardLayout(volume, "images/nosuch.qcow2"));
    ADD_FAILURE() << "an absent file has no layout";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::FileNotFound);
  }
}

TEST_F(OverlayDeleteTest, ImageInfoAndFileStat) {
  const Json::Value info = api::encode(imageInfo(volume, "images/.gdr-snapshots/vm1.1.qcow2"));
  EXPECT_EQ(info["format"], "qcow2");
  EXPECT_EQ(info["virtualSize"].asUInt64(), 1u << 30);
  EXPECT_EQ(info["clusterSize"].asUInt64(), 65536u);
  EXPECT_EQ(info["backingFile"], "/mnt/primary/images/vm1.qcow2");
  EXPECT_TRUE(api::encode(imageInfo(volume, "images/vm1.qcow2"))["backingFile"].isNull());
  volume.file("raw.img", std::string(8192, 'x'));
  EXPECT_EQ(api::encode(imageInfo(volume, "raw.img"))["format"], "raw");
  EXPECT_EQ(api::encode(fileStat(volume, "images"))["type"], "directory");
  try {
    api::encode(fileStat(volume, "nope"));
    ADD_FAILURE();
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::FileNotFound);
  }
}

TEST(Qcow2Header, ParsesVersions2And3) {
  auto h = qcow2::parseHeader(qcow2Image("base.qcow2", 123456789, 3));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->version, 3u);
  EXPECT_EQ(h->virtualSize, 123456789u);
  EXPECT_EQ(h->backingFile, "base.qcow2");
  h = qcow2::parseHeader(qcow2Image("", 1 << 20, 2));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->version, 2u);
  EXPECT_FALSE(h->backingFile);
  EXPECT_FALSE(qcow2::parseHeader("not an image at all"));
  EXPECT_FALSE(qcow2::parseHeader(""));
}

TEST(Qcow2Header, TruncatedAndHostileHeaders) {
  auto corrupt = [](const std::string& bytes) {
    try {
      qcow2::parseHeader(bytes);
    } catch (const AgentError& e) {
      return e.code() == Code::ImageCorrupt;
    }
    return false;
  };
  const std::string good = qcow2Image("base.qcow2");
  EXPECT_TRUE(corrupt(good.substr(0, 50)));   // truncated header
  EXPECT_TRUE(corrupt(good.substr(0, 80)));   // truncated v3 header
  EXPECT_TRUE(corrupt(good.substr(0, 115)));  // truncated backing name
  std::string bad = good;
  bad.replace(4, 4, be32(7));  // unknown version
  EXPECT_TRUE(corrupt(bad));
  bad = good;
  bad.replace(16, 4, be32(5000));  // backing name too long
  EXPECT_TRUE(corrupt(bad));
  bad = good;
  bad.replace(8, 8, be64(40));  // name overlapping the header
  EXPECT_TRUE(corrupt(bad));
  bad = good;
  bad.replace(8, 8, be64(0xFFFFFFFFFFFFFFF0ULL));  // offset overflow
  EXPECT_TRUE(corrupt(bad));
  bad = good;
  bad.replace(20, 4, be32(40));  // absurd cluster size
  EXPECT_TRUE(corrupt(bad));
  bad = good;
  bad[114] = '\0';  // NUL in the name
  EXPECT_TRUE(corrupt(bad));
  bad = good;
  bad.replace(100, 4, be32(20));  // header_length too small
  EXPECT_TRUE(corrupt(bad));
}

TEST(VolumePath, SplitJoinAndPrefixes) {
  EXPECT_EQ(volpath::join(volpath::split("a/b/c.qcow2")), "a/b/c.qcow2");
  for (const char* bad : {"", "/a", "a/", "a//b", "./a", "a/../b", "..", "a/."}) {
    EXPECT_THROW(volpath::split(bad), AgentError) << bad;
  }
  EXPECT_THROW(volpath::split(std::string(300, 'x')), AgentError);
  EXPECT_TRUE(volpath::insideAllowedPrefix(volpath::split("x/.gdr-snapshots/o"), {}));
  EXPECT_FALSE(volpath::insideAllowedPrefix(volpath::split(".gdr-snapshots"), {}));
  EXPECT_FALSE(volpath::insideAllowedPrefix(volpath::split("x/.gdr-snapshots/deeper/o"), {}));
  EXPECT_TRUE(volpath::insideAllowedPrefix(volpath::split("a/b/c"), {"a/b"}));
  EXPECT_FALSE(volpath::insideAllowedPrefix(volpath::split("a/bc/d"), {"a/b"}));
}

// The only files ever removed as a point's delta.
TEST(VolumePath, ADeltaIsAQcow2InTheSnapshotDirectoryBesideItsBase) {
  EXPECT_TRUE(volpath::isDeltaBeside("images/.gdr-snapshots/vm1.20261202T131500Z.abcdef.qcow2", "images/vm1.qcow2"));
  EXPECT_TRUE(volpath::isDeltaBeside(".gdr-snapshots/a.qcow2", "a.qcow2"));
  EXPECT_FALSE(volpath::isDeltaBeside("images/vm1.qcow2", "images/vm1.qcow2"));                  // the base itself
  EXPECT_FALSE(volpath::isDeltaBeside("other/.gdr-snapshots/vm1.1.qcow2", "images/vm1.qcow2"));  // beside another dir
  EXPECT_FALSE(volpath::isDeltaBeside("images/.gdr-snapshots/vm1.1.raw", "images/vm1.qcow2"));
  EXPECT_FALSE(volpath::isDeltaBeside("images/.gdr-snapshots/../vm2.qcow2", "images/vm1.qcow2"));
  EXPECT_FALSE(volpath::isDeltaBeside("/images/.gdr-snapshots/vm1.1.qcow2", "images/vm1.qcow2"));
  EXPECT_FALSE(volpath::isDeltaBeside("images/.gdr-snapshots/.qcow2", "images/vm1.qcow2"));
}

TEST(VolumePath, BackingDesignates) {
  const Components dir = volpath::split("images/.gdr-snapshots");
  const Components base = volpath::split("images/vm1.qcow2");
  EXPECT_TRUE(volpath::backingDesignates("../vm1.qcow2", dir, base));
  EXPECT_TRUE(volpath::backingDesignates("/rhev/mnt/host:_vol/images/vm1.qcow2", dir, base));
  EXPECT_FALSE(volpath::backingDesignates("/rhev/mnt/host:_vol/other/vm1.qcow2", dir, base));
  EXPECT_FALSE(volpath::backingDesignates("vm1.qcow2", dir, base));
  EXPECT_FALSE(volpath::backingDesignates("../../../../vm1.qcow2", dir, base));
  EXPECT_FALSE(volpath::backingDesignates("/x/myimages/vm1.qcow2", dir, base));
}

TEST(EmptyCheck, GlusterOwnDirectoriesDoNotCount) {
  FakeVolume fresh;
  fresh.node(".trashcan", EntryInfo::Type::Directory);
  fresh.node(".shard", EntryInfo::Type::Directory);
  const api::EmptyCheckResult empty = emptyCheck(fresh);
  EXPECT_TRUE(empty.volumeEmptyCheck);
  EXPECT_TRUE(empty.entries.empty());

  fresh.file("images/vm1.qcow2", "x");
  fresh.file("notes.txt", "y");
  const api::EmptyCheckResult used = emptyCheck(fresh);
  EXPECT_FALSE(used.volumeEmptyCheck);
  EXPECT_EQ(used.entries, (std::vector<std::string>{"images", "notes.txt"}));
}

// A sample from an offset is the sample of the file's tail: what lies
// before it (a delta's header, rewritten by a later commit) counts for
// nothing, and the ranges are those of the tail as a file of its own.
TEST(FileChecksum, ASampleFromAnOffsetLeavesTheBytesBeforeItOut) {
  FakeVolume volume;
  std::string content(9 << 20, 'a');
  for (size_t i = 0; i < content.size(); i += 4096) content[i] = char('a' + (i / 4096) % 26);
  volume.file("delta.qcow2", content);
  const Sampling sampling{4 << 20, 64 << 10};
  const api::ChecksumResult before = fileChecksum(volume, "delta.qcow2", 65536, std::nullopt, sampling);
  EXPECT_EQ(before.offset, 65536u);
  EXPECT_EQ(before.ranges, 3u);                      // (9 MiB - 64 KiB) in strides of 4 MiB
  volume.nodes.at("delta.qcow2").content[100] ^= 1;  // the header
  EXPECT_EQ(fileChecksum(volume, "delta.qcow2", 65536, std::nullopt, sampling).sha256, before.sha256);
  EXPECT_NE(fileChecksum(volume, "delta.qcow2", 0, std::nullopt, sampling).sha256, before.sha256);
  const std::uint64_t first = 65536 + sampleRanges(content.size() - 65536, sampling)[0].first;
  volume.nodes.at("delta.qcow2").content[first + 1] ^= 1;  // inside the first range
  const api::ChecksumResult after = fileChecksum(volume, "delta.qcow2", 65536, std::nullopt, sampling);
  EXPECT_NE(after.sha256, before.sha256);
  EXPECT_NE(after.rangeSums->at(0), before.rangeSums->at(0));
  EXPECT_EQ(after.rangeSums->at(1), before.rangeSums->at(1));
}

// Strides read whole follow one another: they are read in runs of up to
// 16 MiB (one request, whose pieces gluster reads in parallel), and the
// digest of each stride is what it would be read alone, though the data
// of a run reaches the digests at once, across its strides.
TEST(FileChecksum, StridesReadWholeAreReadInRunsWithTheSameDigests) {
  FakeVolume volume;
  std::string content((37 << 20) + 4100, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = char((i * 7919) >> 9);
  volume.file("base.qcow2", content);
  const Sampling whole{4 << 20, 4 << 20};
  const api::ChecksumResult sums = fileChecksum(volume, "base.qcow2", 0, std::nullopt, whole);
  ASSERT_EQ(sums.ranges, 10u);
  EXPECT_EQ(sums.bytes, content.size());
  for (size_t i = 0; i < 10; ++i) {
    const std::uint64_t at = i * (4 << 20);
    EXPECT_EQ(sums.rangeSums->at(i), sha256Hex(content.substr(at, 4 << 20)).substr(0, 16)) << i;
  }
  EXPECT_EQ(sums.sha256, sha256Hex(content));
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> runs = {
      {0, 16 << 20}, {16 << 20, 16 << 20}, {32 << 20, (5 << 20) + 4100}};
  EXPECT_EQ(volume.rangeReads, runs);
  // Samples apart from one another: one read each, as before.
  volume.rangeReads.clear();
  const api::ChecksumResult sampled = fileChecksum(volume, "base.qcow2", 0, std::nullopt, Sampling{4 << 20, 64 << 10});
  EXPECT_EQ(volume.rangeReads.size(), 10u);
  const auto ranges = sampleRanges(content.size(), Sampling{4 << 20, 64 << 10});
  for (size_t i = 0; i < ranges.size(); ++i) {
    EXPECT_EQ(sampled.rangeSums->at(i), sha256Hex(content.substr(ranges[i].first, ranges[i].second)).substr(0, 16));
  }
}

TEST(FileChecksum, TooManySampledRangesAreRefusedBeforeAnyRead) {
  FakeVolume volume;
  volume.file("big.bin", std::string(64 << 10, 'x'));
  Sampling sampling{4096, 512, 8};  // 16 strides, at most 8
  try {
    fileChecksum(volume, "big.bin", 0, std::nullopt, sampling);
    ADD_FAILURE() << "accepted";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::InvalidParameter);
    EXPECT_EQ(e.data()["ranges"].asUInt64(), 16u);
  }
  EXPECT_EQ(volume.reads, 0);
  sampling.maxRanges = 16;
  EXPECT_EQ(fileChecksum(volume, "big.bin", 0, std::nullopt, sampling).ranges, 16u);
}

// Recovery points: a point's files checked against its manifest.
class RecoveryPointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A base of 3 shards' worth (12 MiB), each byte telling its place.
    base_.resize(12 << 20);
    for (size_t i = 0; i < base_.size(); ++i) base_[i] = char('a' + (i / 4096) % 26);
    base_.replace(0, 4096, qcow2Image("", 2ull << 30));
    volume.file("images/vm1.qcow2", base_);
    volume.file(".gdr/vms/u1.xml", "<domain><name>vm1</name></domain>");
  }

  // The manifest of the volume as it is now, as gdr-sync writes it.
  api::PointManifest manifest(const std::string& id, std::int64_t time) {
    api::PointManifest m;
    m.id = id;
    m.time = time;
    m.volume = "gdr-primary";
    m.flowId = "flow";
    api::PointVm vm{"u1",
                    "vm1",
                    {".gdr/vms/u1.xml", sha256Hex(volume.nodes.at(".gdr/vms/u1.xml").content),
                     volume.nodes.at(".gdr/vms/u1.xml").content.size()},
                    {}};
    api::PointDisk disk;
    static_cast<api::PointImage&>(disk) = image("images/vm1.qcow2");
    disk.drive = "vda";
    if (chain.empty() && volume.nodes.count(kDelta)) disk.delta = image(kDelta, true);
    for (size_t i = 0; i < chain.size(); ++i) {
      (i + 1 < chain.size() ? disk.olderDeltas.emplace_back() : disk.delta.emplace()) = image(chain[i], true);
    }
    vm.disks.push_back(disk);
    m.vms.push_back(vm);
    return m;
  }
  // As the cycle samples them: a delta after its header cluster.
  api::PointImage image(const std::string& path, bool delta = false) {
    const auto info = imageInfo(volume, path);
    const std::uint64_t offset = delta ? *info.clusterSize : 0;
    const auto sums = fileChecksum(volume, path, offset, std::nullopt, Sampling{4 << 20, 64 << 10});
    api::PointImage out{path, info.format, info.virtualSize, info.actualSize, {}};
    out.sample.stride = 4 << 20;
    out.sample.length = 64 << 10;
    if (delta) out.sample.offset = offset;
    out.sample.sha256 = sums.sha256;
    out.sample.rangeSums = *sums.rangeSums;
    return out;
  }
  // The delta layout: a frozen overlay over the base, naming it relative.
  void addDelta(const std::string& backing = "../vm1.qcow2", const std::string& path = kDelta, char fill = 'd') {
    std::string delta(5 << 20, fill);
    delta.replace(0, 4096, qcow2Image(backing, 2ull << 30));
    volume.file(path, delta);
  }
  // Deltas kept apart (volume-relative, oldest first) for the next
  // manifests; none: the one delta kDelta, if it is there.
  std::vector<std::string> chain;
  // A cycle of the delta layout, up to its seal: a new delta at `path`
  // (over `backing`) ends the chain of point `id`.
  void sealedDeltaPoint(const std::string& id, std::int64_t time, const std::string& backing, const std::string& path,
                        char fill, std::vector<std::string> newChain) {
    addDelta(backing, path, fill);
    chain = std::move(newChain);
    save(manifest(id, time));
    seal(id);
  }
  // The base as the commit of the delta leaves it, part-way: one sampled
  // range rewritten.
  void rewriteBaseInOneRange() {
    volume.nodes.at("images/vm1.qcow2").content[sampleRanges(base_.size(), Sampling{4 << 20, 64 << 10})[2].first] ^= 1;
  }
  // One byte of a delta's sampled range `k` (sampled past its 64 KiB header
  // cluster) flipped: a delta not all there.
  void flipDeltaRange(const std::string& path, size_t k) {
    std::string& content = volume.nodes.at(path).content;
    content[(64 << 10) + sampleRanges(content.size() - (64 << 10), Sampling{4 << 20, 64 << 10})[k].first + 7] ^= 1;
  }
  static constexpr const char* kDelta = "images/.gdr-snapshots/vm1.20261202T131500Z.abcdef.qcow2";
  static constexpr const char* kDelta2 = "images/.gdr-snapshots/vm1.20261202T132000Z.abcdef.qcow2";
  static constexpr const char* kDelta3 = "images/.gdr-snapshots/vm1.20261202T132500Z.abcdef.qcow2";
  static constexpr const char* kDelta4 = "images/.gdr-snapshots/vm1.20261202T133000Z.abcdef.qcow2";
  void save(const api::PointManifest& m) { volume.file(".gdr/points/" + m.id + ".json", json::pretty(api::encode(m))); }
  // What the cycle does once the sync that ships point `id` has finished.
  api::PointSealResult seal(const std::string& id) { return sealPoint(volume, id, 1764690000); }

  std::string base_;
  FakeVolume volume;
};

TEST(RecoveryPointStates, CompleteIncompleteUntilOneIsCompleteSupersededAfter) {
  EXPECT_EQ(pointStates({false, true, false, false}),
            (std::vector<std::string>{"incomplete", "complete", "superseded", "superseded"}));
  EXPECT_EQ(pointStates({true, true}), (std::vector<std::string>{"complete", "complete"}));
  EXPECT_EQ(pointStates({false}), (std::vector<std::string>{"incomplete"}));
  EXPECT_TRUE(isPointId("20261202T131500Z-0a1b2c3d"));
  for (const char* bad : {"", "20261202T131500Z", "../points/20261202T131500Z-0a1b2c3d", "20261202T131500Z-0A1B2C3D",
                          "20261202T131500Z-0a1b2c3d.json", "2026120XT131500Z-0a1b2c3d"}) {
    EXPECT_FALSE(isPointId(bad)) << bad;
  }
}

TEST_F(RecoveryPointTest, APointWhoseFilesMatchItsManifestIsComplete) {
  save(manifest("20261202T131500Z-00000001", 1764681300));
  const api::PointCheckResult r = checkPoint(volume, readManifest(volume, "20261202T131500Z-00000001"), false);
  EXPECT_TRUE(r.complete) << (r.problems.empty() ? "" : r.problems[0].why);
  EXPECT_GT(r.bytesRead, 3u * (64 << 10));  // every shard sampled, and the definition
}

TEST_F(RecoveryPointTest, ABaseRewrittenInOneSampledRangeIsNotComplete) {
  const api::PointManifest m = manifest("20261202T131500Z-00000001", 1764681300);
  save(m);
  // What a sync cut off mid-way leaves: one shard already of a later point.
  const auto& ranges = sampleRanges(base_.size(), Sampling{4 << 20, 64 << 10});
  volume.nodes.at("images/vm1.qcow2").content[ranges[1].first + 10] ^= 1;
  const api::PointCheckResult r = checkPoint(volume, m, false);
  EXPECT_FALSE(r.complete);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].vm, "vm1");
  EXPECT_EQ(r.problems[0].what, "vda");
  EXPECT_NE(r.problems[0].why.find("differs from the point in 1 of 3 sampled ranges, the first at byte 4194304"),
            std::string::npos)
      << r.problems[0].why;
}

// A piece that cannot be read (a shard gone from a read-only secondary reads
// as EROFS) makes the disk's VM incomplete, named with the reason. A lost
// connection (EIO, ENOTCONN) or a shard geo-replication replaced under this
// client (ENOENT, ESTALE) is left to the volume pool's retry.
TEST_F(RecoveryPointTest, AnUnreadablePieceIsNamedOnItsDiskAndALostConnectionIsRetried) {
  const api::PointManifest m = manifest("20261202T131500Z-00000001", 1764681300);
  for (const int err : {EROFS, ENODATA}) {
    volume.failingRead.emplace("images/vm1.qcow2", 4u << 20, err);
    const api::PointCheckResult r = checkPoint(volume, m, false);
    EXPECT_FALSE(r.complete);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].vm, "vm1");
    EXPECT_EQ(r.problems[0].what, "vda");
    EXPECT_EQ(r.problems[0].why.rfind("cannot read 'images/vm1.qcow2' at byte ", 0), 0u) << r.problems[0].why;
    EXPECT_NE(r.problems[0].why.find(std::strerror(err)), std::string::npos) << r.problems[0].why;
  }
  for (const int err : {ENOENT, ESTALE, EIO, ENOTCONN}) {
    volume.failingRead.emplace("images/vm1.qcow2", 4u << 20, err);
    try {
      checkPoint(volume, m, false);
      ADD_FAILURE() << "an errno " << err << " read was taken for a broken point";
    } catch (const AgentError& e) {
      EXPECT_EQ(e.code(), Code::GfapiIOError);
    }
  }
  volume.failingRead.reset();
  EXPECT_TRUE(checkPoint(volume, m, false).complete);
}

TEST_F(RecoveryPointTest, ADefinitionChangedOrMissingAndABaseResizedAreEachNamed) {
  const api::PointManifest m = manifest("20261202T131500Z-00000001", 1764681300);
  volume.nodes.at(".gdr/vms/u1.xml").content = "<domain><name>vm2</name></domain>";  // same size
  auto r = checkPoint(volume, m, false);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].what, "definition");
  EXPECT_NE(r.problems[0].why.find("its bytes differ"), std::string::npos);
  volume.nodes.erase(".gdr/vms/u1.xml");
  volume.nodes.at("images/vm1.qcow2").content += std::string(4096, 'z');
  r = checkPoint(volume, m, false);
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_NE(r.problems[0].why.find("missing"), std::string::npos);
  EXPECT_NE(r.problems[1].why.find("is 12587008 bytes long, not 12582912"), std::string::npos) << r.problems[1].why;
  volume.nodes.erase("images/vm1.qcow2");
  r = checkPoint(volume, m, false);
  EXPECT_NE(r.problems[1].why.find("images/vm1.qcow2 is missing"), std::string::npos);
}

TEST_F(RecoveryPointTest, ListedNewestFirstWithTheirStates) {
  save(manifest("20261202T130000Z-00000001", 1764680400));  // older: its base since rewritten
  seal("20261202T130000Z-00000001");
  volume.nodes.at("images/vm1.qcow2").content[sampleRanges(base_.size(), Sampling{4 << 20, 64 << 10})[1].first] ^= 1;
  save(manifest("20261202T131000Z-00000002", 1764681000));  // complete
  seal("20261202T131000Z-00000002");
  api::PointManifest newest = manifest("20261202T132000Z-00000003", 1764681600);
  newest.vms[0].disks[0].sample.sha256 = "0";  // its data not all there yet
  save(newest);
  volume.file(".gdr/points/20261202T133000Z-00000004.json", "{not json");
  volume.file(".gdr/points/notes.json", "{}");  // not a point: not listed
  const api::PointListResult list = listPoints(volume);
  ASSERT_EQ(list.points.size(), 4u);
  EXPECT_EQ(list.points[0].id, "20261202T133000Z-00000004");
  EXPECT_EQ(list.points[0].state, "incomplete");
  EXPECT_NE(list.points[0].problems.at(0).why.find("not JSON"), std::string::npos);
  EXPECT_EQ(list.points[1].state, "incomplete");
  EXPECT_FALSE(list.points[1].sealed);
  EXPECT_EQ(list.points[1].problems.at(0).what, "seal");
  EXPECT_EQ(list.points[2].id, "20261202T131000Z-00000002");
  EXPECT_EQ(list.points[2].state, "complete");
  EXPECT_TRUE(list.points[2].sealed);
  EXPECT_EQ(list.points[2].time, 1764681000);
  EXPECT_EQ(list.points[2].vms, std::vector<std::string>{"vm1"});
  EXPECT_EQ(list.points[2].bytes, 12u << 20);
  EXPECT_EQ(list.points[3].state, "superseded");
}

TEST_F(RecoveryPointTest, AManifestOfAnotherIdOrNoneIsRefused) {
  save(manifest("20261202T131500Z-00000001", 1764681300));
  volume.nodes[".gdr/points/20261202T131500Z-00000002.json"] =
      volume.nodes.at(".gdr/points/20261202T131500Z-00000001.json");
  auto refusal = [&](const std::string& id) {
    try {
      readManifest(volume, id);
    } catch (const AgentError& e) {
      EXPECT_EQ(e.code(), Code::PointManifestInvalid);
      return std::string(e.what());
    }
    return std::string("not refused");
  };
  EXPECT_NE(refusal("20261202T131500Z-00000002").find("names point 20261202T131500Z-00000001"), std::string::npos);
  EXPECT_NE(refusal("20261202T140000Z-00000009").find("no manifest"), std::string::npos);
  EXPECT_NE(refusal("../../etc/passwd").find("not a recovery point id"), std::string::npos);
}

// A delta point while the next commit travels: the base differs, its delta
// covers it; complete on the newest point only.
TEST_F(RecoveryPointTest, ABaseChangingUnderAnIntactDeltaIsCompleteOnlyOnTheNewestPoint) {
  addDelta();
  const api::PointManifest m = manifest("20261202T131500Z-00000001", 1764681300);
  ASSERT_TRUE(m.vms[0].disks[0].delta);
  EXPECT_TRUE(checkPoint(volume, m, false).complete);
  rewriteBaseInOneRange();
  auto r = checkPoint(volume, m, true);
  EXPECT_TRUE(r.complete);
  ASSERT_EQ(r.basesUnderway.size(), 1u);
  EXPECT_EQ(r.basesUnderway[0].what, "vda");
  r = checkPoint(volume, m, false);  // an older point: a later commit reached the base
  EXPECT_FALSE(r.complete);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].why.find("a later point's commit"), std::string::npos) << r.problems[0].why;
}

// The teeth: the delta is what makes the point; a delta not all there, or
// over another image, or a base whose header changed, is not complete.
TEST_F(RecoveryPointTest, ADeltaNotAllThereOrOverAnotherImageIsNotComplete) {
  addDelta();
  const api::PointManifest m = manifest("20261202T131500Z-00000001", 1764681300);
  rewriteBaseInOneRange();
  flipDeltaRange(kDelta, 1);  // its second shard not synced yet
  auto r = checkPoint(volume, m, true);
  EXPECT_FALSE(r.complete);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].why.find(kDelta), std::string::npos) << r.problems[0].why;
  addDelta("../vm2.qcow2");
  r = checkPoint(volume, m, true);
  EXPECT_FALSE(r.complete);
  EXPECT_NE(r.problems.at(0).why.find("not by images/vm1.qcow2"), std::string::npos) << r.problems[0].why;
  addDelta();
  volume.nodes.at("images/vm1.qcow2").content.replace(0, 4096, qcow2Image("", 4ull << 30));  // resized
  r = checkPoint(volume, m, true);
  EXPECT_FALSE(r.complete);
  EXPECT_TRUE(r.basesUnderway.empty());
  volume.nodes.erase(kDelta);
  EXPECT_FALSE(checkPoint(volume, m, true).complete);
}

TEST_F(RecoveryPointTest, TheNewestDeltaPointWithItsBaseUnderwayIsTheCompleteOne) {
  addDelta();
  save(manifest("20261202T130000Z-00000001", 1764680400));
  seal("20261202T130000Z-00000001");
  rewriteBaseInOneRange();
  api::PointManifest newest = manifest("20261202T131000Z-00000002", 1764681000);
  newest.vms[0].disks[0].delta->sample.sha256 = "0";  // its delta still arriving
  save(newest);
  auto list = listPoints(volume);
  ASSERT_EQ(list.points.size(), 2u);
  EXPECT_EQ(list.points[0].state, "incomplete");
  EXPECT_EQ(list.points[1].state, "complete");
  EXPECT_EQ(list.points[1].basesUnderway.size(), 1u);
  EXPECT_EQ(list.points[1].bytes, (12u << 20) + (5u << 20));
  EXPECT_TRUE(checkPointInPlace(volume, "20261202T130000Z-00000001").complete);
  // Once the newer point is complete (its own delta over the base the
  // commit left, the older delta not in its chain), the older one is
  // superseded.
  addDelta("../vm1.qcow2", kDelta2, 'e');
  chain = {kDelta2};
  save(manifest("20261202T131000Z-00000002", 1764681000));
  seal("20261202T131000Z-00000002");
  list = listPoints(volume);
  EXPECT_EQ(list.points[0].state, "complete");
  EXPECT_EQ(list.points[1].state, "superseded");
  EXPECT_FALSE(checkPointInPlace(volume, "20261202T130000Z-00000001").complete);
}

// What a disaster mid-sync can leave: the newest point's manifest has
// arrived, its delta (rewritten in place: it was the active overlay during
// the previous sync) matches every sampled range, its base is still being
// brought up to date. Sampling cannot see that; the missing seal does.
TEST_F(RecoveryPointTest, AnUnsealedPointIsNeverCompleteEvenWhenItsSampledRangesMatch) {
  addDelta();
  save(manifest("20261202T130000Z-00000001", 1764680400));
  seal("20261202T130000Z-00000001");
  save(manifest("20261202T131000Z-00000002", 1764681000));
  rewriteBaseInOneRange();  // the sync shipping point 2 has not finished
  const api::PointListResult list = listPoints(volume);
  ASSERT_EQ(list.points.size(), 2u);
  EXPECT_EQ(list.points[0].state, "incomplete");
  ASSERT_EQ(list.points[0].problems.size(), 1u);
  EXPECT_NE(list.points[0].problems[0].why.find("not sealed"), std::string::npos) << list.points[0].problems[0].why;
  EXPECT_EQ(list.points[1].state, "complete");
  EXPECT_EQ(list.points[1].basesUnderway.size(), 1u);  // point 1's delta covers the rewrite
  const api::PointCheckResult r = checkPointInPlace(volume, "20261202T131000Z-00000002");
  EXPECT_FALSE(r.complete);
  EXPECT_FALSE(r.sealed);
  // Its files are still checked when it is asked about by name.
  EXPECT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.basesUnderway.size(), 1u);
  EXPECT_TRUE(checkPointInPlace(volume, "20261202T130000Z-00000001").complete);
}

TEST_F(RecoveryPointTest, APointIsSealedOnlyWhenEveryFileMatchesExactly) {
  addDelta();
  save(manifest("20261202T130000Z-00000001", 1764680400));
  rewriteBaseInOneRange();  // a base underway is not enough for a seal
  try {
    seal("20261202T130000Z-00000001");
    ADD_FAILURE() << "sealed";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::PointIncomplete);
    EXPECT_NE(std::string(e.what()).find("vm1 vda: images/vm1.qcow2 differs"), std::string::npos) << e.what();
    EXPECT_EQ(e.data()["problems"].size(), 1u);
  }
  EXPECT_FALSE(volume.lookup(sealPath("20261202T130000Z-00000001")));
  rewriteBaseInOneRange();  // the same byte back: the sync finished
  const api::PointSealResult r = seal("20261202T130000Z-00000001");
  EXPECT_TRUE(r.check.complete);
  EXPECT_TRUE(r.check.sealed);
  EXPECT_EQ(r.seal.path, ".gdr/points/20261202T130000Z-00000001.seal");
  EXPECT_TRUE(checkPointInPlace(volume, "20261202T130000Z-00000001").complete);
  // No seal for a point that has no manifest.
  try {
    seal("20261202T140000Z-00000009");
    ADD_FAILURE() << "sealed";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::PointManifestInvalid);
  }
}

// A seal vouches for one manifest's bytes: a manifest replaced since, or a
// seal that is not one, seals nothing.
TEST_F(RecoveryPointTest, ASealOfAnotherManifestOrADamagedOneIsNoSeal) {
  const std::string id = "20261202T130000Z-00000001";
  save(manifest(id, 1764680400));
  seal(id);
  ASSERT_TRUE(checkPointInPlace(volume, id).complete);
  api::PointManifest other = manifest(id, 1764680400);
  other.flowId = "another-flow";
  save(other);
  auto r = checkPointInPlace(volume, id);
  EXPECT_FALSE(r.complete);
  EXPECT_NE(r.problems.at(0).why.find("another manifest"), std::string::npos) << r.problems[0].why;
  seal(id);
  EXPECT_TRUE(checkPointInPlace(volume, id).complete);
  for (const std::string& bad : {std::string("{not json"), std::string(5000, ' '), std::string("{\"format\": 7}")}) {
    volume.file(".gdr/points/" + id + ".seal", bad);
    r = checkPointInPlace(volume, id);
    EXPECT_FALSE(r.complete) << bad;
    EXPECT_EQ(r.problems.at(0).what, "seal");
  }
  volume.node(".gdr/points/" + id + ".seal", EntryInfo::Type::Directory);
  EXPECT_FALSE(checkPointInPlace(volume, id).complete);
  EXPECT_EQ(listPoints(volume).points.at(0).state, "incomplete");
}

// Geo-replication removes a pruned manifest on the secondary; the seal is
// the secondary's own, and the next seal takes the older orphans away.
TEST_F(RecoveryPointTest, SealsWhoseManifestIsGoneAreRemovedByTheNextSeal) {
  save(manifest("20261202T130000Z-00000001", 1764680400));
  seal("20261202T130000Z-00000001");
  save(manifest("20261202T131000Z-00000002", 1764681000));
  seal("20261202T131000Z-00000002");
  volume.nodes.erase(".gdr/points/20261202T130000Z-00000001.json");  // pruned
  volume.file(".gdr/points/20261202T140000Z-00000004.seal", "{}");   // newer: not touched
  volume.file(".gdr/points/notes.seal", "{}");                       // not a point's
  save(manifest("20261202T132000Z-00000003", 1764681600));
  const api::PointSealResult r = seal("20261202T132000Z-00000003");
  EXPECT_EQ(r.removed, std::vector<std::string>{"20261202T130000Z-00000001"});
  EXPECT_FALSE(volume.lookup(sealPath("20261202T130000Z-00000001")));
  EXPECT_TRUE(volume.lookup(sealPath("20261202T131000Z-00000002")));
  EXPECT_TRUE(volume.lookup(sealPath("20261202T140000Z-00000004")));
  EXPECT_TRUE(volume.lookup(volpath::split(".gdr/points/notes.seal")));
}

// Keeping three points in the delta layout: each point is the base read
// through the deltas not yet committed, its own the newest of them. The
// oldest delta is committed only once three points stand over it, and it
// stays on the secondary until the next point is sealed, covering the
// commit as it travels. Every moment: the three newest sealed points are
// complete, the newest checked file by file, the others under it.
TEST_F(RecoveryPointTest, ThreePointsStandOnOneBaseAndAChainOfDeltas) {
  const std::string p1 = "20261202T131500Z-00000001", p2 = "20261202T132000Z-00000002",
                    p3 = "20261202T132500Z-00000003", p4 = "20261202T133000Z-00000004";
  sealedDeltaPoint(p1, 1764681300, "../vm1.qcow2", kDelta, 'd', {kDelta});
  sealedDeltaPoint(p2, 1764681600, "vm1.20261202T131500Z.abcdef.qcow2", kDelta2, 'e', {kDelta, kDelta2});
  sealedDeltaPoint(p3, 1764681900, "vm1.20261202T132000Z.abcdef.qcow2", kDelta3, 'f', {kDelta, kDelta2, kDelta3});
  auto states = [&] {
    std::string out;
    for (const auto& p : listPoints(volume).points) out += p.state.substr(0, 1);
    return out;
  };
  EXPECT_EQ(states(), "ccc");
  // Cycle 3 commits kDelta into the base: the name in kDelta2's header
  // becomes the base's, and the base changes under it. Point 1 stays
  // complete while that travels (kDelta is still there, and in point 3's
  // chain), and points 2 and 3 too.
  volume.nodes.at(kDelta2).content.replace(0, 4096, qcow2Image("../vm1.qcow2", 2ull << 30));
  rewriteBaseInOneRange();
  auto list = listPoints(volume);
  EXPECT_EQ(states(), "ccc") << (list.points[0].problems.empty() ? "" : list.points[0].problems[0].why);
  EXPECT_EQ(list.points[0].basesUnderway.size(), 1u);
  EXPECT_TRUE(list.points[1].problems.empty());
  EXPECT_EQ(list.points[2].bytes, (12u << 20) + (5u << 20));
  EXPECT_TRUE(checkPointInPlace(volume, p1).complete);
  // Point 4 arrives (unsealed yet: listed, never complete).
  addDelta("vm1.20261202T132500Z.abcdef.qcow2", kDelta4, 'g');
  chain = {kDelta2, kDelta3, kDelta4};
  save(manifest(p4, 1764682200));
  EXPECT_EQ(states(), "iccc");
  // Sealed: the commit of kDelta has arrived whole. Point 1 goes with the
  // next prune, and kDelta with it; the three newest need neither.
  seal(p4);
  volume.nodes.erase(".gdr/points/" + p1 + ".json");
  volume.nodes.erase(kDelta);
  EXPECT_EQ(states(), "ccc");
  EXPECT_TRUE(checkPointInPlace(volume, p2).complete);
  EXPECT_EQ(checkPointInPlace(volume, p2).bytesRead, volume.nodes.at(".gdr/vms/u1.xml").content.size());
}

// A point of bases alone, once a newer point is complete: even with its
// base matching every sampled range, it is superseded (sampling cannot
// prove a base untouched, and a commit will reach it).
TEST_F(RecoveryPointTest, ABaseAloneUnderANewerCompletePointIsSuperseded) {
  save(manifest("20261202T131500Z-00000001", 1764681300));
  seal("20261202T131500Z-00000001");
  addDelta();
  chain = {kDelta};
  save(manifest("20261202T132000Z-00000002", 1764681600));
  seal("20261202T132000Z-00000002");
  const auto list = listPoints(volume);
  ASSERT_EQ(list.points.size(), 2u);
  EXPECT_EQ(list.points[0].state, "complete");
  EXPECT_EQ(list.points[1].state, "superseded");
  EXPECT_NE(list.points[1].problems.at(0).why.find("read alone"), std::string::npos) << list.points[1].problems[0].why;
  EXPECT_FALSE(checkPointInPlace(volume, "20261202T131500Z-00000001").complete);
}

// A second VM, vm2 (its base, a delta over it unless `flat`, its
// definition), added to manifest `m` as the cycle records it.
api::PointManifest withVm2(FakeVolume& volume, api::PointManifest m,
                           const std::function<api::PointImage(const std::string&, bool)>& image, bool flat = false) {
  const std::string definition = volume.nodes.at(".gdr/vms/u2.xml").content;
  api::PointVm vm{"u2", "vm2", {".gdr/vms/u2.xml", sha256Hex(definition), definition.size()}, {}};
  api::PointDisk disk;
  static_cast<api::PointImage&>(disk) = image("images/vm2.qcow2", false);
  disk.drive = "vda";
  if (!flat) disk.delta = image("images/.gdr-snapshots/vm2.20261202T131500Z.abcdef.qcow2", true);
  vm.disks.push_back(disk);
  m.vms.push_back(vm);
  return m;
}

// A partial cycle (vm2's host did not answer) seals a point without vm2.
// The point before it stays complete: vm1 read through the newer chain,
// vm2 on its own (no cycle since has touched its base or delta). The
// teeth: vm2's base changed, or a newer point that names vm2 (its cycle
// may have committed into that base), and it is superseded; so is a
// flat-layout disk of vm2 (the VM writes into that base).
TEST_F(RecoveryPointTest, APointStaysCompleteForTheVmsANewerPartialPointLeftOut) {
  const std::string p1 = "20261202T131500Z-00000001", p2 = "20261202T132000Z-00000002",
                    p3 = "20261202T132500Z-00000003";
  const std::string vm2Delta = "images/.gdr-snapshots/vm2.20261202T131500Z.abcdef.qcow2";
  volume.file("images/vm2.qcow2", base_);
  std::string delta(5 << 20, 'v');
  delta.replace(0, 4096, qcow2Image("../vm2.qcow2", 2ull << 30));
  volume.file(vm2Delta, delta);
  volume.file(".gdr/vms/u2.xml", "<domain><name>vm2</name></domain>");
  const auto img = [this](const std::string& path, bool isDelta) { return image(path, isDelta); };
  addDelta();
  chain = {kDelta};
  save(withVm2(volume, manifest(p1, 1764681300), img));
  seal(p1);
  addDelta("vm1.20261202T131500Z.abcdef.qcow2", kDelta2, 'e');
  chain = {kDelta, kDelta2};
  save(manifest(p2, 1764681600));
  seal(p2);
  auto list = listPoints(volume);
  ASSERT_EQ(list.points.size(), 2u);
  EXPECT_EQ(list.points[0].state, "complete");
  EXPECT_EQ(list.points[1].state, "complete")
      << (list.points[1].problems.empty() ? "" : list.points[1].problems[0].why);
  EXPECT_EQ(list.points[1].vms, (std::vector<std::string>{"vm1", "vm2"}));
  const api::PointCheckResult inPlace = checkPointInPlace(volume, p1);
  EXPECT_TRUE(inPlace.complete);
  EXPECT_GT(inPlace.bytesRead, 2u * (64u << 10));  // vm2's images were read
  // vm2's base rewritten in one sampled range under its intact delta: p1's
  // own cycle committed into it after the seal (the delta still covers
  // those clusters). Still the point, the base listed underway.
  char& byte =
      volume.nodes.at("images/vm2.qcow2").content[sampleRanges(base_.size(), Sampling{4 << 20, 64 << 10})[2].first];
  byte ^= 1;
  list = listPoints(volume);
  EXPECT_EQ(list.points[1].state, "complete")
      << (list.points[1].problems.empty() ? "" : list.points[1].problems[0].why);
  ASSERT_EQ(list.points[1].basesUnderway.size(), 1u);
  EXPECT_EQ(list.points[1].basesUnderway[0].vm, "vm2");
  EXPECT_TRUE(checkPointInPlace(volume, p1).complete);
  byte ^= 1;
  // vm2's delta rewritten in a sampled range: not the point any more.
  char& deltaByte = volume.nodes.at(vm2Delta).content[(64 << 10) + 100];  // in the first range after its header
  deltaByte ^= 1;
  list = listPoints(volume);
  EXPECT_EQ(list.points[1].state, "superseded");
  ASSERT_FALSE(list.points[1].problems.empty());
  EXPECT_EQ(list.points[1].problems[0].vm, "vm2");
  EXPECT_NE(list.points[1].problems[0].why.find(vm2Delta), std::string::npos) << list.points[1].problems[0].why;
  EXPECT_FALSE(checkPointInPlace(volume, p1).complete);
  deltaByte ^= 1;
  EXPECT_EQ(listPoints(volume).points[1].state, "complete");
  // A newer point that names vm2, not even sealed: its cycle may have
  // committed into vm2's base.
  save(withVm2(volume, manifest(p3, 1764681900), img));
  list = listPoints(volume);
  ASSERT_EQ(list.points.size(), 3u);
  EXPECT_EQ(list.points[0].state, "incomplete");
  EXPECT_EQ(list.points[1].state, "complete");
  EXPECT_EQ(list.points[2].state, "superseded");
  EXPECT_FALSE(checkPointInPlace(volume, p1).complete);
  // The flat layout: vm2 on its base alone, which it writes into.
  volume.nodes.erase(".gdr/points/" + p3 + ".json");
  chain = {kDelta};
  save(withVm2(volume, manifest(p1, 1764681300), img, true));
  seal(p1);
  list = listPoints(volume);
  EXPECT_EQ(list.points[1].state, "superseded");
  EXPECT_NE(list.points[1].problems.at(0).why.find("read alone"), std::string::npos) << list.points[1].problems[0].why;
  // The delta layout's first point of vm2, its base alone: nothing but a
  // later cycle's commit writes that base, and no newer point names vm2.
  api::PointManifest first = withVm2(volume, manifest(p1, 1764681300), img, true);
  first.layout = "delta";
  save(first);
  seal(p1);
  list = listPoints(volume);
  EXPECT_EQ(list.points[1].state, "complete")
      << (list.points[1].problems.empty() ? "" : list.points[1].problems[0].why);
  // Its base rewritten in a sampled range: superseded.
  char& sampled =
      volume.nodes.at("images/vm2.qcow2").content[sampleRanges(base_.size(), Sampling{4 << 20, 64 << 10})[1].first];
  sampled ^= 1;
  list = listPoints(volume);
  EXPECT_EQ(list.points[1].state, "superseded");
  EXPECT_EQ(list.points[1].problems.at(0).vm, "vm2");
  sampled ^= 1;
  // A newer manifest cut off mid-copy (the site lost during its sync): in
  // the delta layout its cycle committed nothing (no seal), so vm2's base
  // is still read on its own, exactly.
  volume.file(".gdr/points/" + p3 + ".json", "{\"format\": 1, \"id\": \"" + p3);
  list = listPoints(volume);
  ASSERT_EQ(list.points.size(), 3u);
  EXPECT_EQ(list.points[0].state, "incomplete");
  EXPECT_EQ(list.points[2].state, "complete")
      << (list.points[2].problems.empty() ? "" : list.points[2].problems[0].why);
  EXPECT_TRUE(checkPointInPlace(volume, p1).complete);
  sampled ^= 1;
  EXPECT_EQ(listPoints(volume).points[2].state, "superseded");
  EXPECT_FALSE(checkPointInPlace(volume, p1).complete);
  sampled ^= 1;
  // In the flat layout that cycle may have merged into any VM's base.
  save(withVm2(volume, manifest(p1, 1764681300), img, true));
  seal(p1);
  list = listPoints(volume);
  EXPECT_EQ(list.points[2].state, "superseded");
  EXPECT_NE(list.points[2].problems.at(0).why.find("read alone"), std::string::npos);
  EXPECT_FALSE(checkPointInPlace(volume, p1).complete);
}

// The teeth of the chain: an earlier point is complete under the newest
// only while its own delta is in the newest chain, recorded the same; a
// delta of the chain damaged, or backed by a file outside the chain, is
// no point at all.
TEST_F(RecoveryPointTest, AnEarlierPointOutsideTheNewestChainOrWithADeltaChangedSinceIsNotComplete) {
  const std::string p1 = "20261202T131500Z-00000001", p2 = "20261202T132000Z-00000002",
                    p3 = "20261202T132500Z-00000003";
  sealedDeltaPoint(p1, 1764681300, "../vm1.qcow2", kDelta, 'd', {kDelta});
  sealedDeltaPoint(p2, 1764681600, "vm1.20261202T131500Z.abcdef.qcow2", kDelta2, 'e', {kDelta, kDelta2});
  // Point 3 stands on a base that took kDelta in, without kDelta in its
  // chain: point 1 cannot be read apart any more.
  volume.nodes.at(kDelta2).content.replace(0, 4096, qcow2Image("../vm1.qcow2", 2ull << 30));
  rewriteBaseInOneRange();
  sealedDeltaPoint(p3, 1764681900, "vm1.20261202T132000Z.abcdef.qcow2", kDelta3, 'f', {kDelta2, kDelta3});
  auto list = listPoints(volume);
  ASSERT_EQ(list.points.size(), 3u);
  EXPECT_EQ(list.points[0].state, "complete");
  EXPECT_EQ(list.points[1].state, "complete");
  EXPECT_EQ(list.points[2].state, "superseded");
  EXPECT_NE(list.points[2].problems.at(0).why.find("a later point's commit"), std::string::npos)
      << list.points[2].problems[0].why;
  // kDelta2 rewritten after point 2 recorded it (past its header): point 2
  // is not point 3's chain up to kDelta2 any more, and point 3 fails its
  // own check.
  flipDeltaRange(kDelta2, 1);
  list = listPoints(volume);
  EXPECT_EQ(list.points[0].state, "incomplete");
  EXPECT_NE(list.points[0].problems.at(0).why.find(kDelta2), std::string::npos) << list.points[0].problems[0].why;
  EXPECT_EQ(list.points[1].state, "incomplete");
  flipDeltaRange(kDelta2, 1);
  // A delta of the chain backed by an image outside it.
  volume.nodes.at(kDelta3).content.replace(0, 4096, qcow2Image("../vm2.qcow2", 2ull << 30));
  const auto r = checkPointInPlace(volume, p3);
  EXPECT_FALSE(r.complete);
  EXPECT_NE(r.problems.at(0).why.find("not by images/vm1.qcow2 or a delta under it"), std::string::npos)
      << r.problems[0].why;
}

}  // namespace
}  // namespace gdr::gfapi
