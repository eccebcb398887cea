#include "core/types.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace millstream {

TEST(ParseType, ReadsArrowSpelling) {
  EXPECT_TRUE(ParseType("int64")->Equals(arrow::int64()));
  EXPECT_TRUE(ParseType("timestamp[ms]")->Equals(arrow::timestamp(arrow::TimeUnit::MILLI)));
  EXPECT_TRUE(ParseType("timestamp[us, tz=UTC]")
                  ->Equals(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")));
  EXPECT_EQ(ParseType(arrow::timestamp(arrow::TimeUnit::NANO, "Europe/Paris")->ToString())->ToString(),
            "timestamp[ns, tz=Europe/Paris]");
}

TEST(ParseType, RejectsUnknownNames) {
  EXPECT_THROW(ParseType("decimal"), UserError);
  EXPECT_THROW(ParseType("timestamp[days]"), UserError);
}

}  // namespace millstream
