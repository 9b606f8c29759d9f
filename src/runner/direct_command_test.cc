#include "runner/direct_command.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "auth/tokens.h"

namespace boucle::runner {
namespace {

namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

class DirectCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("boucle-direct-" + auth::randomHex(6));
    fs::create_directories(dir_ / "bin");
    script("bin/tool", "#!/bin/sh\necho tool\n", 0755);
    script("build.sh", "#!/bin/sh\necho built\n", 0755);
    script("plain.sh", "echo no shebang\n", 0755);  // sh runs it as a shell script
    script("notexec.sh", "#!/bin/sh\n", 0644);
    script("nointerp.sh", "#!/no/such/sh -e\necho\n", 0755);
    env_ = {"HOME=/root", "PATH=/nowhere:" + (dir_ / "bin").string() + ":/usr/bin:/bin"};
  }
  void TearDown() override { fs::remove_all(dir_); }
  void script(const std::string& rel, const std::string& text, int mode) {
    std::ofstream(dir_ / rel) << text;
    ::chmod((dir_ / rel).c_str(), mode);
  }
  std::optional<Argv> direct(std::string_view s) { return directCommand(s, env_, dir_); }

  fs::path dir_;
  std::vector<std::string> env_;
};

TEST_F(DirectCommandTest, PlainWordsRunTheProgramFoundInPath) {
  EXPECT_EQ(direct("true"), (Argv{"/usr/bin/true"}));
  EXPECT_EQ(direct("  tool   --fast\tx=1 a,b:c+d@e%f  "),
            (Argv{(dir_ / "bin/tool").string(), "--fast", "x=1", "a,b:c+d@e%f"}));
  EXPECT_EQ(direct("./build.sh --release"), (Argv{(dir_ / "./build.sh").string(), "--release"}));
  EXPECT_EQ(direct("/usr/bin/true -x"), (Argv{"/usr/bin/true", "-x"}));
}

TEST_F(DirectCommandTest, AnythingTheShellWouldInterpretKeepsTheShell) {
  for (const char* s : {"ls *.c",      "ls ?",        "ls [ab]",   "echo $HOME", "ls ~",
                        "ls ~/x",      "true; false", "true && x", "true || x",  "a | b",
                        "a > f",       "a < f",       "a &",       "(true)",     "{ true; }",
                        "true # note", "ls 'a b'",    "ls \"a\"",  "ls a\\ b",   "ls `pwd`",
                        "ls $(pwd)",   "true\ntrue",  "! true",    "X=1 true",   "",
                        "   "}) {
    EXPECT_EQ(direct(s), std::nullopt) << s;
  }
}

TEST_F(DirectCommandTest, BuiltinsWithTheShellsOwnMeaningKeepTheShell) {
  for (const char* s : {"cd bin", "exit 3", "export A", "set -x", "echo hi", "test -f x", ". x",
                        ": nothing", "exec true", "ulimit -n", "wait", "if", "while"}) {
    EXPECT_EQ(direct(s), std::nullopt) << s;
  }
}

TEST_F(DirectCommandTest, WhatTheKernelCannotStartKeepsTheShell) {
  EXPECT_EQ(direct("no-such-program"), std::nullopt);  // sh's "not found", exit 127
  EXPECT_EQ(direct("./plain.sh"), std::nullopt);       // no #!: sh runs it itself
  EXPECT_EQ(direct("./notexec.sh"), std::nullopt);     // sh's "Permission denied", 126
  EXPECT_EQ(direct("./bin"), std::nullopt);            // a directory
  EXPECT_EQ(direct("./nointerp.sh"), std::nullopt);    // its #! names nothing: sh's "not found"
  EXPECT_EQ(directCommand("tool", {"PATH=relative"}, dir_), std::nullopt);
  // A relative or empty entry before the program's folder: sh decides where it is found.
  EXPECT_EQ(directCommand("true", {"PATH=bin:/usr/bin"}, dir_), std::nullopt);
  EXPECT_EQ(directCommand("true", {"PATH=:/usr/bin"}, dir_), std::nullopt);
  EXPECT_EQ(directCommand("true", {}, dir_), std::nullopt);  // no PATH at all
}

}  // namespace
}  // namespace boucle::runner
