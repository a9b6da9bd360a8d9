// gdr-client: call one gdr-agent verb from the command line.
#include <iostream>

#include "client/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return gdr::client::runCli(args, std::cin, std::cout, std::cerr);
}
