// The one list of status codes: unique, and VDSM's numbers where VDSM
// has the condition.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/errors.h"

namespace gdr {
namespace {

TEST(Codes, NumbersAndNamesAreUnique) {
  std::set<int> numbers;
  std::set<std::string> names;
  for (const auto& info : kAllCodes) {
    EXPECT_TRUE(numbers.insert(int(info.code)).second) << "number used twice: " << int(info.code);
    EXPECT_TRUE(names.insert(info.name).second) << "name used twice: " << info.name;
    EXPECT_STRNE(info.meaning, "") << info.name;
    EXPECT_STREQ(codeName(info.code), info.name);
  }
}

// VDSM's lib/vdsm/common/exception.py and lib/vdsm/gluster/exception.py.
TEST(Codes, MatchVdsmWhereVdsmHasTheCondition) {
  EXPECT_EQ(int(Code::NoSuchVM), 1);
  EXPECT_EQ(int(Code::SnapshotFailed), 48);
  EXPECT_EQ(int(Code::MergeFailed), 52);
  EXPECT_EQ(int(Code::NoSuchJob), 66);
  EXPECT_EQ(int(Code::JobExists), 69);
  EXPECT_EQ(int(Code::AbortNotSupported), 80);
  EXPECT_EQ(int(Code::JobNotActive), 84);
  EXPECT_EQ(int(Code::InvalidParameter), 91);
  EXPECT_EQ(int(Code::GeneralException), 100);
  EXPECT_EQ(int(Code::Busy), 1100);                 // ResourceExhausted
  EXPECT_EQ(int(Code::GlusterCliBadOutput), 4106);  // GlusterXmlErrorException
  EXPECT_EQ(int(Code::GlusterCommandFailed), 4107);
  EXPECT_EQ(int(Code::GlusterCliTimeout), 4108);
  EXPECT_EQ(int(Code::GlusterVolumeNotFound), 4123);
  EXPECT_EQ(int(Code::GlusterVolumeSetFailed), 4131);
  EXPECT_EQ(int(Code::GeoRepStartFailed), 4201);
  EXPECT_EQ(int(Code::GeoRepStopFailed), 4202);
  EXPECT_EQ(int(Code::GeoRepStatusFailed), 4203);
  EXPECT_EQ(int(Code::GeoRepConfigFailed), 4206);
  EXPECT_EQ(int(Code::GeoRepPublicKeyFileCreateFailed), 4207);
  EXPECT_EQ(int(Code::GeoRepPublicKeyFileReadError), 4208);
  EXPECT_EQ(int(Code::GeoRepUserNotFound), 4209);
  EXPECT_EQ(int(Code::GeoRepPublicKeyWriteFailed), 4210);
  EXPECT_EQ(int(Code::GeoRepMountBrokerOptFailed), 4211);
  EXPECT_EQ(int(Code::GeoRepMountBrokerUserAddFailed), 4212);
  EXPECT_EQ(int(Code::GeoRepMountBrokerRootCreateFailed), 4213);
  EXPECT_EQ(int(Code::GeoRepCreateFailed), 4214);
  EXPECT_EQ(int(Code::GfapiIOError), 4570);
  EXPECT_EQ(int(Code::GfapiConnectFailed), 4572);  // GlfsInitException
}

// gdr's own conditions sit where VDSM has nothing: 1101-1199 and 3100-3299.
TEST(Codes, OwnCodesAvoidVdsmsNumbers) {
  const std::set<std::string> vdsm = {"ParseError",
                                      "InvalidRequest",
                                      "MethodNotFound",
                                      "InvalidParams",
                                      "InternalError",
                                      "NoSuchVM",
                                      "SnapshotFailed",
                                      "MergeFailed",
                                      "NoSuchJob",
                                      "JobExists",
                                      "AbortNotSupported",
                                      "JobNotActive",
                                      "InvalidParameter",
                                      "GeneralException",
                                      "Busy",
                                      "GlusterCliTimeout",
                                      "GlusterCliBadOutput",
                                      "GlusterCommandFailed",
                                      "GlusterVolumeNotFound",
                                      "GlusterVolumeSetFailed",
                                      "GeoRepStartFailed",
                                      "GeoRepStopFailed",
                                      "GeoRepStatusFailed",
                                      "GeoRepPauseFailed",
                                      "GeoRepResumeFailed",
                                      "GeoRepConfigFailed",
                                      "GeoRepCreateFailed",
                                      "GeoRepDeleteFailed",
                                      "GfapiIOError",
                                      "GfapiConnectFailed",
                                      "GeoRepPublicKeyFileCreateFailed",
                                      "GeoRepPublicKeyFileReadError",
                                      "GeoRepUserNotFound",
                                      "GeoRepPublicKeyWriteFailed",
                                      "GeoRepMountBrokerOptFailed",
                                      "GeoRepMountBrokerUserAddFailed",
                                      "GeoRepMountBrokerRootCreateFailed"};
  for (const auto& info : kAllCodes) {
    if (vdsm.count(info.name)) continue;
    const int n = int(info.code);
    EXPECT_TRUE((n >= 1101 && n <= 1199) || (n >= 3100 && n <= 3299)) << info.name << " = " << n;
  }
}

}  // namespace
}  // namespace gdr
