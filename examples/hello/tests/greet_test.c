/* A tiny test program that writes its results as JUnit XML, like most test runners can. */
#include <stdio.h>
#include <string.h>

const char* greeting(const char* name);

struct result { const char* name; int ok; const char* message; int line; };

int main(int argc, char** argv) {
  struct result r[] = {
      {"greets_by_name", strcmp(greeting("Ada"), "Bonjour, Ada!") == 0, "wrong greeting", __LINE__},
      {"defaults_to_world", strcmp(greeting(""), "Bonjour, world!") == 0, "wrong default", __LINE__},
  };
  int n = sizeof r / sizeof r[0], failures = 0;
  for (int i = 0; i < n; ++i) failures += !r[i].ok;
  FILE* out = fopen(argc > 1 ? argv[1] : "test-results.xml", "w");
  if (!out) return 2;
  fprintf(out, "<?xml version=\"1.0\"?>\n<testsuite name=\"greet\" tests=\"%d\" failures=\"%d\">\n",
          n, failures);
  for (int i = 0; i < n; ++i) {
    fprintf(out, "  <testcase classname=\"greet\" name=\"%s\" file=\"tests/greet_test.c\" line=\"%d\"",
            r[i].name, r[i].line);
    if (r[i].ok) {
      fprintf(out, "/>\n");
    } else {
      fprintf(out, "><failure message=\"%s\"/></testcase>\n", r[i].message);
    }
    printf("%s %s\n", r[i].ok ? "PASS" : "FAIL", r[i].name);
  }
  fprintf(out, "</testsuite>\n");
  fclose(out);
  return failures ? 1 : 0;
}
