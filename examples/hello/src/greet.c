/* greet: prints a greeting; the example project boucle's demo builds, tests and packages. */
#include <stdio.h>
#include <string.h>

const char* greeting(const char* name) {
  static char buf[256];
  if (name == NULL || name[0] == '\0') name = "world";
  snprintf(buf, sizeof buf, "Bonjour, %s!", name);
  return buf;
}

#ifndef GREET_NO_MAIN
int main(int argc, char** argv) {
  puts(greeting(argc > 1 ? argv[1] : NULL));
  return 0;
}
#endif
