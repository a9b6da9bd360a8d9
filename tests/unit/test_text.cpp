#include <gtest/gtest.h>

#include <stdexcept>

#include "core/text.h"

using gdr::splitList;
using gdr::trim;

TEST(Text, TrimRemovesBlanksAtBothEnds) {
  EXPECT_EQ(trim("  a b\t\r\n"), "a b");
  EXPECT_EQ(trim(" \t\r\n"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
}

TEST(Text, SplitListTrimsItemsAndRefusesEmptyOnes) {
  EXPECT_EQ(splitList("a, b ,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(splitList("  "), std::vector<std::string>{});
  EXPECT_EQ(splitList("one"), std::vector<std::string>{"one"});
  EXPECT_EQ(splitList("a:b", ':'), (std::vector<std::string>{"a", "b"}));
  for (const char* typo : {"a,,b", "a,", ",a", "a, ,b"}) {
    try {
      splitList(typo);
      ADD_FAILURE() << typo << " accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()), std::string("empty entry in '") + typo + "'");
    }
  }
}
