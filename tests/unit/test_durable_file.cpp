#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/durable_file.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "gdr-durable-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

TEST(MakeDirectoriesTest, MakesEveryMissingLevelAndAcceptsOnesThatExist) {
  TempDir tmp;
  const fs::path dir = tmp.path / ".gdr" / "vms";
  gdr::makeDirectories(dir);
  EXPECT_TRUE(fs::is_directory(dir));
  gdr::makeDirectories(dir);  // there already: nothing to do, no error
  EXPECT_TRUE(fs::is_directory(dir));
}

// What another host's mkdir looks like through gluster's FUSE client, as a
// cycle on a fresh two-site lab met it: "cannot create directories: File
// exists [.../.gdr/vms]" for a moment, then the directory is there.
TEST(MakeDirectoriesTest, AnotherHostsDirectoryNotYetVisibleIsWaitedFor) {
  int calls = 0;
  gdr::makeDirectories("/volume/.gdr/vms", 5000ms, [&](const fs::path&, std::error_code& ec) {
    ec = ++calls < 3 ? std::make_error_code(std::errc::file_exists) : std::error_code();
  });
  EXPECT_EQ(calls, 3);
}

TEST(MakeDirectoriesTest, AFileInTheWayFailsOnceThePatienceRunsOut) {
  TempDir tmp;
  std::ofstream(tmp.path / "vms").put('x');
  int calls = 0;
  const auto start = std::chrono::steady_clock::now();
  try {
    gdr::makeDirectories(tmp.path / "vms", 300ms, [&](const fs::path&, std::error_code& ec) {
      ++calls;
      ec = std::make_error_code(std::errc::file_exists);
    });
    FAIL() << "EEXIST for good was accepted";
  } catch (const fs::filesystem_error& e) {
    EXPECT_EQ(e.code(), std::errc::file_exists);
    EXPECT_NE(std::string(e.what()).find((tmp.path / "vms").string()), std::string::npos) << e.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
  EXPECT_GT(calls, 1);
  // The real operation, on a real file in the way: refused, the file kept.
  EXPECT_THROW(gdr::makeDirectories(tmp.path / "vms", 300ms), fs::filesystem_error);
  EXPECT_TRUE(fs::is_regular_file(tmp.path / "vms"));
}

TEST(MakeDirectoriesTest, OtherErrorsFailAtOnce) {
  TempDir tmp;
  std::ofstream(tmp.path / "file").put('x');
  const auto start = std::chrono::steady_clock::now();
  try {
    gdr::makeDirectories(tmp.path / "file" / "vms", 5000ms);  // ENOTDIR: no waiting
    FAIL() << "a directory under a regular file was made";
  } catch (const fs::filesystem_error& e) {
    EXPECT_NE(e.code(), std::errc::file_exists) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1000ms);
}

}  // namespace
