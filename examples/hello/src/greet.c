/* greet: the example project boucle's demo builds, tests, releases and deploys.
 *   greet NAME                      prints a greeting
 *   greet serve PORT CONFIG VERSION answers HTTP on 127.0.0.1:PORT: "/" greets the name in
 *                                   CONFIG ("name=…"), "/health" says "OK VERSION" */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const char* greeting(const char* name) {
  static char buf[256];
  if (name == NULL || name[0] == '\0') name = "world";
  snprintf(buf, sizeof buf, "Bonjour, %s!", name);
  return buf;
}

/* What /health answers: the deploy's smoke check looks for "OK". */
const char* health(void) { return "OK"; }

#ifndef GREET_NO_MAIN
static void configured_name(const char* file, char* name, size_t size) {
  FILE* f = fopen(file, "r");
  char line[256];
  name[0] = '\0';
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "name=", 5) == 0) {
      snprintf(name, size, "%s", line + 5);
      name[strcspn(name, "\r\n")] = '\0';
    }
  }
  if (f) fclose(f);
}

static int serve(int port, const char* config, const char* version) {
  char name[128];
  configured_name(config, name, sizeof name);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr*)&a, sizeof a) != 0 || listen(s, 16) != 0) {
    perror("greet serve");
    return 1;
  }
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    char req[1024] = {0}, body[512], res[1024];
    ssize_t n = read(c, req, sizeof req - 1);
    (void)n;
    if (strncmp(req, "GET /health", 11) == 0) {
      snprintf(body, sizeof body, "%s %s\n", health(), version);
    } else {
      snprintf(body, sizeof body, "%s (version %s)\n", greeting(name), version);
    }
    int len = snprintf(res, sizeof res,
                       "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s",
                       strlen(body), body);
    if (write(c, res, (size_t)len) < 0) perror("greet serve");
    close(c);
  }
}

int main(int argc, char** argv) {
  if (argc == 5 && strcmp(argv[1], "serve") == 0) return serve(atoi(argv[2]), argv[3], argv[4]);
  puts(greeting(argc > 1 ? argv[1] : NULL));
  return 0;
}
#endif
