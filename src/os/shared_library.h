#pragma once
// Libraries loaded at their first use instead of linked: libcurl (notifications), libgit2
// (fetch and checkout) and libcrypto (artifact hashes) bring dozens of shared objects whose
// relocation and start-up code would cost every server start milliseconds and megabytes,
// though an idle server needs none of them.

#include <dlfcn.h>

#include <string>

namespace boucle::os {

class SharedLibrary {
 public:
  SharedLibrary() = default;
  // dlopen(`soname`); on failure error() says what is missing (`package`: where it comes from).
  SharedLibrary(const char* soname, const char* package) {
    handle_ = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      error_ = std::string("cannot load ") + soname + " (Debian package " + package +
               "): " + ::dlerror();
    }
  }
  // Looks `name` up into `fn`, whose type is the declared function's (decltype(&name)).
  template <typename F>
  void bind(F& fn, const char* name) {
    if (!handle_) return;
    fn = reinterpret_cast<F>(::dlsym(handle_, name));
    if (!fn && error_.empty()) error_ = std::string("the loaded library lacks ") + name;
  }
  // "" once everything asked for was found.
  const std::string& error() const { return error_; }

  // Unloads it (with what it brought that nothing else uses). Only for a library whose
  // functions nothing calls any more and whose state was shut down.
  void close() {
    if (handle_) ::dlclose(handle_);
    handle_ = nullptr;
    error_.clear();
  }

 private:
  // Not closed when this ends: unless close() is called, the functions stay in use until the
  // process ends.
  void* handle_ = nullptr;
  std::string error_;
};

}  // namespace boucle::os
