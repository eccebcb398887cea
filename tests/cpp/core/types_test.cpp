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

namespace millstream {

TEST(RejectUint64Computation, NamesTheColumnAndWhereOnlyForUint64) {
  RejectUint64Computation(*arrow::int64(), "x", "filter");
  RejectUint64Computation(*arrow::uint32(), "x", "filter");  // fits int64
  try {
    RejectUint64Computation(*arrow::uint64(), "u", "expression (col(\"u\") > lit(0))");
    FAIL() << "uint64 was accepted";
  } catch (const UserTypeError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind("expression (col(\"u\") > lit(0)): column 'u' is uint64", 0), 0u)
        << message;
    EXPECT_NE(message.find("cast"), std::string::npos) << message;
  }
}

}  // namespace millstream
