#include "common/test_util.hpp"

#include <sys/wait.h>

#include <fstream>
#include <sstream>

namespace mosaic::testing {

CommandResult run_mosaic(const std::string& args) {
  const char* bin = std::getenv("MOSAIC_BIN");
  std::string exe = bin ? bin : (std::string(MOSAIC_BINARY_DIR) + "/bin/mosaic");
  TempDir tmp;
  std::string cmd = "'" + exe + "' " + args + " >'" + (tmp / "out").string() + "' 2>'" + (tmp / "err").string() + "'";
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  r.out = slurp(tmp / "out");
  r.err = slurp(tmp / "err");
  return r;
}

}  // namespace mosaic::testing
