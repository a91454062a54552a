// A temporary directory removed (recursively) when the object goes out of scope.
#ifndef BOTTLENECK_TESTS_UTIL_TEMP_DIR_H_
#define BOTTLENECK_TESTS_UTIL_TEMP_DIR_H_

#include <string>

namespace bn::testing {

class TempDir {
 public:
  TempDir();  // Creates $TMPDIR/bottleneck-test-XXXXXX; aborts the test binary on failure.
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace bn::testing

#endif  // BOTTLENECK_TESTS_UTIL_TEMP_DIR_H_
